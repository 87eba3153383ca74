/**
 * Ingest throughput and gateway memory (issue 3): `npm run bench:ingest [-- --quick]`.
 *
 * For each generated archive, side by side on one nats-server:
 * - ingest: the archive, streamed from disk, to a real gateway process (a fresh one per archive and
 *   route, so its peak RSS is that upload's), by each route: a multipart `POST /upload`, timed until
 *   the 202 answer; and a resumable upload (tus `POST /files`, then one `PATCH` of the whole file),
 *   timed from the POST until the job's `job.sealed` is published (the gateway cuts the file while
 *   it grows);
 * - raw put: the same image payloads put from this process, one object per image, sequentially, into
 *   the gateway's own bucket: the ceiling the gateway can reach. Twice: with the @nats-io/obj client's
 *   `putBlob`, and with the mesh's own writer (`putObject`, which the gateway uses); the ratio is
 *   given against each.
 * The gateway's VmRSS is sampled every 100 ms and its VmHWM read at the end. Round N runs the three
 * sides in an order rotated N-1 times (ingest, putBlob, putObject; then putBlob first; ...), so
 * whatever one side leaves the machine falls on each side in turn.
 *
 * Archives (default, about 5.8 GB in all; `--quick`: about 200 MB):
 * - small: ~3000 JPEGs of 50-200 KB (a few distinct ones made from the fixture photos, reused under
 *   other names), deflated, sizes in data descriptors (as a streaming zipper writes them);
 * - large: 20 noisy PNGs of 10-30 MB, stored, sizes in the local headers;
 * - zip64: 5 GiB of one ~28 MB noisy PNG under many names, stored, forced ZIP64 (local and central
 *   extra fields, ZIP64 end records) with data descriptors.
 *
 * The upload is sent by curl in its own process (`--client=node`: from this process with node:http).
 *
 * Flags: `--quick` (about 200 MB), `--only=small,large,zip64`, `--routes=multipart,tus`, `--keep` (leave the archives),
 * `--repeat=N` (N rounds of every measurement, with their medians), `--json` (one JSON line at the end). BENCH_DIR picks where archives go (default: the OS temp dir);
 * BENCH_GATEWAY_NODE_ARGS are node flags for the gateway process (e.g. `--cpu-prof --cpu-prof-dir=DIR`,
 * `--trace-gc`); BENCH_GATEWAY_LOG names a file that gets the gateway's output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { Objm, setSha256Backend } from '@nats-io/obj';
import sharp from 'sharp';
import yazl from 'yazl';
import { fixturePhotosDir, freePort, repoRoot, startNatsServer, tempDir } from '@mesh/testing';
import { connectNats, objectMeta, putObject } from '@mesh/nats';
import { EVENTS_STREAM, subjects } from '@mesh/contracts';
import { exitedChildrenCpu, procStats } from './proc-stats.js';
import { nodeFlags } from '../services.js';

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const KEEP = args.includes('--keep');
const JSON_OUT = args.includes('--json');
const REPEAT = Math.max(1, Number(args.find((a) => a.startsWith('--repeat='))?.slice('--repeat='.length) ?? 1));
const ONLY = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
/** How the archive reaches the gateway: a multipart POST /upload, or a resumable (tus) upload. */
type Route = 'multipart' | 'tus';
/** Who uploads: curl (default; the client README shows, in its own process) or this process's node:http. */
const CLIENT = (args.find((a) => a.startsWith('--client='))?.slice('--client='.length) ?? 'curl') as 'curl' | 'node';
if (CLIENT !== 'curl' && CLIENT !== 'node') throw new Error(`--client: curl or node, not ${String(CLIENT)}`);
const ROUTES = (args.find((a) => a.startsWith('--routes='))?.slice('--routes='.length).split(',') ?? ['multipart', 'tus']) as Route[];
const BUCKET = 'mesh-chunks';
const MB = 1e6;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

type ArchiveKind = 'small' | 'large' | 'zip64';

/** A generated archive and the image payloads inside it, in order. */
interface Archive {
  kind: ArchiveKind;
  file: string;
  size: number;
  /** Index into `payloads` of each entry, with its name. */
  entries: { name: string; payload: number }[];
  payloads: Buffer[];
  payloadBytes: number;
  note: string;
}

interface Row {
  archive: string;
  route: Route;
  note: string;
  sizeBytes: number;
  entries: number;
  payloadBytes: number;
  ingest: { status: number | string; seconds: number; chunks: number | null; error?: string };
  ingestMBps: number | null;
  round: number;
  /** The @nats-io/obj client's putBlob. */
  rawSeconds: number;
  rawMBps: number;
  ratio: number | null;
  /** The mesh's own writer (putObject), as the gateway stores. */
  meshRawSeconds: number;
  meshRawMBps: number;
  meshRatio: number | null;
  peakRssMiB: number;
  sampledMaxRssMiB: number;
  idleRssMiB: number;
  gatewayCpuSeconds: number;
  /** CPU seconds of each process over each side: where the cores went. */
  cpu: {
    ingest: { gateway: number; natsServer: number; client: number };
    raw: { natsServer: number; client: number };
    meshRaw: { natsServer: number; client: number };
  };
}

const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const log = (line: string) => {
  if (!JSON_OUT) console.log(line);
  else console.error(line);
};

// ---------------------------------------------------------------------------------------------
// Images

/** A few distinct small JPEGs (50-200 KB) from the fixture photos at different sizes and qualities. */
async function smallJpegs(): Promise<Buffer[]> {
  const dir = fixturePhotosDir();
  const photos = (await readdir(dir)).filter((n) => /\.(jpe?g|png)$/i.test(n)).sort();
  const out: Buffer[] = [];
  for (const photo of photos) {
    const src = readFileSync(path.join(dir, photo));
    for (const [width, quality] of [
      [900, 85],
      [1280, 80],
      [1600, 90],
    ] as const) {
      const jpeg = await sharp(src).resize({ width }).jpeg({ quality }).toBuffer();
      if (jpeg.length >= 50_000 && jpeg.length <= 200_000) out.push(jpeg);
    }
  }
  if (out.length < 3) throw new Error(`only ${out.length} fixture JPEGs came out at 50-200 KB`);
  return out;
}

/** A noisy RGB PNG of about `bytes` (noise does not compress, so the file is about w*h*3). */
async function noisyPng(bytes: number, seed: number): Promise<Buffer> {
  const side = Math.round(Math.sqrt(bytes / 3));
  return sharp({
    create: {
      width: side,
      height: side + seed, // distinct images, not only distinct names
      channels: 3,
      background: { r: 128, g: 128, b: 128 },
      noise: { type: 'gaussian', mean: 128, sigma: 70 },
    },
  })
    .png({ compressionLevel: 1, adaptiveFiltering: false })
    .toBuffer();
}

// ---------------------------------------------------------------------------------------------
// Archives, streamed to disk with yazl

/** 1 MiB slices of a buffer, so yazl's pipes see ordinary chunks and back-pressure works. */
function sliced(buf: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < buf.length; at += MiB) yield buf.subarray(at, Math.min(buf.length, at + MiB));
    })(),
    { objectMode: false },
  );
}

async function writeZip(
  file: string,
  entries: { name: string; payload: number }[],
  payloads: Buffer[],
  how: { compress: boolean; streamed: boolean; zip64: boolean },
): Promise<number> {
  const zip = new yazl.ZipFile();
  const mtime = new Date('2024-05-01T12:00:00Z');
  for (const e of entries) {
    const data = payloads[e.payload]!;
    const options = { compress: how.compress, mtime, forceZip64Format: how.zip64 };
    // addReadStreamLazy: sizes unknown up front, so yazl writes data descriptors (bit 3), and it
    // reads each entry only when its turn comes, with back-pressure from the file.
    if (how.streamed) zip.addReadStreamLazy(e.name, options, (cb) => cb(null, sliced(data)));
    else zip.addBuffer(data, e.name, options);
  }
  zip.end({ forceZip64Format: how.zip64, comment: '' });
  await pipeline(zip.outputStream, createWriteStream(file, { highWaterMark: 4 * MiB }));
  return (await stat(file)).size;
}

async function makeArchive(kind: ArchiveKind, dir: string, images: { small: Buffer[]; large: Buffer[] }): Promise<Archive> {
  const file = path.join(dir, `${kind}.zip`);
  let entries: { name: string; payload: number }[];
  let payloads: Buffer[];
  let how: { compress: boolean; streamed: boolean; zip64: boolean };
  let note: string;
  if (kind === 'small') {
    payloads = images.small;
    const n = QUICK ? 500 : 3000;
    entries = Array.from({ length: n }, (_, i) => ({
      name: `shoot/day-${String(Math.floor(i / 500) + 1).padStart(2, '0')}/IMG_${String(i + 1).padStart(5, '0')}.jpg`,
      payload: i % payloads.length,
    }));
    how = { compress: true, streamed: true, zip64: false };
    note = 'deflate, data descriptors';
  } else if (kind === 'large') {
    payloads = images.large;
    const n = QUICK ? 4 : 20;
    entries = Array.from({ length: n }, (_, i) => ({ name: `large/noise-${String(i + 1).padStart(3, '0')}.png`, payload: i % payloads.length }));
    how = { compress: false, streamed: false, zip64: false };
    note = 'store, sizes in local headers';
  } else {
    // The largest noisy PNG, reused: 5 GiB in all (quick: two entries, still forced ZIP64).
    const big = images.large.reduce((a, b) => (b.length > a.length ? b : a));
    payloads = [big];
    const n = QUICK ? 2 : Math.ceil((5 * GiB) / big.length);
    entries = Array.from({ length: n }, (_, i) => ({ name: `big/frame-${String(i + 1).padStart(4, '0')}.png`, payload: 0 }));
    how = { compress: false, streamed: true, zip64: true };
    note = 'store, forced ZIP64, data descriptors';
  }
  const t0 = performance.now();
  const size = await writeZip(file, entries, payloads, how);
  const payloadBytes = entries.reduce((sum, e) => sum + payloads[e.payload]!.length, 0);
  log(`  ${kind}.zip: ${entries.length} entries, ${(size / MB).toFixed(0)} MB, written in ${((performance.now() - t0) / 1000).toFixed(1)} s (${note})`);
  return { kind, file, size, entries, payloads, payloadBytes, note };
}

// ---------------------------------------------------------------------------------------------
// The gateway process and its memory

interface Gateway {
  baseUrl: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}

async function startGateway(natsUrl: string, dataDir: string): Promise<Gateway> {
  const port = await freePort();
  // Its own flags (apps/gateway/node-flags), as deployed; then e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
  // to see where the gateway spends its time.
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  let out = '';
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags('gateway'), ...nodeArgs, path.join(repoRoot(), 'apps', 'gateway', 'dist', 'main.js')], {
    cwd: repoRoot(),
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      DATA_DIR: dataDir,
      GATEWAY_PORT: String(port),
      GATEWAY_HOST: '127.0.0.1',
      MAX_UPLOAD_SIZE: String(64 * GiB),
      OBJECT_BUCKET: BUCKET,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logFile = process.env.BENCH_GATEWAY_LOG;
  const keep = (d: Buffer) => {
    if (logFile) appendFileSync(logFile, d);
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (await fetch(`${baseUrl}/healthz`).then((r) => r.ok, () => false)) break;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`gateway did not come up:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    baseUrl,
    pid: child.pid!,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/** Sample a process's VmRSS every 100 ms. */
function sampleRss(pid: number): { stop(): { maxRss: number; hwm: number; cpu: number } } {
  let maxRss = 0;
  let last = procStats(pid);
  const timer = setInterval(() => {
    const s = procStats(pid);
    if (!s) return;
    last = s;
    maxRss = Math.max(maxRss, s.rss);
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      const s = procStats(pid) ?? last;
      return { maxRss: Math.max(maxRss, s?.rss ?? 0), hwm: s?.hwm ?? 0, cpu: s?.cpu ?? 0 };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The upload by curl, as README's commands send it: its own process, like a user's machine.

/** Runs curl with these arguments; answers the HTTP status and the body it printed. */
function curl(curlArgs: string[], timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', ['-sS', '--max-time', String(Math.ceil(timeoutMs / 1000)), '-w', '\n%{http_code}', ...curlArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const cut = out.lastIndexOf('\n');
      const status = Number(out.slice(cut + 1));
      if (code !== 0 && !status) reject(new Error(`curl exited ${code}: ${err.trim()}`));
      else resolve({ status, body: out.slice(0, Math.max(0, cut)) });
    });
  });
}

/** `curl -F file=@archive.zip .../upload` */
function uploadFileCurl(baseUrl: string, file: string, filename: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return curl(['-F', `file=@${file};type=application/zip;filename=${filename}`, new URL('/upload', baseUrl).href], timeoutMs);
}

/** `curl -X PATCH <upload> ... -T archive.zip`: the whole file in one PATCH. */
function patchCurl(url: URL, file: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return curl(
    ['-X', 'PATCH', '-H', 'Tus-Resumable: 1.0.0', '-H', 'Upload-Offset: 0', '-H', 'Content-Type: application/offset+octet-stream', '-T', file, url.href],
    timeoutMs,
  );
}

// ---------------------------------------------------------------------------------------------
// The upload from this process (--client=node): a multipart body built around a file read stream, so memory stays bounded here too

async function uploadFile(baseUrl: string, file: string, filename: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  // Shaped like curl's (24 dashes, 16 hex digits), the client README shows.
  const boundary = `${'-'.repeat(24)}${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
      `Content-Type: application/zip\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const size = (await stat(file)).size;
  const url = new URL('/upload', baseUrl);
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, value?: { status: number; body: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value!);
    };
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent: false,
        headers: {
          'Content-Type': `multipart/form-data; boundary=${boundary}`,
          'Content-Length': String(head.length + size + tail.length),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          // An early answer (an error) leaves the rest of the body unsent: stop sending it.
          if (!body.destroyed && !body.readableEnded) req.destroy();
          finish(null, { status: res.statusCode ?? 0, body: text });
        });
        res.on('error', (err) => finish(err));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    // A server that answers early (an error) may close before the body is sent: the answer wins.
    req.on('error', (err) => setTimeout(() => finish(err), 500));
    req.write(head);
    const body = createReadStream(file, { highWaterMark: MiB });
    body.on('error', (err) => req.destroy(err));
    body.on('end', () => req.end(tail));
    body.pipe(req, { end: false });
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * A resumable upload: create it (tus POST), send the whole file in one PATCH, then wait for the
 * job's job.sealed in the stream. Answers the PATCH's status and the sealed chunk count.
 */
async function uploadTus(
  nc: NatsConnection,
  baseUrl: string,
  file: string,
  filename: string,
  timeoutMs: number,
): Promise<{ status: number | string; body: string; chunks: number | null }> {
  const size = (await stat(file)).size;
  const tus = { 'tus-resumable': '1.0.0' };
  const created = await fetch(`${baseUrl}/files`, {
    method: 'POST',
    headers: { ...tus, 'upload-length': String(size), 'upload-metadata': `filename ${Buffer.from(filename).toString('base64')}` },
  });
  if (created.status !== 201) return { status: created.status, body: await created.text(), chunks: null };
  const location = new URL(created.headers.get('location')!, baseUrl);
  const jobId = location.pathname.split('/').pop()!;
  // The job's end heard as it is published (the multipart side is timed to its answer, as exactly);
  // the stream is read too, in case it ended before the subscription was in place.
  const ends = [subjects.jobSealed(jobId), subjects.jobFailed(jobId)].map((subject) => nc.subscribe(subject, { max: 1 }));
  const first = async (sub: (typeof ends)[number]) => {
    for await (const m of sub) return m;
    return new Promise<never>(() => undefined);
  };
  const end = Promise.race(ends.map(first));
  await nc.flush();
  try {
    const patched = CLIENT === 'curl' ? await patchCurl(location, file, timeoutMs) : await patchNode(location, file, size);
    if (patched.status !== 204) return { ...patched, chunks: null };
    const jsm = await jetstreamManager(nc);
    const stored = async () =>
      (await jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: subjects.jobSealed(jobId) }).catch(() => null)) ??
      (await jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: subjects.jobFailed(jobId) }).catch(() => null));
    const timer = new Promise<null>((r) => setTimeout(() => r(null), timeoutMs).unref());
    const m = (await stored()) ?? (await Promise.race([end, timer]));
    if (!m) return { status: 0, body: 'no job.sealed in time', chunks: null };
    if (m.subject === subjects.jobFailed(jobId)) return { status: 'job failed', body: new TextDecoder().decode(m.data), chunks: null };
    const event = JSON.parse(new TextDecoder().decode(m.data)) as { total_chunks: number };
    return { status: patched.status, body: '', chunks: event.total_chunks };
  } finally {
    for (const sub of ends) sub.unsubscribe();
  }
}

/** The whole file in one PATCH from this process (--client=node). */
function patchNode(location: URL, file: string, size: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: location.hostname, port: location.port, path: location.pathname, method: 'PATCH', agent: false,
        headers: { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream', 'content-length': String(size) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    const body = createReadStream(file, { highWaterMark: MiB });
    body.on('error', (err) => req.destroy(err));
    body.pipe(req);
  });
}

async function purgeObjects(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.purge(`OBJ_${BUCKET}`);
}

/**
 * CPU seconds used so far by this process with its exited children (curl, once it ends; the gateway
 * is waited for only after its side is read) and by another process.
 */
function cpuNow(pid: number): { self: number; other: number } {
  const u = process.cpuUsage();
  return { self: (u.user + u.system) / 1e6 + exitedChildrenCpu(), other: procStats(pid)?.cpu ?? NaN };
}

/** The answer a successful upload gets on each route. */
const okStatus: Record<Route, number> = { multipart: 202, tus: 204 };

async function benchArchive(
  nc: NatsConnection,
  natsUrl: string,
  natsPid: number,
  dataDir: string,
  a: Archive,
  route: Route,
  round: number,
): Promise<Row> {
  log(`\n${a.kind}.zip${REPEAT > 1 ? `, round ${round}` : ''}:`);
  const runIngest = async () => {
    log(`${a.kind}.zip: ingest through the gateway (${route}) ...`);
    const gateway = await startGateway(natsUrl, dataDir);
    const idle = procStats(gateway.pid);
    const ingestCpu0 = cpuNow(natsPid);
    const sampler = sampleRss(gateway.pid);
    // Generous: a stuck upload must not hold the run forever (2 MB/s floor, 2 minutes at least).
    const timeoutMs = Math.max(120_000, (a.size / (2 * MB)) * 1000);
    const t0 = performance.now();
    let ingest: Row['ingest'];
    try {
      let res: { status: number | string; body: string; chunks?: number | null };
      if (route === 'tus') res = await uploadTus(nc, gateway.baseUrl, a.file, `${a.kind}.zip`, timeoutMs);
      else if (CLIENT === 'curl') res = await uploadFileCurl(gateway.baseUrl, a.file, `${a.kind}.zip`, timeoutMs);
      else res = await uploadFile(gateway.baseUrl, a.file, `${a.kind}.zip`, timeoutMs);
      const seconds = (performance.now() - t0) / 1000;
      let chunks: number | null = res.chunks ?? null;
      if (route === 'multipart') {
        try {
          chunks = (JSON.parse(res.body) as { chunks?: number }).chunks ?? null;
        } catch {
          // not JSON: kept as the error text below
        }
      }
      ingest = { status: res.status, seconds, chunks };
      if (res.status !== okStatus[route] || chunks !== a.entries.length) ingest.error = res.body.slice(0, 400);
    } catch (err) {
      ingest = { status: 'error', seconds: (performance.now() - t0) / 1000, chunks: null, error: (err as Error).message };
    }
    const mem = sampler.stop();
    const ingestCpu1 = cpuNow(natsPid);
    const gwLog = gateway.output();
    await gateway.stop();
    const ok = ingest.status === okStatus[route] && ingest.chunks === a.entries.length;
    log(
      `  ${ok ? 'ok' : 'FAILED'}: ${ingest.status} after ${ingest.seconds.toFixed(1)} s, ${ingest.chunks ?? '-'}/${a.entries.length} chunks` +
        `, peak RSS ${(mem.hwm / 1024).toFixed(0)} MiB, gateway CPU ${mem.cpu.toFixed(1)} s`,
    );
    if (!ok) {
      log(`  answer: ${ingest.error ?? ''}`);
      const tailLines = gwLog.trim().split('\n').slice(-8).join('\n    ');
      if (tailLines) log(`  gateway log (tail):\n    ${tailLines}`);
    }
    await purgeObjects(nc);
    return { ingest, ok, mem, idle, ingestCpu0, ingestCpu1 };
  };
  // The same client settings as the mesh's services (libs/nats): native SHA-256, 1 MiB chunks.
  setSha256Backend('native');
  // As the gateway provisions it (libs/nats provisionMesh), for a round whose raw side runs first.
  const store = await new Objm(nc).create(BUCKET, { storage: StorageType.File });
  const names = a.entries.map((_, i) => `bench-raw/${a.kind}/c${String(i + 1).padStart(7, '0')}/original`);
  const rawPut = async (put: (name: string, data: Buffer) => Promise<unknown>) => {
    const cpu0 = cpuNow(natsPid);
    const t = performance.now();
    for (const [i, e] of a.entries.entries()) await put(names[i]!, a.payloads[e.payload]!);
    const seconds = (performance.now() - t) / 1000;
    const cpu1 = cpuNow(natsPid);
    await purgeObjects(nc);
    return { seconds, natsServer: cpu1.other - cpu0.other, client: cpu1.self - cpu0.self };
  };

  // Each round puts the three sides in another order: what one side leaves the machine (page cache,
  // memory the VM must find again) falls on each in turn.
  type Side = 'ingest' | 'putBlob' | 'putObject';
  const order = (['ingest', 'putBlob', 'putObject'] as Side[]).map((_, i, all) => all[(i + round - 1) % all.length]!);
  let ingestSide: Awaited<ReturnType<typeof runIngest>> | undefined;
  const puts: Partial<Record<'putBlob' | 'putObject', Awaited<ReturnType<typeof rawPut>>>> = {};
  for (const side of order) {
    if (side === 'ingest') {
      ingestSide = await runIngest();
      continue;
    }
    log(`${a.kind}.zip: raw object-store put of the same ${a.entries.length} payloads (${side}) ...`);
    const r = await rawPut((name, data) => (side === 'putBlob' ? store.putBlob(objectMeta(name), data) : putObject(store, name, [data])));
    log(`  ${r.seconds.toFixed(1)} s, ${(a.payloadBytes / MB / r.seconds).toFixed(1)} MB/s`);
    puts[side] = r;
  }
  const { ingest, ok, mem, idle, ingestCpu0, ingestCpu1 } = ingestSide!;
  const raw = puts.putBlob!;
  const meshRaw = puts.putObject!;
  const rawSeconds = raw.seconds;
  const rawMBps = a.payloadBytes / MB / rawSeconds;
  const meshRawMBps = a.payloadBytes / MB / meshRaw.seconds;
  const ingestMBps = ok ? a.payloadBytes / MB / ingest.seconds : null;
  return {
    archive: `${a.kind}.zip`,
    route,
    note: a.note,
    sizeBytes: a.size,
    entries: a.entries.length,
    payloadBytes: a.payloadBytes,
    ingest,
    ingestMBps,
    round,
    rawSeconds,
    rawMBps,
    ratio: ingestMBps === null ? null : ingestMBps / rawMBps,
    meshRawSeconds: meshRaw.seconds,
    meshRawMBps,
    meshRatio: ingestMBps === null ? null : ingestMBps / meshRawMBps,
    peakRssMiB: mem.hwm / 1024,
    sampledMaxRssMiB: mem.maxRss / 1024,
    idleRssMiB: (idle?.rss ?? 0) / 1024,
    gatewayCpuSeconds: mem.cpu,
    cpu: {
      ingest: {
        gateway: mem.cpu - (idle?.cpu ?? 0),
        natsServer: ingestCpu1.other - ingestCpu0.other,
        client: ingestCpu1.self - ingestCpu0.self,
      },
      raw: { natsServer: raw.natsServer, client: raw.client },
      meshRaw: { natsServer: meshRaw.natsServer, client: meshRaw.client },
    },
  };
}

function table(rows: Row[]): string {
  const sizeOf = (b: number) => (b >= GiB ? `${(b / GiB).toFixed(2)} GiB` : `${(b / MB).toFixed(0)} MB`);
  const lines = [
    '| archive | route | size | entries | ingest s | ingest MB/s | raw putBlob MB/s | ratio | raw putObject MB/s | ratio | gateway peak RSS MiB |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const ok = r.ingestMBps !== null;
    const failed = `failed (${r.ingest.status}${r.ingest.chunks !== null ? `, ${r.ingest.chunks} chunks` : ''})`;
    lines.push(
      `| ${r.archive} | ${r.route} | ${sizeOf(r.sizeBytes)} | ${r.entries} | ${r.ingest.seconds.toFixed(1)} | ${ok ? r.ingestMBps!.toFixed(1) : failed} | ` +
        `${r.rawMBps.toFixed(1)} | ${ok ? r.ratio!.toFixed(2) + 'x' : '-'} | ` +
        `${r.meshRawMBps.toFixed(1)} | ${ok ? r.meshRatio!.toFixed(2) + 'x' : '-'} | ${r.peakRssMiB.toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** With --repeat: per archive and route, the median of each figure over the rounds, and the ratios' range. */
function medianTable(rows: Row[]): string {
  const lines = [
    '| archive | route | rounds | ingest MB/s | raw putBlob MB/s | ratio (range) | raw putObject MB/s | ratio (range) | gateway peak RSS MiB |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const keys = [...new Set(rows.map((r) => `${r.archive} ${r.route}`))];
  for (const key of keys) {
    const rs = rows.filter((r) => `${r.archive} ${r.route}` === key && r.ingestMBps !== null);
    if (rs.length === 0) continue;
    const range = (xs: number[]) => `${median(xs).toFixed(2)}x (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
    lines.push(
      `| ${rs[0]!.archive} | ${rs[0]!.route} | ${rs.length} | ${median(rs.map((r) => r.ingestMBps!)).toFixed(1)} | ` +
        `${median(rs.map((r) => r.rawMBps)).toFixed(1)} | ${range(rs.map((r) => r.ratio!))} | ` +
        `${median(rs.map((r) => r.meshRawMBps)).toFixed(1)} | ${range(rs.map((r) => r.meshRatio!))} | ` +
        `${Math.max(...rs.map((r) => r.peakRssMiB)).toFixed(0)} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const kinds = (['small', 'large', 'zip64'] as const).filter((k) => !ONLY || ONLY.includes(k));
  const loadBefore = load();
  log(`ingest bench (${QUICK ? 'quick' : 'full'}): ${os.availableParallelism()} cores, Node ${process.versions.node}, load average ${loadBefore}`);
  const work = await mkdtemp(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'mesh-ingest-bench-'));
  const data = await tempDir('mesh-ingest-bench-data-');
  const nats = await startNatsServer();
  let nc: NatsConnection | undefined;
  const cleanup = async () => {
    await nc?.close().catch(() => undefined);
    await nats.cleanup();
    await data.remove();
    if (!KEEP) await rm(work, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  try {
    log('making images ...');
    const small = await smallJpegs();
    const large = QUICK
      ? [await noisyPng(18 * MB, 0), await noisyPng(22 * MB, 1)]
      : await Promise.all([12, 20, 28].map((mb, i) => noisyPng(mb * MB, i)));
    log(
      `  ${small.length} small JPEGs (${small.map((b) => (b.length / 1000).toFixed(0)).join(', ')} KB), ` +
        `${large.length} noisy PNGs (${large.map((b) => (b.length / MB).toFixed(1)).join(', ')} MB)`,
    );
    log('writing archives ...');
    // The raw side connects as the mesh's services do (libs/nats connectNats).
    nc = await connectNats(nats.url, 'bench-raw');
    const rows: Row[] = [];
    for (const kind of kinds) {
      // One archive on disk at a time keeps the disk use to the largest one plus its copy in the store.
      const archive = await makeArchive(kind, work, { small, large });
      for (let round = 1; round <= REPEAT; round++) {
        for (const route of ROUTES) rows.push(await benchArchive(nc, nats.url, nats.pid!, data.dir, archive, route, round));
      }
      if (!KEEP) await rm(archive.file, { force: true });
    }
    const loadAfter = load();
    const summary = `${os.availableParallelism()} cores, load average ${loadBefore} before, ${loadAfter} after`;
    log('\n' + table(rows));
    if (REPEAT > 1) log('\nMedians over the rounds:\n\n' + medianTable(rows));
    log(
      `\nMB = 10^6 bytes of image payload (what lands in the object store); uploaded by ${CLIENT}; ingest until the 202 answer (tus: until job.sealed); ` +
        `raw put = the same payloads, one object at a time, with the @nats-io/obj client's putBlob and with the mesh's putObject; ` +
        `ratio = ingest / raw (target >= 0.8x); ` +
        `peak RSS = the gateway's VmHWM (target < 300 MB for 5 GiB).`,
    );
    for (const r of rows) {
      log(
        `  ${r.archive} ${r.route} (${r.note}): gateway idle RSS ${r.idleRssMiB.toFixed(0)} MiB, max sampled VmRSS ${r.sampledMaxRssMiB.toFixed(0)} MiB, ` +
          `CPU s: ingest ${r.ingest.seconds.toFixed(1)} s wall: gateway ${r.cpu.ingest.gateway.toFixed(1)}, ` +
          `nats-server ${r.cpu.ingest.natsServer.toFixed(1)}, uploading client (${CLIENT} + bench) ${r.cpu.ingest.client.toFixed(1)}; ` +
          `raw putBlob ${r.rawSeconds.toFixed(1)} s wall: client ${r.cpu.raw.client.toFixed(1)}, nats-server ${r.cpu.raw.natsServer.toFixed(1)}; ` +
          `raw putObject ${r.meshRawSeconds.toFixed(1)} s wall: client ${r.cpu.meshRaw.client.toFixed(1)}, nats-server ${r.cpu.meshRaw.natsServer.toFixed(1)}` +
          (r.ingest.error ? `; answer: ${r.ingest.error.replace(/\s+/g, ' ').slice(0, 200)}` : ''),
      );
    }
    log(summary);
    if (JSON_OUT) console.log(JSON.stringify({ cores: os.availableParallelism(), loadBefore, loadAfter, rows }));
  } finally {
    await cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
