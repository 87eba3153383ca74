import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '@mesh/config';
import { fixturePhotosDir } from '@mesh/testing';
import { prepareInput, renderOutputs } from '../image.js';
import { createMatteModel } from '../model.js';

const IMAGE = /\.(jpe?g|png|webp|tiff?)$/i;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/**
 * Matting alone, no NATS: decode + prepare, infer, render for each fixture photo, one at a time.
 * Run with `npm run bench:matting`; BENCH_ROUNDS repeats the set.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const model = await createMatteModel({
    modelPath: config.MODEL_PATH,
    executionProvider: config.EXECUTION_PROVIDER,
    intraOpThreads: config.INTRA_OP_THREADS,
  });
  const dir = fixturePhotosDir();
  const files = (await readdir(dir)).filter((f) => IMAGE.test(f)).sort();
  const photos = await Promise.all(files.map(async (f) => ({ name: f, bytes: await readFile(path.join(dir, f)) })));

  // One untimed run, so session warm-up (allocations, kernel choice) is not counted.
  const first = photos[0];
  if (first) await model.infer((await prepareInput(first.bytes)).tensor);

  const rows: { name: string; size: string; prepare: number; infer: number; render: number; total: number }[] = [];
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    for (const { name, bytes } of photos) {
      const t0 = performance.now();
      const input = await prepareInput(bytes);
      const t1 = performance.now();
      const matte = await model.infer(input.tensor);
      const t2 = performance.now();
      await renderOutputs(bytes, matte, input.width, input.height);
      const t3 = performance.now();
      const size = `${input.width}x${input.height}`;
      rows.push({ name, size, prepare: t1 - t0, infer: t2 - t1, render: t3 - t2, total: t3 - t0 });
    }
  }
  const wall = (performance.now() - started) / 1000;
  await model.close();

  const ms = (x: number) => x.toFixed(0).padStart(8);
  const cores = os.availableParallelism();
  console.log(`model ${model.name} on ${model.provider}, ${cores} cores, INTRA_OP_THREADS=${config.INTRA_OP_THREADS}`);
  const heads = ['prepare', 'infer', 'render', 'total'].map((h) => h.padStart(8)).join('');
  console.log(`${'image'.padEnd(18)}${'size'.padEnd(11)}${heads}  (ms)`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(18)}${r.size.padEnd(11)}${[r.prepare, r.infer, r.render, r.total].map(ms).join('')}`);
  }
  const inferMedian = median(rows.map((r) => r.infer)).toFixed(0);
  console.log(`median ${median(rows.map((r) => r.total)).toFixed(0)} ms per image (inference ${inferMedian} ms)`);
  console.log(`${(rows.length / wall).toFixed(2)} images/s over ${rows.length} images, one at a time, ${cores} cores`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
