import type { GroundTruthMetrics, MattingErrors } from '@mesh/contracts';
import { labelComponents } from './components.js';

/**
 * The matting errors of Deep Image Matting (Xu et al., CVPR 2017; its MATLAB evaluation code, as
 * used by Composition-1k and AIM-500), alphas on 0..1:
 * - SAD: sum |pred - gt|, reported / 1000;
 * - MSE: mean (pred - gt)^2 over the region, reported x 1e3;
 * - gradient: sum (|grad pred| - |grad gt|)^2, derivatives of a Gaussian with sigma 1.4, / 1000;
 * - connectivity: sum |phi(pred) - phi(gt)| with threshold step 0.1 and theta 0.15, / 1000.
 */

/** Sigma of the Gaussian-derivative filters of the gradient error. */
export const GRADIENT_SIGMA = 1.4;
/** Threshold step and the minimum distance counted by the connectivity error. */
const CONN_STEP = 0.1;
const CONN_THETA = 0.15;

/** Default half-width of the unknown band: 1% of the image's longest side, at least 1 px. */
export function defaultBandRadius(width: number, height: number): number {
  return Math.max(1, Math.round(0.01 * Math.max(width, height)));
}

/** 1 where a pixel within `radius` (a square window, clipped to the image) is set in `mask`. */
export function dilate(mask: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  if (radius === 0) return mask.slice();
  const rows = new Uint8Array(mask.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let count = 0;
    for (let x = 0; x < Math.min(radius, width); x++) count += mask[row + x]!;
    for (let x = 0; x < width; x++) {
      if (x + radius < width) count += mask[row + x + radius]!;
      if (x - radius - 1 >= 0) count -= mask[row + x - radius - 1]!;
      rows[row + x] = count > 0 ? 1 : 0;
    }
  }
  const out = new Uint8Array(mask.length);
  for (let x = 0; x < width; x++) {
    let count = 0;
    for (let y = 0; y < Math.min(radius, height); y++) count += rows[y * width + x]!;
    for (let y = 0; y < height; y++) {
      if (y + radius < height) count += rows[(y + radius) * width + x]!;
      if (y - radius - 1 >= 0) count -= rows[(y - radius - 1) * width + x]!;
      out[y * width + x] = count > 0 ? 1 : 0;
    }
  }
  return out;
}

/**
 * The unknown band of a ground-truth matte, as a trimap's grey: every pixel that is not deep inside
 * the opaque foreground (alpha 255) nor deep inside the background (alpha 0), where "deep" means
 * the whole (2r+1)x(2r+1) window around it, clipped to the image, is of that kind. With r = 0 it is
 * exactly the pixels of partial alpha.
 */
export function unknownBand(gt: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  const notForeground = new Uint8Array(gt.length);
  const notBackground = new Uint8Array(gt.length);
  for (let i = 0; i < gt.length; i++) {
    notForeground[i] = gt[i] !== 255 ? 1 : 0;
    notBackground[i] = gt[i] !== 0 ? 1 : 0;
  }
  const a = dilate(notForeground, width, height, radius);
  const b = dilate(notBackground, width, height, radius);
  for (let i = 0; i < a.length; i++) a[i] = a[i]! & b[i]!;
  return a;
}

const gauss = (x: number, sigma: number) => Math.exp(-(x * x) / (2 * sigma * sigma)) / (sigma * Math.sqrt(2 * Math.PI));
const dgauss = (x: number, sigma: number) => (-x * gauss(x, sigma)) / (sigma * sigma);

/**
 * The reference code's filters: half-size ceil(sigma sqrt(-2 ln(sqrt(2 pi) sigma 0.01))) (4 for
 * sigma 1.4), hx(i, j) = g(i) dg(j) scaled to unit Frobenius norm, returned as its two 1-D factors.
 */
export function gradientKernel(sigma: number): { half: number; g: Float64Array; dg: Float64Array } {
  const epsilon = 1e-2;
  const half = Math.ceil(sigma * Math.sqrt(-2 * Math.log(Math.sqrt(2 * Math.PI) * sigma * epsilon)));
  const size = 2 * half + 1;
  const g = new Float64Array(size);
  const dg = new Float64Array(size);
  for (let k = 0; k < size; k++) {
    g[k] = gauss(k - half, sigma);
    dg[k] = dgauss(k - half, sigma);
  }
  // hx(i, j) = g(i) dg(j) is normalised by its Frobenius norm, which factors into the two 1-D norms.
  let sg = 0;
  let sdg = 0;
  for (let k = 0; k < size; k++) {
    sg += g[k]! * g[k]!;
    sdg += dg[k]! * dg[k]!;
  }
  const norm = Math.sqrt(sg * sdg);
  for (let k = 0; k < size; k++) g[k] = g[k]! / Math.sqrt(norm);
  for (let k = 0; k < size; k++) dg[k] = dg[k]! / Math.sqrt(norm);
  return { half, g, dg };
}

/** 1-D convolution along rows (`horizontal`) or columns, borders replicated (MATLAB 'replicate'). */
function convolve(src: Float32Array, width: number, height: number, kernel: Float64Array, half: number, horizontal: boolean): Float32Array {
  const out = new Float32Array(src.length);
  const size = kernel.length;
  // out[i] = sum_k kernel[k] src[i + half - k] along the chosen direction.
  if (horizontal) {
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let x = 0; x < width; x++) {
        let s = 0;
        if (x >= half && x + half < width) {
          for (let k = 0, at = row + x + half; k < size; k++, at--) s += kernel[k]! * src[at]!;
        } else {
          for (let k = 0; k < size; k++) s += kernel[k]! * src[row + Math.min(width - 1, Math.max(0, x + half - k))]!;
        }
        out[row + x] = s;
      }
    }
  } else {
    // Whole rows at a time, so memory is read in order.
    for (let y = 0; y < height; y++) {
      const row = y * width;
      for (let k = 0; k < size; k++) {
        const from = Math.min(height - 1, Math.max(0, y + half - k)) * width;
        const w = kernel[k]!;
        for (let x = 0; x < width; x++) out[row + x] = out[row + x]! + w * src[from + x]!;
      }
    }
  }
  return out;
}

/** Gradient magnitude of an alpha (0..255) by Gaussian-derivative filters, on the 0..1 scale. */
export function gradientMagnitude(alpha: Uint8Array, width: number, height: number, sigma = GRADIENT_SIGMA): Float32Array {
  const { half, g, dg } = gradientKernel(sigma);
  const im = new Float32Array(alpha.length);
  for (let i = 0; i < alpha.length; i++) im[i] = alpha[i]! / 255;
  // hx = g (down the rows) x dg (along a row); hy is its transpose.
  const gx = convolve(convolve(im, width, height, g, half, false), width, height, dg, half, true);
  const gy = convolve(convolve(im, width, height, dg, half, false), width, height, g, half, true);
  // Not Math.hypot: it is several times slower in V8.
  for (let i = 0; i < gx.length; i++) gx[i] = Math.sqrt(gx[i]! * gx[i]! + gy[i]! * gy[i]!);
  return gx;
}

/**
 * phi of the connectivity error for prediction and ground truth. l(p) is the last threshold at
 * which p still belonged to the largest 4-connected piece of (pred >= t and gt >= t); as in the
 * MATLAB reference, the largest piece of the foreground (a Python port's bincount also counts the
 * background as a piece, which we do not follow).
 */
export function connectivityPhi(pred: Uint8Array, gt: Uint8Array, width: number, height: number): { pred: Float32Array; gt: Float32Array } {
  const n = pred.length;
  const level = new Float32Array(n).fill(-1);
  const mask = new Uint8Array(n);
  // pred/255 >= t and gt/255 >= t  <=>  min(pred, gt) >= the least 8-bit value v with v/255 >= t.
  const lower = new Uint8Array(n);
  for (let p = 0; p < n; p++) lower[p] = Math.min(pred[p]!, gt[p]!);
  const steps = Math.round(1 / CONN_STEP);
  for (let i = 1; i <= steps; i++) {
    const t = i * CONN_STEP;
    const previous = (i - 1) * CONN_STEP;
    let least = 0;
    while (least <= 255 && least / 255 < t) least++;
    for (let p = 0; p < n; p++) mask[p] = lower[p]! >= least ? 1 : 0;
    const { labels, count, sizes } = labelComponents(mask, width, height, 4);
    let largest = 0;
    for (let c = 1; c <= count; c++) if (sizes[c]! > (largest ? sizes[largest]! : 0)) largest = c;
    for (let p = 0; p < n; p++) if (level[p] === -1 && (largest === 0 || labels[p] !== largest)) level[p] = previous;
  }
  const phi = (alpha: Uint8Array) => {
    const out = new Float32Array(n);
    for (let p = 0; p < n; p++) {
      const l = level[p] === -1 ? 1 : level[p]!;
      const d = alpha[p]! / 255 - l;
      out[p] = 1 - (d >= CONN_THETA ? d : 0);
    }
    return out;
  };
  return { pred: phi(pred), gt: phi(gt) };
}

/**
 * Every error of `pred` against `gt` (8-bit mattes of `width` x `height`), over the whole image and
 * over the unknown band of half-width `bandRadius` around the ground truth's edge.
 */
export function groundTruthMetrics(
  pred: Uint8Array,
  gt: Uint8Array,
  width: number,
  height: number,
  bandRadius = defaultBandRadius(width, height),
): GroundTruthMetrics {
  const n = width * height;
  if (pred.length !== n || gt.length !== n) throw new RangeError(`mattes must both be ${width}x${height}`);
  const band = unknownBand(gt, width, height, bandRadius);
  const gradPred = gradientMagnitude(pred, width, height);
  const gradGt = gradientMagnitude(gt, width, height);
  const phi = connectivityPhi(pred, gt, width, height);
  const sums = { whole: { sad: 0, sq: 0, grad: 0, conn: 0, n }, unknown: { sad: 0, sq: 0, grad: 0, conn: 0, n: 0 } };
  for (let p = 0; p < n; p++) {
    const diff = Math.abs(pred[p]! - gt[p]!) / 255;
    const grad = (gradPred[p]! - gradGt[p]!) ** 2;
    const conn = Math.abs(phi.pred[p]! - phi.gt[p]!);
    for (const s of band[p] ? [sums.whole, sums.unknown] : [sums.whole]) {
      s.sad += diff;
      s.sq += diff * diff;
      s.grad += grad;
      s.conn += conn;
    }
    if (band[p]) sums.unknown.n++;
  }
  const scaled = (s: typeof sums.whole): MattingErrors => ({
    sad: s.sad / 1000,
    mse: s.n > 0 ? (s.sq / s.n) * 1e3 : 0,
    grad: s.grad / 1000,
    conn: s.conn / 1000,
  });
  return { whole: scaled(sums.whole), unknown: scaled(sums.unknown), unknown_pixels: sums.unknown.n, band_radius: bandRadius };
}
