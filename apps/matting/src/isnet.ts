/** ISNet's fixed side: it takes [1, 3, 1024, 1024] floats and returns a [1, 1, 1024, 1024] matte. */
export const MODEL_SIZE = 1024;
