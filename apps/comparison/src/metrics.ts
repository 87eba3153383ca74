import type { GroundTruthMetrics, MattingErrors } from '@mesh/contracts';

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
  // The vertical window slides down every column at once, so memory is read row by row.
  const out = new Uint8Array(mask.length);
  const counts = new Int32Array(width);
  for (let y = 0; y < Math.min(radius, height); y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) counts[x] = counts[x]! + rows[row + x]!;
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    if (y + radius < height) {
      const add = (y + radius) * width;
      for (let x = 0; x < width; x++) counts[x] = counts[x]! + rows[add + x]!;
    }
    if (y - radius - 1 >= 0) {
      const remove = (y - radius - 1) * width;
      for (let x = 0; x < width; x++) counts[x] = counts[x]! - rows[remove + x]!;
    }
    for (let x = 0; x < width; x++) out[row + x] = counts[x]! > 0 ? 1 : 0;
  }
  return out;
}

/**
 * 1 where pixels of both of two kinds lie within `radius` (a square window, clipped to the image),
 * and how many such pixels. `kindOf[v]` gives a value's kinds: bit 1 for the first, bit 2 for the
 * second (both, one or neither).
 *
 * Along rows, each run of equal values spreads its kinds `radius` either side (each kind's spread
 * resumes where its last one ended, so the work stays linear); down the columns, window counts of
 * both kinds, packed in one integer (low and high 16 bits), slide a row at a time.
 */
export function nearBoth(values: Uint8Array, kindOf: Uint8Array, width: number, height: number, radius: number): { mask: Uint8Array; count: number } {
  if (2 * radius + 1 > 0xffff) throw new RangeError(`radius ${radius} is too large`);
  const rows = new Uint8Array(values.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let reachFirst = 0;
    let reachSecond = 0;
    let x = 0;
    while (x < width) {
      const v = values[row + x]!;
      const start = x++;
      while (x < width && values[row + x] === v) x++;
      const kind = kindOf[v]!;
      if (kind === 0) continue;
      const lo = Math.max(0, start - radius);
      const hi = Math.min(width, x + radius);
      if (kind & 1) {
        for (let i = Math.max(lo, reachFirst); i < hi; i++) rows[row + i] = rows[row + i]! | 1;
        reachFirst = hi;
      }
      if (kind & 2) {
        for (let i = Math.max(lo, reachSecond); i < hi; i++) rows[row + i] = rows[row + i]! | 2;
        reachSecond = hi;
      }
    }
  }
  const packed = (v: number) => (v & 1) | ((v & 2) << 15);
  const counts = new Int32Array(width);
  const mask = new Uint8Array(values.length);
  let count = 0;
  for (let y = 0; y < Math.min(radius, height); y++) {
    const at = y * width;
    for (let x = 0; x < width; x++) counts[x] = counts[x]! + packed(rows[at + x]!);
  }
  for (let y = 0; y < height; y++) {
    if (y + radius < height) {
      const at = (y + radius) * width;
      for (let x = 0; x < width; x++) counts[x] = counts[x]! + packed(rows[at + x]!);
    }
    if (y > radius) {
      const at = (y - radius - 1) * width;
      for (let x = 0; x < width; x++) counts[x] = counts[x]! - packed(rows[at + x]!);
    }
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const c = counts[x]!;
      const both = (c & 0xffff) !== 0 && c >>> 16 !== 0 ? 1 : 0;
      mask[row + x] = both;
      count += both;
    }
  }
  return { mask, count };
}

/** A matte value's kinds for the unknown band: 1 when not opaque foreground (< 255), 2 when not background (> 0). */
const TRIMAP_KINDS = Uint8Array.from({ length: 256 }, (_, v) => (v !== 255 ? 1 : 0) | (v !== 0 ? 2 : 0));

/**
 * The unknown band of a ground-truth matte, as a trimap's grey: every pixel that is not deep inside
 * the opaque foreground (alpha 255) nor deep inside the background (alpha 0), where "deep" means
 * the whole (2r+1)x(2r+1) window around it, clipped to the image, is of that kind. With r = 0 it is
 * exactly the pixels of partial alpha.
 */
export function unknownBand(gt: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  return nearBoth(gt, TRIMAP_KINDS, width, height, radius).mask;
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


/** Side of the square tiles the gradient is computed in; at least the filters' half-size. */
const TILE = 64;

/** The filters as the tile pass reads them, with scratch space for one tile. */
interface GradientFilter {
  half: number;
  g: Float64Array;
  dg: Float64Array;
  /** One tile and its margin of `half` on every side, borders replicated. */
  src: Float64Array;
  /** The tile's rows, with the margin's columns, after the vertical g and dg passes. */
  vg: Float64Array;
  vd: Float64Array;
  /** One row of the tile's two derivatives. */
  gx: Float64Array;
  gy: Float64Array;
}

function gradientFilter(sigma: number): GradientFilter {
  const { half, g, dg } = gradientKernel(sigma);
  if (half > TILE) throw new RangeError(`sigma ${sigma} needs filters wider than a ${TILE}-pixel tile`);
  const side = TILE + 2 * half;
  return { half, g, dg, src: new Float64Array(side * side), vg: new Float64Array(TILE * side), vd: new Float64Array(TILE * side), gx: new Float64Array(TILE), gy: new Float64Array(TILE) };
}

/**
 * Gradient magnitude (0..1 scale) of `alpha` over the tile at (x0, y0), tw x th, written row by row
 * into `out`. The filters factor as hx = g (down the rows) x dg (along a row) and hy its transpose,
 * convolved as out[i] = sum_m k[half + m] src[i - m]; g is even and dg odd, so each pass folds the
 * taps at +m and -m into one multiply. Works on 0..255 and scales once at the end.
 */
function tileGradient(alpha: Uint8Array, width: number, height: number, x0: number, y0: number, tw: number, th: number, f: GradientFilter, out: Float64Array): void {
  const { half, src } = f;
  const sw = tw + 2 * half;
  const sh = th + 2 * half;
  const inside = x0 >= half && x0 + tw + half <= width;
  for (let r = 0; r < sh; r++) {
    const row = Math.min(height - 1, Math.max(0, y0 - half + r)) * width;
    const at = r * sw;
    if (inside) src.set(alpha.subarray(row + x0 - half, row + x0 + tw + half), at);
    else for (let c = 0; c < sw; c++) src[at + c] = alpha[row + Math.min(width - 1, Math.max(0, x0 - half + c))]!;
  }
  if (half === 4) filterTile4(f, sw, tw, th, out);
  else filterTile(f, sw, tw, th, out);
}

/** The passes of tileGradient for any half-size. */
function filterTile(f: GradientFilter, sw: number, tw: number, th: number, out: Float64Array): void {
  const { half, g, dg, src, vg, vd, gx, gy } = f;
  const g0 = g[half]!;
  for (let r = 0; r < th; r++) {
    const at = r * sw;
    const mid = (r + half) * sw;
    for (let c = 0; c < sw; c++) {
      vg[at + c] = g0 * src[mid + c]!;
      vd[at + c] = 0;
    }
    for (let m = 1; m <= half; m++) {
      const gm = g[half + m]!;
      const dm = dg[half + m]!;
      const up = mid - m * sw;
      const down = mid + m * sw;
      for (let c = 0; c < sw; c++) {
        const a = src[up + c]!;
        const b = src[down + c]!;
        vg[at + c] = vg[at + c]! + gm * (a + b);
        vd[at + c] = vd[at + c]! + dm * (a - b);
      }
    }
  }
  for (let r = 0; r < th; r++) {
    const at = r * sw + half;
    for (let c = 0; c < tw; c++) {
      gx[c] = 0;
      gy[c] = g0 * vd[at + c]!;
    }
    for (let m = 1; m <= half; m++) {
      const gm = g[half + m]!;
      const dm = dg[half + m]!;
      for (let c = 0, i = at; c < tw; c++, i++) {
        gx[c] = gx[c]! + dm * (vg[i - m]! - vg[i + m]!);
        gy[c] = gy[c]! + gm * (vd[i - m]! + vd[i + m]!);
      }
    }
    const o = r * tw;
    // Not Math.hypot: it is several times slower in V8.
    for (let c = 0; c < tw; c++) out[o + c] = Math.sqrt(gx[c]! * gx[c]! + gy[c]! * gy[c]!) / 255;
  }
}

/** filterTile unrolled for the reference's half-size of 4 (sigma 1.4), summing in the same order. */
function filterTile4(f: GradientFilter, sw: number, tw: number, th: number, out: Float64Array): void {
  const { g, dg, src, vg, vd } = f;
  const [g0, g1, g2, g3, g4] = [g[4]!, g[5]!, g[6]!, g[7]!, g[8]!];
  const [d1, d2, d3, d4] = [dg[5]!, dg[6]!, dg[7]!, dg[8]!];
  const s1 = sw;
  const s2 = 2 * sw;
  const s3 = 3 * sw;
  const s4 = 4 * sw;
  for (let r = 0; r < th; r++) {
    const at = r * sw;
    for (let c = 0, p = at + s4; c < sw; c++, p++) {
      const a1 = src[p - s1]!;
      const b1 = src[p + s1]!;
      const a2 = src[p - s2]!;
      const b2 = src[p + s2]!;
      const a3 = src[p - s3]!;
      const b3 = src[p + s3]!;
      const a4 = src[p - s4]!;
      const b4 = src[p + s4]!;
      vg[at + c] = g0 * src[p]! + g1 * (a1 + b1) + g2 * (a2 + b2) + g3 * (a3 + b3) + g4 * (a4 + b4);
      vd[at + c] = 0 + d1 * (a1 - b1) + d2 * (a2 - b2) + d3 * (a3 - b3) + d4 * (a4 - b4);
    }
  }
  for (let r = 0; r < th; r++) {
    const o = r * tw;
    for (let c = 0, i = r * sw + 4; c < tw; c++, i++) {
      const gx = 0 + d1 * (vg[i - 1]! - vg[i + 1]!) + d2 * (vg[i - 2]! - vg[i + 2]!) + d3 * (vg[i - 3]! - vg[i + 3]!) + d4 * (vg[i - 4]! - vg[i + 4]!);
      const gy = g0 * vd[i]! + g1 * (vd[i - 1]! + vd[i + 1]!) + g2 * (vd[i - 2]! + vd[i + 2]!) + g3 * (vd[i - 3]! + vd[i + 3]!) + g4 * (vd[i - 4]! + vd[i + 4]!);
      out[o + c] = Math.sqrt(gx * gx + gy * gy) / 255;
    }
  }
}

/**
 * Per TILE x TILE tile of `alpha`: 1 where the tile and its margin of `half` pixels (clipped to the
 * image) hold one value, so every filter window of its pixels is constant and its gradient zero
 * (the reference's filters give rounding noise of ~1e-17 there).
 */
function flatTiles(alpha: Uint8Array, width: number, height: number, half: number): Uint8Array {
  const across = Math.ceil(width / TILE);
  const down = Math.ceil(height / TILE);
  const flat = new Uint8Array(across * down);
  for (let ty = 0; ty < down; ty++) {
    const top = Math.max(0, ty * TILE - half);
    const bottom = Math.min(height, (ty + 1) * TILE + half);
    for (let tx = 0; tx < across; tx++) {
      const left = Math.max(0, tx * TILE - half);
      const right = Math.min(width, (tx + 1) * TILE + half);
      const v = alpha[top * width + left]!;
      let same = true;
      for (let y = top; same && y < bottom; y++) {
        for (let p = y * width + left, end = y * width + right; p < end; p++) {
          if (alpha[p] !== v) {
            same = false;
            break;
          }
        }
      }
      flat[ty * across + tx] = same ? 1 : 0;
    }
  }
  return flat;
}

/** Gradient magnitude of an alpha (0..255) by Gaussian-derivative filters, on the 0..1 scale. */
export function gradientMagnitude(alpha: Uint8Array, width: number, height: number, sigma = GRADIENT_SIGMA): Float32Array {
  const f = gradientFilter(sigma);
  const out = new Float32Array(alpha.length);
  const tile = new Float64Array(TILE * TILE);
  for (let y0 = 0; y0 < height; y0 += TILE) {
    const th = Math.min(TILE, height - y0);
    for (let x0 = 0; x0 < width; x0 += TILE) {
      const tw = Math.min(TILE, width - x0);
      tileGradient(alpha, width, height, x0, y0, tw, th, f, tile);
      for (let r = 0; r < th; r++) out.set(tile.subarray(r * tw, (r + 1) * tw), (y0 + r) * width + x0);
    }
  }
  return out;
}

/**
 * Sum of (|grad pred| - |grad gt|)^2 over the image and over `band`. Tiles where both mattes are
 * flat (see flatTiles) are skipped, and a flat matte's side of a tile is taken as zero.
 */
function gradientError(pred: Uint8Array, gt: Uint8Array, band: Uint8Array, width: number, height: number): { whole: number; band: number } {
  const f = gradientFilter(GRADIENT_SIGMA);
  const flatPred = flatTiles(pred, width, height, f.half);
  const flatGt = flatTiles(gt, width, height, f.half);
  const across = Math.ceil(width / TILE);
  const magPred = new Float64Array(TILE * TILE);
  const magGt = new Float64Array(TILE * TILE);
  let whole = 0;
  let inBand = 0;
  for (let y0 = 0, ty = 0; y0 < height; y0 += TILE, ty++) {
    const th = Math.min(TILE, height - y0);
    for (let x0 = 0, tx = 0; x0 < width; x0 += TILE, tx++) {
      const t = ty * across + tx;
      if (flatPred[t] && flatGt[t]) continue;
      const tw = Math.min(TILE, width - x0);
      if (flatPred[t]) magPred.fill(0);
      else tileGradient(pred, width, height, x0, y0, tw, th, f, magPred);
      if (flatGt[t]) magGt.fill(0);
      else tileGradient(gt, width, height, x0, y0, tw, th, f, magGt);
      for (let r = 0; r < th; r++) {
        const row = (y0 + r) * width + x0;
        for (let c = 0, i = r * tw; c < tw; c++, i++) {
          const e = (magPred[i]! - magGt[i]!) ** 2;
          whole += e;
          if (band[row + c]) inBand += e;
        }
      }
    }
  }
  return { whole, band: inBand };
}

/** The thresholds of the connectivity error, least[i] for t = i x 0.1: the least 8-bit v with v/255 >= t. */
function connectivityThresholds(): Uint8Array {
  const steps = Math.round(1 / CONN_STEP);
  const least = new Uint8Array(steps + 1);
  for (let i = 1; i <= steps; i++) {
    const t = i * CONN_STEP;
    let v = 0;
    while (v <= 255 && v / 255 < t) v++;
    if (v > 255) throw new RangeError(`connectivity threshold ${t} is above 1`);
    least[i] = v;
  }
  return least;
}

/** A copy of `a` with room for `size` entries. */
function grow(a: Int32Array, size: number): Int32Array {
  const b = new Int32Array(size);
  b.set(a);
  return b;
}

function findRoot(parent: Int32Array, x: number): number {
  let root = x;
  while (parent[root] !== root) root = parent[root]!;
  while (parent[x] !== root) {
    const next = parent[x]!;
    parent[x] = root;
    x = next;
  }
  return root;
}

/** Merge the pieces of a and b; the smaller index stays the root (the piece's first segment). */
function join(parent: Int32Array, size: Float64Array, a: number, b: number): void {
  const ra = findRoot(parent, a);
  const rb = findRoot(parent, b);
  if (ra < rb) {
    parent[rb] = ra;
    size[ra] = size[ra]! + size[rb]!;
  } else if (rb < ra) {
    parent[ra] = rb;
    size[rb] = size[rb]! + size[ra]!;
  }
}

/**
 * Per pixel, k in 0..10: the number of thresholds t = 0.1, 0.2, ... in a row, from the lowest, at
 * which the pixel belongs to the largest 4-connected piece of (pred >= t and gt >= t); its
 * connectivity level l is then k x 0.1 (1 for k = 10). Ties between pieces go to the one whose first
 * pixel comes first in raster order, as a raster labelling numbers them.
 *
 * Each row is cut once into segments of equal "depth" (how many thresholds min(pred, gt) passes);
 * a segment lies in one piece at every threshold it passes, so each threshold is a union-find over
 * segments, not pixels, and k is found per segment. Mattes are long runs, so segments are few.
 */
export function connectivityLevels(pred: Uint8Array, gt: Uint8Array, width: number, height: number): Uint8Array {
  const least = connectivityThresholds();
  const steps = least.length - 1;
  const depthOf = new Uint8Array(256);
  for (let v = 0; v < 256; v++) for (let i = 1; i <= steps; i++) if (v >= least[i]!) depthOf[v] = i;
  let capacity = 1024;
  let start: Int32Array = new Int32Array(capacity);
  let end: Int32Array = new Int32Array(capacity);
  let depth: Int32Array = new Int32Array(capacity);
  const rowFirst = new Int32Array(height + 1);
  let count = 0;
  for (let y = 0; y < height; y++) {
    rowFirst[y] = count;
    const row = y * width;
    let x = 0;
    while (x < width) {
      const a = pred[row + x]!;
      const b = gt[row + x]!;
      const d = depthOf[a < b ? a : b]!;
      const from = x++;
      while (x < width) {
        const a2 = pred[row + x]!;
        const b2 = gt[row + x]!;
        if ((a2 !== a || b2 !== b) && depthOf[a2 < b2 ? a2 : b2] !== d) break;
        x++;
      }
      if (d === 0) continue;
      if (count === capacity) {
        capacity *= 2;
        [start, end, depth] = [grow(start, capacity), grow(end, capacity), grow(depth, capacity)];
      }
      start[count] = from;
      end[count] = x;
      depth[count] = d;
      count++;
    }
  }
  rowFirst[height] = count;

  const parent = new Int32Array(count);
  const size = new Float64Array(count);
  const kept = new Uint8Array(count);
  for (let i = 1; i <= steps; i++) {
    for (let s = 0; s < count; s++) {
      parent[s] = s;
      size[s] = end[s]! - start[s]!;
    }
    for (let y = 0; y < height; y++) {
      const first = rowFirst[y]!;
      const last = rowFirst[y + 1]!;
      let j = y > 0 ? rowFirst[y - 1]! : first;
      for (let s = first; s < last; s++) {
        if (depth[s]! < i) continue;
        if (s > first && depth[s - 1]! >= i && end[s - 1] === start[s]) join(parent, size, s - 1, s);
        // Segments of the row above that overlap this one (4-connectivity).
        while (j < first && end[j]! <= start[s]!) j++;
        for (let t = j; t < first && start[t]! < end[s]!; t++) if (depth[t]! >= i) join(parent, size, t, s);
      }
    }
    let largest = -1;
    for (let s = 0; s < count; s++) {
      if (depth[s]! >= i && parent[s] === s && (largest < 0 || size[s]! > size[largest]!)) largest = s;
    }
    if (largest < 0) break;
    for (let s = 0; s < count; s++) {
      if (kept[s] === i - 1 && depth[s]! >= i && findRoot(parent, s) === largest) kept[s] = i;
    }
  }
  const levels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let s = rowFirst[y]!; s < rowFirst[y + 1]!; s++) if (kept[s]) levels.fill(kept[s]!, row + start[s]!, row + end[s]!);
  }
  return levels;
}

/**
 * phi(alpha) per (alpha, k) as table[alpha * 11 + k], k from connectivityLevels: 1 - d where
 * d = alpha/255 - l >= 0.15, else 1. l and phi are rounded to single precision, as stored so far.
 */
function phiTable(): Float64Array {
  const steps = Math.round(1 / CONN_STEP);
  const table = new Float64Array(256 * (steps + 1));
  for (let a = 0; a < 256; a++) {
    for (let k = 0; k <= steps; k++) {
      const l = k === steps ? 1 : Math.fround(k * CONN_STEP);
      const d = a / 255 - l;
      table[a * (steps + 1) + k] = Math.fround(1 - (d >= CONN_THETA ? d : 0));
    }
  }
  return table;
}

/**
 * phi of the connectivity error for prediction and ground truth. l(p) is the last threshold at
 * which p still belonged to the largest 4-connected piece of (pred >= t and gt >= t); as in the
 * MATLAB reference, the largest piece of the foreground (a Python port's bincount also counts the
 * background as a piece, which we do not follow).
 */
export function connectivityPhi(pred: Uint8Array, gt: Uint8Array, width: number, height: number): { pred: Float32Array; gt: Float32Array } {
  const levels = connectivityLevels(pred, gt, width, height);
  const table = phiTable();
  const stride = Math.round(1 / CONN_STEP) + 1;
  const phi = (alpha: Uint8Array) => Float32Array.from(alpha, (a, p) => table[a * stride + levels[p]!]!);
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
  const { mask: band, count: bandPixels } = nearBoth(gt, TRIMAP_KINDS, width, height, bandRadius);
  const grad = gradientError(pred, gt, band, width, height);
  const levels = connectivityLevels(pred, gt, width, height);
  const table = phiTable();
  const stride = Math.round(1 / CONN_STEP) + 1;
  let wholeSad = 0;
  let wholeSq = 0;
  let wholeConn = 0;
  let bandSad = 0;
  let bandSq = 0;
  let bandConn = 0;
  // Four pixels at a time where both mattes are 4-byte aligned, to pass over long stretches where they agree.
  const aligned = pred.byteOffset % 4 === 0 && gt.byteOffset % 4 === 0;
  const pred32 = aligned ? new Uint32Array(pred.buffer, pred.byteOffset, n >>> 2) : new Uint32Array(0);
  const gt32 = aligned ? new Uint32Array(gt.buffer, gt.byteOffset, n >>> 2) : new Uint32Array(0);
  // Raster order, as before; a pixel where the mattes agree adds exact zeros, so it is skipped.
  for (let p = 0; p < n; p++) {
    if ((p & 3) === 0 && p >>> 2 < pred32.length && pred32[p >>> 2] === gt32[p >>> 2]) {
      p += 3;
      continue;
    }
    const a = pred[p]!;
    const b = gt[p]!;
    if (a === b) continue;
    const inBand = band[p]!;
    const diff = (a > b ? a - b : b - a) / 255;
    const sq = diff * diff;
    const k = levels[p]!;
    const conn = Math.abs(table[a * stride + k]! - table[b * stride + k]!);
    wholeSad += diff;
    wholeSq += sq;
    wholeConn += conn;
    if (inBand) {
      bandSad += diff;
      bandSq += sq;
      bandConn += conn;
    }
  }
  const scaled = (sad: number, sq: number, grad: number, conn: number, pixels: number): MattingErrors => ({
    sad: sad / 1000,
    mse: pixels > 0 ? (sq / pixels) * 1e3 : 0,
    grad: grad / 1000,
    conn: conn / 1000,
  });
  return {
    whole: scaled(wholeSad, wholeSq, grad.whole, wholeConn, n),
    unknown: scaled(bandSad, bandSq, grad.band, bandConn, bandPixels),
    unknown_pixels: bandPixels,
    band_radius: bandRadius,
  };
}
