/** Bad input that no retry can fix (corrupt image, invalid event): dead-letter at once. */
export class PermanentError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** A consumed message did not match its schema. */
export class InvalidEventError extends PermanentError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidEventError';
  }
}

/** The image cannot be decoded or is not a supported format. */
export class UnsupportedImageError extends PermanentError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnsupportedImageError';
  }
}

/** A transient failure (out of memory, a store hiccup): retry with a back-off. */
export class RetryableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RetryableError';
  }
}

/** An object a chunk refers to is missing from the object store. */
export class ObjectMissingError extends PermanentError {
  constructor(name: string) {
    super(`object ${name} is missing from the object store`);
    this.name = 'ObjectMissingError';
  }
}

/** An upload was refused; `status` is the HTTP status to answer with. */
export class UploadRejectedError extends Error {
  constructor(
    message: string,
    readonly status: number = 400,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'UploadRejectedError';
  }
}
