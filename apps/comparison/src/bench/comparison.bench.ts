import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { fixturePhotosDir } from '@mesh/testing';
import { composeComparison } from '../compose.js';
import { matteFigures } from '../figures.js';
import { groundTruthMetrics } from '../metrics.js';

const IMAGE = /\.(jpe?g|png|webp|tiff?)$/i;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * A synthetic matte at the photo's size: an ellipse over the middle with a feathered edge 3% of
 * the short side wide (so a realistic share of pixels is uncertain), plus a few specks. `shift`
 * moves it, to make a "ground truth" that differs from it near the edge.
 */
function syntheticMatte(width: number, height: number, shift = 0): Buffer {
  const alpha = Buffer.alloc(width * height);
  const [cx, cy, rx, ry] = [width / 2 + shift, height / 2, width * 0.32, height * 0.4];
  const feather = 0.03 * Math.min(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Approximate signed distance to the ellipse's edge, in pixels.
      const d = (Math.hypot((x - cx) / rx, (y - cy) / ry) - 1) * Math.min(rx, ry);
      alpha[y * width + x] = Math.round(255 * Math.min(1, Math.max(0, 0.5 - d / feather)));
    }
  }
  for (let k = 1; k <= 5; k++) alpha[Math.floor((k * height) / 7) * width + Math.floor(width / 20)] = 255;
  return alpha;
}

/**
 * The comparison stage's work without NATS, per fixture photo: decode the three inputs, compose the
 * labelled comparison JPEG and its thumbnail (compose), compute the matte figures (figures), and,
 * for an upload with ground truth, the four metrics over the whole image and the band (metrics).
 * The mattes are synthetic (see syntheticMatte): the matting model is not run here. The inputs are
 * encoded as the matting stage stores them (PNG matte, RGBA PNG cut-out), untimed.
 * Run with `npm run bench:comparison`; BENCH_ROUNDS repeats the set (default 3, medians reported).
 */
async function main(): Promise<void> {
  const dir = fixturePhotosDir();
  const files = (await readdir(dir)).filter((f) => IMAGE.test(f)).sort();
  const cases = [];
  for (const f of files) {
    const original = await readFile(path.join(dir, f));
    const { width, height } = await sharp(original).rotate().metadata().then((m) =>
      (m.orientation ?? 1) >= 5 ? { width: m.height, height: m.width } : { width: m.width, height: m.height },
    );
    const raw = { width, height, channels: 1 as const };
    const alpha = syntheticMatte(width, height);
    const gt = new Uint8Array(syntheticMatte(width, height, width * 0.01));
    const matte = await sharp(alpha, { raw }).png().toBuffer();
    const cutout = await sharp(original).rotate().removeAlpha().joinChannel(alpha, { raw }).png().toBuffer();
    cases.push({ name: f, width, height, inputs: { original, matte, cutout }, gt });
  }
  // One untimed run, so sharp's and V8's warm-up is not counted.
  if (cases[0]) await composeComparison(cases[0].inputs);

  const times = new Map<string, { compose: number[]; figures: number[]; metrics: number[] }>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      const t0 = performance.now();
      const comparison = await composeComparison(c.inputs);
      const t1 = performance.now();
      matteFigures(comparison.alpha, comparison.matteWidth, comparison.matteHeight);
      const t2 = performance.now();
      groundTruthMetrics(comparison.alpha, c.gt, c.width, c.height);
      const t3 = performance.now();
      const entry = times.get(c.name) ?? { compose: [], figures: [], metrics: [] };
      entry.compose.push(t1 - t0);
      entry.figures.push(t2 - t1);
      entry.metrics.push(t3 - t2);
      times.set(c.name, entry);
    }
  }

  const cores = os.availableParallelism();
  const ms = (x: number) => x.toFixed(0).padStart(9);
  console.log(`comparison stage (no NATS), ${cores} cores, median of ${ROUNDS} rounds, synthetic mattes`);
  console.log(`${'image'.padEnd(18)}${'size'.padEnd(11)}${['compose', 'figures', 'c+f', 'gt-metr', 'c+f+gt'].map((h) => h.padStart(9)).join('')}  (ms)`);
  const perImage: number[] = [];
  const perImageGt: number[] = [];
  for (const c of cases) {
    const t = times.get(c.name)!;
    const [compose, figures, metrics] = [median(t.compose), median(t.figures), median(t.metrics)];
    perImage.push(compose + figures);
    perImageGt.push(compose + figures + metrics);
    console.log(`${c.name.padEnd(18)}${`${c.width}x${c.height}`.padEnd(11)}${[compose, figures, compose + figures, metrics, compose + figures + metrics].map(ms).join('')}`);
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  console.log(`mean ${mean(perImage).toFixed(0)} ms per image without ground truth (${(1000 / mean(perImage)).toFixed(1)} images/s, one at a time)`);
  console.log(`mean ${mean(perImageGt).toFixed(0)} ms per image with ground truth (${(1000 / mean(perImageGt)).toFixed(1)} images/s, one at a time)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
