import { PermanentError, RetryableError } from '@mesh/contracts';

// What allocation failures look like in the native code the worker runs: onnxruntime's CPU arena
// ("Failed to allocate memory for requested buffer of size ..."), a C++ std::bad_alloc, the CUDA
// provider (cudaMalloc / CUDA_ERROR_OUT_OF_MEMORY, cuBLAS and cuDNN workspaces, "CUDA out of
// memory"), libvips (vips_malloc) and the OS (ENOMEM).
const OUT_OF_MEMORY: readonly RegExp[] = [
  /failed to allocate memory/i,
  /bad_alloc/i,
  /out of memory/i,
  /CUDA_ERROR_OUT_OF_MEMORY/i,
  /cudaErrorMemoryAllocation/i,
  /(CUBLAS|CUDNN)_STATUS_ALLOC_FAILED/i,
  /vips_malloc/i,
  /cannot allocate memory/i,
  /\bENOMEM\b/,
];

function messagesOf(err: unknown): string[] {
  const out: string[] = [];
  // The cause chain too, since wrappers may hide the runtime's text one level down.
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    out.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return out;
}

/** True when the error (or one of its causes) is an allocation failure of the CPU, the GPU or the OS. */
export function isOutOfMemory(err: unknown): boolean {
  return messagesOf(err).some((m) => OUT_OF_MEMORY.some((re) => re.test(m)));
}

const describe = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Classify a failure of the model run. The input was built by this worker with a fixed shape and
 * finite values, so nothing about the image can make it fail: every run failure is retryable.
 * - An allocation failure (CPU arena, bad_alloc, CUDA out of memory) says the worker is short of
 *   memory right now (other inferences, a big decode); another delivery after the back-off, maybe on
 *   another worker, usually succeeds.
 * - Any other runtime failure (a driver error, a broken session) is also retried, so a chunk is not
 *   lost to one bad worker; it fails as `exhausted` with the runtime's message after MAX_DELIVER.
 * Errors that are already classified pass through unchanged.
 */
export function classifyInferenceError(err: unknown): RetryableError | PermanentError {
  if (err instanceof RetryableError || err instanceof PermanentError) return err;
  if (isOutOfMemory(err)) {
    return new RetryableError(`out of memory during inference (will retry): ${describe(err)}`, { cause: err });
  }
  return new RetryableError(`inference failed: ${describe(err)}`, { cause: err });
}
