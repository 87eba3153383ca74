import type { BoundingBox, MatteFigures, MatteFlag } from '@mesh/contracts';
import { labelComponents } from './components.js';

/** Alpha at or above this counts as foreground (half of 255, rounded up). */
export const FOREGROUND_MIN = 128;
/** Alpha strictly inside (0.05, 0.95) of full scale is "uncertain": 13..242 on 8 bits. */
const UNCERTAIN_LOW = 0.05 * 255;
const UNCERTAIN_HIGH = 0.95 * 255;
/** A piece smaller than this share of the image is a speck: not counted as a piece. */
export const SPECK_FRACTION = 0.0005;
/** `full_frame`: at least this share of the image is foreground. */
export const FULL_FRAME_MIN = 0.99;
/** `fragmented`: at least this many pieces larger than a speck. */
export const FRAGMENTED_MIN_PIECES = 6;

/** Pieces smaller than this many pixels are specks, in an image of `pixels` pixels. */
export function speckPixels(pixels: number): number {
  return Math.max(1, Math.ceil(pixels * SPECK_FRACTION));
}

/**
 * Figures of one 8-bit alpha matte (one byte per pixel, `width` x `height`, row-major):
 * - `foreground_fraction`: share of pixels with alpha >= 128;
 * - `mean_alpha`: mean alpha on 0..1;
 * - `uncertain_fraction`: share of pixels with alpha/255 strictly between 0.05 and 0.95;
 * - `bbox`: the box around every foreground pixel (null when none);
 * - `components`: 8-connected pieces of the foreground larger than a speck (SPECK_FRACTION of the image);
 * - `flags`: `empty` (no piece), `full_frame` (foreground >= FULL_FRAME_MIN), `fragmented`
 *   (FRAGMENTED_MIN_PIECES pieces or more).
 * An empty matte gives zeros, since the event schema does not admit NaN.
 */
export function matteFigures(alpha: Uint8Array, width: number, height: number): MatteFigures {
  const n = alpha.length;
  if (n !== width * height) throw new RangeError(`matte of ${n} bytes is not ${width}x${height}`);
  if (n === 0) {
    return { foreground_fraction: 0, mean_alpha: 0, uncertain_fraction: 0, bbox: null, components: 0, flags: ['empty'] };
  }
  let foreground = 0;
  let uncertain = 0;
  let sum = 0;
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  const mask = new Uint8Array(n);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const a = alpha[row + x]!;
      sum += a;
      if (a > UNCERTAIN_LOW && a < UNCERTAIN_HIGH) uncertain++;
      if (a >= FOREGROUND_MIN) {
        foreground++;
        mask[row + x] = 1;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  const bbox: BoundingBox | null = x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
  let components = 0;
  if (foreground > 0) {
    const { count, sizes } = labelComponents(mask, width, height, 8);
    const speck = speckPixels(n);
    for (let c = 1; c <= count; c++) if (sizes[c]! >= speck) components++;
  }
  const foregroundFraction = foreground / n;
  const flags: MatteFlag[] = [];
  if (components === 0) flags.push('empty');
  if (foregroundFraction >= FULL_FRAME_MIN) flags.push('full_frame');
  if (components >= FRAGMENTED_MIN_PIECES) flags.push('fragmented');
  return {
    foreground_fraction: foregroundFraction,
    mean_alpha: sum / (255 * n),
    uncertain_fraction: uncertain / n,
    bbox,
    components,
    flags,
  };
}
