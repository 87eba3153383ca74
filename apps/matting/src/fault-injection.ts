/**
 * Test-only fault injection (`MATTING_FAULT_INJECTION`, never set in production): makes the
 * worker fail chosen images with the error onnxruntime raises when an allocation fails, so the
 * retry and dead-letter paths run for real. The value is `name=N[,name=N...]`, where `name` is a
 * chunk's name in the upload (e.g. `photos/coffee.png`) and N how many attempts of it fail in
 * this process before it is left alone.
 */
export type FaultInjector = (chunkName: string) => void;

/** onnxruntime's message for a failed CPU arena allocation. */
export const ORT_ALLOCATION_FAILURE =
  '[ErrorCode:RuntimeException] Failed to allocate memory for requested buffer of size 4194304 (injected by MATTING_FAULT_INJECTION)';

/** Parse the setting; an empty one injects nothing. A malformed one throws at start-up. */
export function parseFaultInjection(spec: string | undefined): FaultInjector | undefined {
  if (!spec) return undefined;
  const remaining = new Map<string, number>();
  for (const part of spec.split(',')) {
    const m = /^(.+)=(\d+)$/.exec(part.trim());
    if (!m) throw new Error(`MATTING_FAULT_INJECTION: expected name=N, got "${part}"`);
    remaining.set(m[1]!, Number(m[2]));
  }
  return (chunkName) => {
    const left = remaining.get(chunkName) ?? 0;
    if (left <= 0) return;
    remaining.set(chunkName, left - 1);
    throw new Error(ORT_ALLOCATION_FAILURE);
  };
}
