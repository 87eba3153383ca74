import type { MatteFigures } from '@mesh/contracts';

/** Alpha at or above this counts as foreground (half of 255, rounded up). */
const FOREGROUND_MIN = 128;
/** Alpha strictly inside (0.05, 0.95) of full scale is "uncertain": 13..242 on 8 bits. */
const UNCERTAIN_LOW = 0.05 * 255;
const UNCERTAIN_HIGH = 0.95 * 255;

/**
 * Figures of one 8-bit alpha matte (one byte per pixel):
 * - `foreground_fraction`: share of pixels with alpha >= 128;
 * - `mean_alpha`: mean alpha on 0..1;
 * - `uncertain_fraction`: share of pixels with alpha/255 strictly between 0.05 and 0.95.
 * An empty matte gives zeros, since the event schema does not admit NaN.
 */
export function matteFigures(alpha: Uint8Array): MatteFigures {
  const n = alpha.length;
  if (n === 0) return { foreground_fraction: 0, mean_alpha: 0, uncertain_fraction: 0 };
  let foreground = 0;
  let uncertain = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const a = alpha[i]!;
    sum += a;
    if (a >= FOREGROUND_MIN) foreground++;
    if (a > UNCERTAIN_LOW && a < UNCERTAIN_HIGH) uncertain++;
  }
  return {
    foreground_fraction: foreground / n,
    mean_alpha: sum / (255 * n),
    uncertain_fraction: uncertain / n,
  };
}
