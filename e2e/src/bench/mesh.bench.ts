import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fixturePhotosDir, repoRoot, startNatsServer, tempDir } from '@mesh/testing';
import { waitDone, zipOf } from '../mesh-client.js';
import { SERVICES, startServices } from '../services.js';
import { procStats } from './proc-stats.js';

const IMAGE = /\.(jpe?g|png|webp|avif|tiff?|gif)$/i;
/**
 * Rounds of the fixture set in each of the two bare loops (BENCH_ROUNDS), one just before the mesh
 * and one just after, so load from other processes that drifts during the run hits both sides; and
 * rounds in the mesh's one upload (MESH_ROUNDS).
 */
const BARE_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const MESH_ROUNDS = Number(process.env.MESH_ROUNDS ?? 3);
const LARGE = 'flower.png';

/** What `matting.bench.js --json` prints on its last line. */
interface BareResult {
  images: number;
  wallSeconds: number;
  cpuPerImage: number;
  rows: { name: string; total: number }[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** Run a node script as a child, its output passed through with a prefix; resolves with its stdout. */
function runNode(script: string, args: string[], prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let shown = 0;
    // Whole lines only, and not the JSON line: that one is for this script, not for the reader.
    const show = (upTo: number) => {
      for (const line of out.slice(shown, upTo).split('\n').slice(0, -1)) {
        if (!line.startsWith('{')) console.log(line ? prefix + line : '');
      }
      shown = upTo;
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      show(out.lastIndexOf('\n') + 1);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (out && !out.endsWith('\n')) out += '\n';
      show(out.length);
      if (code === 0) resolve(out);
      else reject(new Error(`${script} exited with ${code}`));
    });
  });
}

/** 1. The bare loop: matting's own bench (decode, infer, encode, one image at a time, no NATS). */
async function bareLoop(): Promise<BareResult> {
  const script = path.join(repoRoot(), 'apps', 'matting', 'dist', 'bench', 'matting.bench.js');
  const out = await runNode(script, ['--json'], '  [bare] ');
  const line = out.split('\n').findLast((l) => l.startsWith('{'));
  if (!line) throw new Error('matting.bench.js --json printed no JSON line');
  return JSON.parse(line) as BareResult;
}

/** Upload one zip and follow SSE to `done`; seconds from the start of the upload. */
async function timedJob(baseUrl: string, zip: Buffer, expected: number): Promise<number> {
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(zip)]), 'bench.zip');
  const t0 = performance.now();
  const res = await fetch(`${baseUrl}/upload`, { method: 'POST', body: form });
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  const { job_id } = (await res.json()) as { job_id: string };
  const status = await waitDone(baseUrl, job_id);
  const seconds = (performance.now() - t0) / 1000;
  if (status.completed !== expected || status.failed !== 0) {
    throw new Error(`job ${job_id}: ${status.completed}/${expected} completed, ${status.failed} failed: ${JSON.stringify(status.failures)}`);
  }
  return seconds;
}

/**
 * 2. The whole mesh (four services as processes, a real nats-server): one untimed warm-up job of
 * one photo, then the fixture set MESH_ROUNDS times as one zip (`r1/flower.png`, ...), timed from
 * the start of the upload to the SSE `done` (every chunk compared and projected).
 */
async function wholeMesh(
  photos: { name: string; bytes: Buffer }[],
): Promise<{ images: number; seconds: number; cpu: Record<string, number> }> {
  const nats = await startNatsServer();
  const data = await tempDir('mesh-bench-');
  const mesh = await startServices(nats.url, data.dir);
  try {
    const warm = photos.find((p) => p.name !== LARGE) ?? photos[0]!;
    await timedJob(mesh.baseUrl, await zipOf([[`warmup/${warm.name}`, warm.bytes]]), 1);
    const entries: [string, Buffer][] = [];
    for (let r = 1; r <= MESH_ROUNDS; r++) for (const p of photos) entries.push([`r${r}/${p.name}`, p.bytes]);
    const zip = await zipOf(entries);
    // CPU seconds of each process over the timed job: where the cores went besides inference.
    const pids: Record<string, number | undefined> = { ...mesh.pids(), 'nats-server': nats.pid };
    const cpuNow = () => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid ? (procStats(pid)?.cpu ?? NaN) : NaN]));
    const cpu0 = cpuNow();
    const seconds = await timedJob(mesh.baseUrl, zip, entries.length);
    const cpu1 = cpuNow();
    const cpu = Object.fromEntries(Object.keys(pids).map((name) => [name, cpu1[name]! - cpu0[name]!]));
    return { images: entries.length, seconds, cpu };
  } catch (err) {
    console.error(mesh.output());
    throw err;
  } finally {
    await mesh.stop();
    await nats.cleanup();
    await data.remove();
  }
}

/**
 * `npm run bench:matting`: the bare matting loop, the whole mesh, and the bare loop again on the
 * fixture photos, on the same machine with the same model session options (config from the same
 * environment, e.g. INTRA_OP_THREADS), then one table side by side. `-- --rss` runs matting's RSS
 * bench instead.
 */
async function main(): Promise<void> {
  if (process.argv.includes('--rss')) {
    const script = path.join(repoRoot(), 'apps', 'matting', 'dist', 'bench', 'matting.bench.js');
    await runNode(script, ['--rss'], '');
    return;
  }
  const loadBefore = load();
  const dir = fixturePhotosDir();
  const files = (await readdir(dir)).filter((f) => IMAGE.test(f)).sort();
  const photos = await Promise.all(files.map(async (f) => ({ name: f, bytes: await readFile(path.join(dir, f)) })));

  process.env.BENCH_ROUNDS = String(BARE_ROUNDS);
  console.log(`bare loop, before the mesh: ${files.length} fixture photos x ${BARE_ROUNDS} rounds (BENCH_ROUNDS)`);
  const before = await bareLoop();
  const loadBeforeMesh = load();
  console.log(`\nwhole mesh: ${files.length} fixture photos x ${MESH_ROUNDS} rounds (MESH_ROUNDS) in one zip`);
  const mesh = await wholeMesh(photos);
  const loadAfterMesh = load();
  console.log(`\nbare loop, after the mesh: ${files.length} fixture photos x ${BARE_ROUNDS} rounds (BENCH_ROUNDS)`);
  const after = await bareLoop();
  const loadAfter = load();

  const bare = { images: before.images + after.images, seconds: before.wallSeconds + after.wallSeconds };
  const bareRate = bare.images / bare.seconds;
  const meshRate = mesh.images / mesh.seconds;
  const ratio = meshRate / bareRate;
  const totals = [...before.rows, ...after.rows];
  const large = totals.filter((r) => r.name === LARGE).map((r) => r.total);
  const small = totals.filter((r) => r.name !== LARGE).map((r) => r.total);
  const rate = (images: number, seconds: number) => `${(images / seconds).toFixed(3)} (${images} in ${seconds.toFixed(1)} s)`;
  const rows: [string, string][] = [
    ['cores (os.availableParallelism())', String(os.availableParallelism())],
    ['load average 1/5/15 min: at the start', loadBefore],
    ['  after bare loop 1', loadBeforeMesh],
    ['  after the mesh', loadAfterMesh],
    ['  after bare loop 2', loadAfter],
    ['bare loop 1 images/s', rate(before.images, before.wallSeconds)],
    ['whole mesh images/s', rate(mesh.images, mesh.seconds)],
    ['bare loop 2 images/s', rate(after.images, after.wallSeconds)],
    ['bare loop images/s, 1 and 2 together', rate(bare.images, bare.seconds)],
    [
      'CPU s per image: bare loop (1, 2)',
      `${before.cpuPerImage.toFixed(2)}, ${after.cpuPerImage.toFixed(2)}`,
    ],
    [
      'CPU s per image: whole mesh, all processes',
      Object.values(mesh.cpu)
        .reduce((a, b) => a + b / mesh.images, 0)
        .toFixed(2),
    ],
    ...[...SERVICES, 'nats-server'].map((name): [string, string] => [
      `  CPU s per image in the mesh: ${name}`,
      (mesh.cpu[name]! / mesh.images).toFixed(2),
    ]),
    ['mesh / bare loop (target >= 1.0)', `${ratio.toFixed(2)}x`],
    [
      `${LARGE} / median small photo, bare (target <= 1.3)`,
      large.length && small.length ? `${(median(large) / median(small)).toFixed(2)}x` : 'n/a',
    ],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n| ${'measure'.padEnd(w)} | value |`);
  console.log(`| ${'-'.repeat(w)} | ----- |`);
  for (const [k, v] of rows) console.log(`| ${k.padEnd(w)} | ${v} |`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
