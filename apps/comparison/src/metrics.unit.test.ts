import assert from 'node:assert/strict';
import {
  connectivityPhi,
  defaultBandRadius,
  gradientKernel,
  gradientMagnitude,
  groundTruthMetrics,
  unknownBand,
} from './metrics.js';
import { labelComponents } from './components.js';

const close = (actual: number, expected: number, what: string, tolerance = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: expected ${expected}, got ${actual}`);

/** Naive transcription of the reference gaussgradient: the full 2-D kernel, 'nearest' borders. */
function referenceGradient(alpha: Uint8Array, width: number, height: number, sigma = 1.4): number[] {
  const gauss = (x: number) => Math.exp(-(x * x) / (2 * sigma * sigma)) / (sigma * Math.sqrt(2 * Math.PI));
  const dgauss = (x: number) => (-x * gauss(x)) / (sigma * sigma);
  const half = Math.ceil(sigma * Math.sqrt(-2 * Math.log(Math.sqrt(2 * Math.PI) * sigma * 1e-2)));
  const size = 2 * half + 1;
  const hx: number[][] = [];
  for (let i = 0; i < size; i++) hx.push(Array.from({ length: size }, (_, j) => gauss(i - half) * dgauss(j - half)));
  const norm = Math.sqrt(hx.flat().reduce((s, v) => s + v * v, 0));
  const at = (x: number, y: number) => alpha[Math.min(height - 1, Math.max(0, y)) * width + Math.min(width - 1, Math.max(0, x))]! / 255;
  const out: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let gx = 0;
      let gy = 0;
      for (let i = 0; i < size; i++) {
        for (let j = 0; j < size; j++) {
          // scipy.ndimage.convolve: out[y, x] = sum w[i, j] in[y + half - i, x + half - j]; hy = hx'.
          gx += (hx[i]![j]! / norm) * at(x + half - j, y + half - i);
          gy += (hx[j]![i]! / norm) * at(x + half - j, y + half - i);
        }
      }
      out.push(Math.hypot(gx, gy));
    }
  }
  return out;
}

/**
 * The metrics straight from their definitions, pixel by pixel: the 2-D gradient above, the band by
 * scanning each window, and the connectivity levels by labelling the intersection afresh at each
 * threshold (l and phi kept in single precision, as the stage has always stored them).
 */
function referenceMetrics(pred: Uint8Array, gt: Uint8Array, width: number, height: number, radius: number) {
  const n = width * height;
  const band = new Uint8Array(n);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let notFg = false;
      let notBg = false;
      for (let v = Math.max(0, y - radius); v <= Math.min(height - 1, y + radius); v++) {
        for (let u = Math.max(0, x - radius); u <= Math.min(width - 1, x + radius); u++) {
          notFg ||= gt[v * width + u] !== 255;
          notBg ||= gt[v * width + u] !== 0;
        }
      }
      band[y * width + x] = notFg && notBg ? 1 : 0;
    }
  }
  const gradPred = referenceGradient(pred, width, height);
  const gradGt = referenceGradient(gt, width, height);
  const level = new Float32Array(n).fill(-1);
  for (let i = 1; i <= 10; i++) {
    const t = i * 0.1;
    const mask = Uint8Array.from({ length: n }, (_, p) => (pred[p]! / 255 >= t && gt[p]! / 255 >= t ? 1 : 0));
    const { labels, count, sizes } = labelComponents(mask, width, height, 4);
    let largest = 0;
    for (let c = 1; c <= count; c++) if (sizes[c]! > (largest ? sizes[largest]! : 0)) largest = c;
    for (let p = 0; p < n; p++) if (level[p] === -1 && (largest === 0 || labels[p] !== largest)) level[p] = (i - 1) * 0.1;
  }
  const phi = (a: number, p: number) => {
    const d = a / 255 - (level[p] === -1 ? 1 : level[p]!);
    return Math.fround(1 - (d >= 0.15 ? d : 0));
  };
  const sums = [0, 1].map(() => ({ sad: 0, sq: 0, grad: 0, conn: 0, n: 0 }));
  for (let p = 0; p < n; p++) {
    const diff = Math.abs(pred[p]! - gt[p]!) / 255;
    for (const s of band[p] ? sums : [sums[0]!]) {
      s.sad += diff;
      s.sq += diff * diff;
      s.grad += (gradPred[p]! - gradGt[p]!) ** 2;
      s.conn += Math.abs(phi(pred[p]!, p) - phi(gt[p]!, p));
      s.n++;
    }
  }
  const scaled = (s: (typeof sums)[number]) => ({ sad: s.sad / 1000, mse: s.n ? (s.sq / s.n) * 1e3 : 0, grad: s.grad / 1000, conn: s.conn / 1000 });
  return { whole: scaled(sums[0]!), unknown: scaled(sums[1]!), unknown_pixels: sums[1]!.n };
}

/** A reproducible matte: soft-edged discs on a background, optionally with uniform noise. */
function randomMatte(width: number, height: number, seed: number, noise: boolean): Uint8Array {
  let state = seed;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const discs = Array.from({ length: 6 }, () => ({ x: random() * width, y: random() * height, r: 5 + random() * 40, soft: 1 + random() * 8 }));
  return Uint8Array.from({ length: width * height }, (_, p) => {
    if (noise) return Math.floor(random() * 256);
    const [x, y] = [p % width, Math.floor(p / width)];
    let alpha = 0;
    for (const d of discs) alpha = Math.max(alpha, Math.min(1, Math.max(0, (d.r - Math.hypot(x - d.x, y - d.y)) / d.soft)));
    return Math.round(alpha * 255);
  });
}

describe('ground-truth metrics', () => {
  it('is zero everywhere for a perfect prediction', () => {
    const gt = Uint8Array.from({ length: 36 }, (_, i) => (i % 6 < 3 ? 255 : i % 6 === 3 ? 100 : 0));
    const m = groundTruthMetrics(gt, gt, 6, 6, 1);
    assert.deepEqual(m.whole, { sad: 0, mse: 0, grad: 0, conn: 0 });
    assert.deepEqual(m.unknown, { sad: 0, mse: 0, grad: 0, conn: 0 });
  });

  it('computes SAD/1000, MSE x 1e3 and the connectivity error of one missed pixel by hand', () => {
    // gt all opaque (2x2); the prediction drops the bottom-right pixel.
    // SAD = 1 -> 0.001. MSE = 1/4 -> 250.
    // Connectivity: that pixel leaves the largest piece at t = 0.1, so l = 0 there, 1 elsewhere;
    // phi(gt) = 1 - (1 - 0) = 0 and phi(pred) = 1 - 0 = 1 there, equal elsewhere: 1 -> 0.001.
    const m = groundTruthMetrics(Uint8Array.from([255, 255, 255, 0]), Uint8Array.from([255, 255, 255, 255]), 2, 2, 0);
    close(m.whole.sad, 0.001, 'SAD');
    close(m.whole.mse, 250, 'MSE');
    close(m.whole.conn, 0.001, 'connectivity');
  });

  it('measures SAD and MSE on 0..1 alphas: 51 levels off on half of 4 pixels', () => {
    // |diff| = 0.2 on two pixels: SAD = 0.4 -> 0.0004; MSE = 2 * 0.04 / 4 = 0.02 -> 20.
    const m = groundTruthMetrics(Uint8Array.from([51, 51, 0, 0]), new Uint8Array(4), 2, 2, 0);
    close(m.whole.sad, 0.0004, 'SAD');
    close(m.whole.mse, 20, 'MSE', 1e-9);
  });

  it('keeps only the largest 4-connected piece in the connectivity error', () => {
    // 1x4, gt opaque, pred [1, 1, 0, 1]: the largest piece is pixels 0-1, so l = [1, 1, 0, 0].
    // phi(pred) = [1, 1, 1, 0], phi(gt) = [1, 1, 0, 0]: error 1 at pixel 2 only -> 0.001.
    const pred = Uint8Array.from([255, 255, 0, 255]);
    const gt = Uint8Array.from([255, 255, 255, 255]);
    const phi = connectivityPhi(pred, gt, 4, 1);
    assert.deepEqual([...phi.pred], [1, 1, 1, 0]);
    assert.deepEqual([...phi.gt], [1, 1, 0, 0]);
    close(groundTruthMetrics(pred, gt, 4, 1, 0).whole.conn, 0.001, 'connectivity');
  });

  it('counts a partial alpha in the connectivity error only past the 0.15 distance', () => {
    // gt [1, 1], pred [1, 128/255]: pixel 1 leaves the piece at t = 0.6, so l = 0.5.
    // phi(pred) = 1 (0.502 - 0.5 < 0.15), phi(gt) = 1 - 0.5 = 0.5: error 0.5 -> 0.0005.
    const m = groundTruthMetrics(Uint8Array.from([255, 128]), Uint8Array.from([255, 255]), 2, 1, 0);
    close(m.whole.conn, 0.0005, 'connectivity', 1e-7);
  });

  it('uses the reference 9-tap Gaussian-derivative filters of sigma 1.4', () => {
    const { half, g, dg } = gradientKernel(1.4);
    assert.equal(half, 4);
    // The outer product of the factors has unit Frobenius norm.
    let sum = 0;
    for (const a of g) for (const b of dg) sum += (a * b) ** 2;
    close(sum, 1, 'norm', 1e-12);
    assert.equal(Math.abs(dg[half]!), 0, 'the derivative filter is odd');
    close(dg[0]!, -dg[8]!, 'odd');
    close(g[0]!, g[8]!, 'even');
  });

  it('matches a direct 2-D transcription of the reference gradient, borders replicated', () => {
    const width = 12;
    const height = 9;
    let seed = 7;
    const alpha = Uint8Array.from({ length: width * height }, () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 256);
    const fast = gradientMagnitude(alpha, width, height);
    const slow = referenceGradient(alpha, width, height);
    slow.forEach((v, i) => close(fast[i]!, v, `pixel ${i}`, 1e-5));
  });

  it('sees no gradient error in a constant offset, though SAD and MSE do', () => {
    const m = groundTruthMetrics(new Uint8Array(25).fill(200), new Uint8Array(25).fill(100), 5, 5, 1);
    close(m.whole.grad, 0, 'gradient', 1e-12);
    assert.ok(m.whole.sad > 0 && m.whole.mse > 0);
  });

  it('gives the gradient error of a missed step edge as the sum of squared magnitudes / 1000', () => {
    // gt: left half 0, right half 255; pred: all 0, whose gradient is zero.
    const width = 10;
    const height = 6;
    const gt = Uint8Array.from({ length: width * height }, (_, i) => (i % width < 5 ? 0 : 255));
    const magnitude = referenceGradient(gt, width, height);
    const expected = magnitude.reduce((s, v) => s + v * v, 0) / 1000;
    close(groundTruthMetrics(new Uint8Array(width * height), gt, width, height, 0).whole.grad, expected, 'gradient', 1e-7);
    // On a row, the magnitude is S * sum_j dg(j) step(x + 4 - j): largest at the edge.
    const row = magnitude.slice(0, width);
    assert.ok(row[4]! > row[2]! && row[5]! > row[7]!, `peaks at the edge: ${row.map((v) => v.toFixed(3)).join(' ')}`);
  });

  it('takes the unknown band as partial alpha plus everything within r of the edge', () => {
    // 1x7 gt: 0 0 0 | 128 | 255 255 255. r = 0: the partial pixel only; r = 1: one more on each side.
    const gt = Uint8Array.from([0, 0, 0, 128, 255, 255, 255]);
    assert.deepEqual([...unknownBand(gt, 7, 1, 0)], [0, 0, 0, 1, 0, 0, 0]);
    assert.deepEqual([...unknownBand(gt, 7, 1, 1)], [0, 0, 1, 1, 1, 0, 0]);
    // A hard edge with no partial alpha still has a band 2r wide.
    assert.deepEqual([...unknownBand(Uint8Array.from([0, 0, 0, 255, 255, 255]), 6, 1, 2)], [0, 1, 1, 1, 1, 0]);
  });

  it('measures errors in the band separately: MSE is the mean over band pixels only', () => {
    // 1x6 hard edge, band r = 1 -> pixels 2 and 3. The prediction is off by 0.2 at pixels 0 and 2.
    const gt = Uint8Array.from([0, 0, 0, 255, 255, 255]);
    const pred = Uint8Array.from([51, 0, 51, 255, 255, 255]);
    const m = groundTruthMetrics(pred, gt, 6, 1, 1);
    assert.equal(m.unknown_pixels, 2);
    close(m.whole.sad, 0.0004, 'whole SAD');
    close(m.unknown.sad, 0.0002, 'band SAD');
    close(m.whole.mse, ((2 * 0.04) / 6) * 1e3, 'whole MSE');
    close(m.unknown.mse, (0.04 / 2) * 1e3, 'band MSE');
  });

  it('widens the default band with the image: 1% of the longest side', () => {
    assert.deepEqual([defaultBandRadius(40, 30), defaultBandRadius(451, 300), defaultBandRadius(4000, 6000)], [1, 5, 60]);
  });
  it('agrees with the metrics computed from their definitions on random mattes', () => {
    const relative = (actual: number, expected: number, what: string) =>
      assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected) + 1e-15, `${what}: expected ${expected}, got ${actual}`);
    const cases = [
      // Soft discs at 150x130: most tiles flat, pieces that split and tie as the threshold rises.
      { width: 150, height: 130, pred: randomMatte(150, 130, 1, false), gt: randomMatte(150, 130, 2, false), radius: 3 },
      { width: 150, height: 130, pred: randomMatte(150, 130, 3, false), gt: randomMatte(150, 130, 3, false).map((v) => (v > 200 ? 255 : v)), radius: 1 },
      // Noise everywhere: no flat tile, a segment per pixel; an odd width and offset views, so nothing is 4-byte aligned.
      { width: 67, height: 45, pred: randomMatte(68, 45, 4, true).subarray(1, 1 + 67 * 45), gt: randomMatte(67, 46, 5, true).subarray(3, 3 + 67 * 45), radius: 2 },
      // A flat prediction against a soft ground truth, and the reverse.
      { width: 150, height: 130, pred: new Uint8Array(150 * 130), gt: randomMatte(150, 130, 6, false), radius: 4 },
      { width: 150, height: 130, pred: randomMatte(150, 130, 7, false), gt: new Uint8Array(150 * 130).fill(255), radius: 0 },
    ];
    for (const [i, c] of cases.entries()) {
      const fast = groundTruthMetrics(c.pred, c.gt, c.width, c.height, c.radius);
      const slow = referenceMetrics(c.pred, c.gt, c.width, c.height, c.radius);
      assert.equal(fast.unknown_pixels, slow.unknown_pixels, `case ${i}: band pixels`);
      for (const region of ['whole', 'unknown'] as const) {
        for (const metric of ['sad', 'mse', 'grad', 'conn'] as const) relative(fast[region][metric], slow[region][metric], `case ${i}: ${region} ${metric}`);
      }
      assert.ok(fast.whole.grad > 0 && fast.whole.conn > 0, `case ${i} measures something`);
    }
  });

  it('keeps the piece that comes first in raster order when two largest pieces tie', () => {
    // gt opaque; pred has two 2-pixel pieces: A = (3,0)-(3,1) starts at pixel 3, B = (0,1)-(0,2) at pixel 4.
    // A is kept (l = 1); B and everything else leave at t = 0.1 (l = 0), so phi(gt) = 0 off A.
    const pred = Uint8Array.from([0, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 0]);
    const gt = new Uint8Array(12).fill(255);
    const phi = connectivityPhi(pred, gt, 4, 3);
    assert.deepEqual([...phi.gt], [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
    assert.deepEqual([...phi.pred], [1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1]);
  });

  it('applies filters of another sigma as the 2-D reference does', () => {
    const width = 70;
    const height = 20;
    const alpha = randomMatte(width, height, 9, true);
    const fast = gradientMagnitude(alpha, width, height, 1);
    referenceGradient(alpha, width, height, 1).forEach((v, i) => close(fast[i]!, v, `pixel ${i}`, 1e-6));
  });
});
