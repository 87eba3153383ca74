import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '@mesh/config';
import { fixturePhotosDir } from '@mesh/testing';
import { prepareInput, renderOutputs } from '../image.js';
import { createMatteModel, type MatteModel } from '../model.js';

const IMAGE = /\.(jpe?g|png|webp|avif|tiff?|gif)$/i;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 60);
/** The large fixture whose time is compared with the small photos'. */
const LARGE = 'flower.png';
const flag = (name: string) => (process.env[name] === undefined ? undefined : process.env[name] !== '0');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

interface Photo {
  name: string;
  bytes: Buffer;
}

/** The bare loop for one image: decode + prepare, infer, render, as the handler does (no NATS). */
async function matte(model: MatteModel, { bytes }: Photo) {
  const t0 = performance.now();
  const input = await prepareInput(bytes);
  const t1 = performance.now();
  const m = await model.infer(input.tensor);
  const t2 = performance.now();
  await renderOutputs(bytes, m, input);
  const t3 = performance.now();
  return { size: `${input.width}x${input.height}`, prepare: t1 - t0, infer: t2 - t1, render: t3 - t2, total: t3 - t0 };
}

/** Timed rounds over the fixtures: a row per image, then images/s and the large/small ratio. */
async function timing(model: MatteModel, photos: Photo[]): Promise<void> {
  const rows: ({ name: string } & Awaited<ReturnType<typeof matte>>)[] = [];
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  for (let round = 0; round < ROUNDS; round++) {
    for (const photo of photos) rows.push({ name: photo.name, ...(await matte(model, photo)) });
  }
  const wall = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuPerImage = (cpu.user + cpu.system) / 1e6 / rows.length;

  const ms = (x: number) => x.toFixed(0).padStart(8);
  const heads = ['prepare', 'infer', 'render', 'total'].map((h) => h.padStart(8)).join('');
  console.log(`${'image'.padEnd(18)}${'size'.padEnd(11)}${heads}  (ms)`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(18)}${r.size.padEnd(11)}${[r.prepare, r.infer, r.render, r.total].map(ms).join('')}`);
  }
  const large = rows.filter((r) => r.name === LARGE).map((r) => r.total);
  const small = rows.filter((r) => r.name !== LARGE).map((r) => r.total);
  const ratio = large.length && small.length ? (median(large) / median(small)).toFixed(2) : 'n/a';
  const table: [string, string][] = [
    ['images/s, bare loop, one at a time', (rows.length / wall).toFixed(3)],
    ['CPU s per image', cpuPerImage.toFixed(2)],
    ['median ms per image (inference)', `${median(rows.map((r) => r.total)).toFixed(0)} (${median(rows.map((r) => r.infer)).toFixed(0)})`],
    [`${LARGE} / median small photo (target <= 1.3)`, `${ratio}x`],
  ];
  console.log();
  console.log(`| ${'measure'.padEnd(46)} | value |`);
  console.log(`| ${'-'.repeat(46)} | ----- |`);
  for (const [k, v] of table) console.log(`| ${k.padEnd(46)} | ${v} |`);
  // `--json`: one last line for a caller (e2e/src/bench/mesh.bench.ts) to read.
  if (process.argv.includes('--json')) {
    const rounded = (x: number) => Math.round(x);
    console.log(
      JSON.stringify({
        images: rows.length,
        wallSeconds: wall,
        imagesPerSecond: rows.length / wall,
        cpuPerImage,
        medianMs: median(rows.map((r) => r.total)),
        largeOverSmall: large.length && small.length ? median(large) / median(small) : null,
        rows: rows.map((r) => ({ ...r, prepare: rounded(r.prepare), infer: rounded(r.infer), render: rounded(r.render), total: rounded(r.total) })),
      }),
    );
  }
}

/** RSS over many iterations: after one warm-up pass, every 10 runs, and the growth at the end. */
async function rss(model: MatteModel, photos: Photo[]): Promise<void> {
  for (const photo of photos) await matte(model, photo);
  const warm = process.memoryUsage().rss;
  console.log(`RSS after warm-up (${photos.length} images): ${mb(warm)}`);
  let peak = warm;
  for (let i = 1; i <= ITERATIONS; i++) {
    await matte(model, photos[i % photos.length]!);
    const now = process.memoryUsage().rss;
    peak = Math.max(peak, now);
    if (i % 10 === 0) console.log(`  after ${String(i).padStart(4)} iterations: ${mb(now)}`);
  }
  const end = process.memoryUsage().rss;
  const growth = (((end - warm) / warm) * 100).toFixed(1);
  console.log(`RSS at the end: ${mb(end)} (peak ${mb(peak)}), growth ${growth}% over ${ITERATIONS} iterations`);
}

/**
 * Matting alone, no NATS, over the fixture photos, one at a time. `npm run bench:matting` prints
 * the timing table (BENCH_ROUNDS repeats the set; `--json` adds one JSON line of the figures, for
 * e2e/src/bench/mesh.bench.ts, which runs this first); `npm run bench:matting -- --rss` runs
 * BENCH_ITERATIONS (60) images and reports RSS growth. BENCH_CPU_ARENA=0 / BENCH_MEM_PATTERN=0 turn
 * onnxruntime's CPU arena / memory patterns off to compare.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  // As main.ts does: libvips' operation cache only holds memory for a worker that never repeats an image.
  sharp.cache(false);
  const cpuMemArena = flag('BENCH_CPU_ARENA');
  const memPattern = flag('BENCH_MEM_PATTERN');
  const model = await createMatteModel({
    modelPath: config.MODEL_PATH,
    executionProvider: config.EXECUTION_PROVIDER,
    intraOpThreads: config.INTRA_OP_THREADS,
    spinning: config.INTRA_OP_SPINNING === 'on',
    ...(cpuMemArena === undefined ? {} : { cpuMemArena }),
    ...(memPattern === undefined ? {} : { memPattern }),
  });
  const dir = fixturePhotosDir();
  const files = (await readdir(dir)).filter((f) => IMAGE.test(f)).sort();
  const photos = await Promise.all(files.map(async (f) => ({ name: f, bytes: await readFile(path.join(dir, f)) })));
  const cores = os.availableParallelism();
  console.log(
    `model ${model.name} on ${model.provider}, ${cores} cores, INTRA_OP_THREADS=${config.INTRA_OP_THREADS}, INTRA_OP_SPINNING=${config.INTRA_OP_SPINNING}, ` +
      `cpu arena ${cpuMemArena ?? true}, mem pattern ${memPattern ?? true}`,
  );

  // One untimed run, so session warm-up (allocations, kernel choice) is not counted.
  const first = photos[0];
  if (first) await model.infer((await prepareInput(first.bytes)).tensor);
  if (process.argv.includes('--rss')) await rss(model, photos);
  else await timing(model, photos);
  await model.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
