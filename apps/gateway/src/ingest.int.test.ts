import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import sharp from 'sharp';
import tar from 'tar-stream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ObjectStore } from '@nats-io/obj';
import { PipelineEvent, objects } from '@mesh/contracts';
import { fixturePhotosDir } from '@mesh/testing';
import { startTestGateway, type TestGateway } from './test-gateway.js';
import { makeZip, storedEvents } from './test-zip.js';


async function makeTar(entries: Record<string, Buffer>, gzip: boolean): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, data] of Object.entries(entries)) pack.entry({ name, size: data.length }, data);
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const p of pack) parts.push(p as Buffer);
  const raw = Buffer.concat(parts);
  return gzip ? zlib.gzipSync(raw) : raw;
}

/** Rename an entry in place (same length), in its local header and the central directory. */
function patchName(zip: Buffer, from: string, to: string): Buffer {
  const out = Buffer.from(zip);
  for (let i = out.indexOf(from); i >= 0; i = out.indexOf(from, i + 1)) out.write(to, i, 'latin1');
  return out;
}

/** A real JPEG whose header claims `w` x `h` pixels. */
async function pixelBomb(w: number, h: number): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).jpeg().toBuffer();
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  jpeg.writeUInt16BE(h, sof + 5);
  jpeg.writeUInt16BE(w, sof + 7);
  return jpeg;
}

describe('gateway ingest of bad and unusual input', function () {
  this.timeout(60_000);
  let gateway: TestGateway;
  let nc: NatsConnection;
  let store: ObjectStore;
  let base: string;
  let grace: Buffer;
  let rocket: Buffer;

  before(async () => {
    gateway = await startTestGateway('ingest-test');
    ({ nc, store, base } = gateway);
    grace = await readFile(path.join(fixturePhotosDir(), 'grace_hopper.jpg'));
    rocket = await readFile(path.join(fixturePhotosDir(), 'rocket.jpg'));
  });
  after(() => gateway.stop());

  const upload = async (files: Record<string, Buffer>) => {
    const form = new FormData();
    for (const [name, data] of Object.entries(files)) form.append('file', new Blob([new Uint8Array(data)]), name);
    const res = await fetch(`${base}/upload`, { method: 'POST', body: form });
    return { status: res.status, body: (await res.json()) as { job_id: string; chunks: number; error?: string; skipped: { name: string; reason: string }[] } };
  };
  // Entries are stored a few at a time, so events may come in any order; chunk ids follow the upload.
  const ingestedNames = async (jobId: string) =>
    (await storedEvents(nc, jobId))
      .flatMap((e) => (e.type === 'chunk.ingested' ? [[e.chunk_id, e.name] as const] : []))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, name]) => name);

  it('refuses traversal, absolute paths, zip bombs and pixel bombs one by one, and keeps the good images', async () => {
    // yazl refuses to write such names, so they are patched into the archive afterwards.
    let zip = await makeZip({
      'aa/aa/escape.jpg': grace,
      'xetc/absolute.jpg': grace,
      'ok/grace.jpg': grace,
      'bomb.png': Buffer.alloc(30 * 1024 * 1024),
      'huge.jpg': await pixelBomb(30000, 30000),
      'ok/rocket.jpg': rocket,
      '.DS_Store': Buffer.from('x'),
      'empty.jpg': Buffer.alloc(0),
    });
    zip = patchName(patchName(zip, 'aa/aa/escape.jpg', '../../escape.jpg'), 'xetc/absolute.jpg', '/etc/absolute.jpg');
    const { status, body } = await upload({ 'mixed.zip': zip });
    assert.equal(status, 202);
    assert.deepEqual(await ingestedNames(body.job_id), ['ok/grace.jpg', 'ok/rocket.jpg']);
    const reasons = Object.fromEntries(body.skipped.map((s) => [s.name, s.reason]));
    assert.match(reasons['../../escape.jpg'] ?? '', /path traversal/);
    assert.match(reasons['/etc/absolute.jpg'] ?? '', /absolute path/);
    assert.match(reasons['bomb.png'] ?? '', /compression ratio above 100:1|more than/);
    assert.match(reasons['huge.jpg'] ?? '', /30000x30000 pixels, more than MATTING_MAX_PIXELS/);
    assert.match(reasons['.DS_Store'] ?? '', /hidden/);
    assert.match(reasons['empty.jpg'] ?? '', /empty|zero/);
    const names = [];
    for await (const info of await store.list()) names.push(info.name);
    assert.ok(names.every((n) => n.startsWith(`${body.job_id}/`) || !n.includes('escape')), 'nothing written outside the job');
  });

  it('stores an image too large to hold (over 16 MiB) as it streams, byte for byte, beside a small one', async () => {
    // Noise does not compress: a 17 MiB PNG, read and stored piece by piece rather than whole.
    const side = 2450;
    const noise = Buffer.alloc(side * side * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
    const big = await sharp(noise, { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
    assert.ok(big.length > 16 * 1024 * 1024);

    const res = await upload({ 'big.png': big, 'rocket.jpg': rocket });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.chunks, 2);
    const events = (await storedEvents(nc, res.body.job_id)).flatMap((e) => (e.type === 'chunk.ingested' ? [e] : []));
    const bigEvent = events.find((e) => e.name === 'big.png');
    assert.equal(bigEvent?.bytes, big.length);
    assert.equal(bigEvent?.sha256, createHash('sha256').update(big).digest('hex'));
    const stored = await store.getBlob(bigEvent!.object);
    assert.ok(stored && Buffer.from(stored).equals(big));
  });

  it('keeps the chunks read before an archive breaks, and says where it broke', async () => {
    const zip = await makeZip({ 'a/first.jpg': grace, 'a/second.jpg': rocket, 'a/third.jpg': grace });
    const cut = zip.subarray(0, zip.indexOf(Buffer.from('a/third.jpg')) + 500);
    const { status, body } = await upload({ 'cut.zip': cut });
    assert.equal(status, 400);
    assert.match(body.error ?? '', /damaged at byte \d+, after entry 'a\/third\.jpg'.*truncated/);
    assert.deepEqual(await ingestedNames(body.job_id), ['a/first.jpg', 'a/second.jpg']);
    const sealed = (await storedEvents(nc, body.job_id)).find((e) => e.type === 'job.sealed');
    assert.equal(sealed?.type === 'job.sealed' && sealed.total_chunks, 2);
    assert.match((sealed?.type === 'job.sealed' && sealed.archive_error) || '', /damaged/);
  });

  it('reads tar and tar.gz archives with nested folders', async () => {
    for (const [file, gzip] of [['shoot.tar', false], ['shoot.tar.gz', true]] as const) {
      const archive = await makeTar({ 'shoot/day1/grace.jpg': grace, 'shoot/notes.txt': Buffer.from('hi'), 'shoot/rocket.jpg': rocket }, gzip);
      const { status, body } = await upload({ [file]: archive });
      assert.equal(status, 202, file);
      assert.deepEqual(await ingestedNames(body.job_id), ['shoot/day1/grace.jpg', 'shoot/rocket.jpg'], file);
      assert.deepEqual(body.skipped, [{ name: 'shoot/notes.txt', reason: 'not an image' }]);
    }
  });

  it('answers an upload that outgrows MAX_UPLOAD_SIZE with 413, fails the job and removes what it stored', async () => {
    // No Content-Length: the size is only known as the bytes arrive.
    const boundary = 'mesh-test-boundary';
    const res = await new Promise<{ status: number; body: { job_id: string; error: string } }>((resolve, reject) => {
      const req = http.request(`${base}/upload`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' } }, (r) => {
        let text = '';
        r.on('data', (d) => (text += d)).on('end', () => resolve({ status: r.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      const part = (name: string, data: Buffer) =>
        Buffer.concat([Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${name}"\r\n\r\n`), data, Buffer.from('\r\n')]);
      req.write(part('first.jpg', grace));
      const big = Buffer.alloc(1024 * 1024, 7);
      let sent = 0;
      const pump = () => {
        while (sent < 60) {
          sent++;
          if (!req.write(big)) return void req.once('drain', pump);
        }
        req.end(`\r\n--${boundary}--\r\n`);
      };
      req.write(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n`));
      pump();
    }).catch((err: unknown) => ({ status: -1, body: { job_id: '', error: String(err) } }));
    assert.equal(res.status, 413, JSON.stringify(res.body));
    assert.match(res.body.error, /MAX_UPLOAD_SIZE/);
    const events = await storedEvents(nc, res.body.job_id);
    const failed = events.find((e) => e.type === 'job.failed');
    assert.equal(failed?.type === 'job.failed' && failed.kind, 'too_large');
    const info = await store.info(objects.original(res.body.job_id, 'c0000001'));
    assert.ok(info === null || info.deleted, 'stored chunk removed');
  });

  it('marks the job interrupted when the client goes away mid-upload', async () => {
    const boundary = 'mesh-cut';
    const jobRes = await fetch(`${base}/jobs`, { method: 'POST' });
    assert.equal(jobRes.status, 201);
    const { job_id } = (await jobRes.json()) as { job_id: string };
    await new Promise<void>((resolve) => {
      const req = http.request(`${base}/upload?job_id=${job_id}`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': '10000000' } });
      req.on('error', () => resolve());
      req.write(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n`);
      req.write(grace.subarray(0, 20000), () => setTimeout(() => {
        req.destroy();
        resolve();
      }, 300));
    });
    const deadline = Date.now() + 10_000;
    let failed: PipelineEvent | undefined;
    while (!failed && Date.now() < deadline) {
      failed = (await storedEvents(nc, job_id)).find((e) => e.type === 'job.failed');
      if (!failed) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(failed?.type === 'job.failed' && failed.kind, 'interrupted');
    assert.match((failed?.type === 'job.failed' && failed.reason) || '', /client went away after \d+ bytes/);
  });

  it('reports bytes received while an upload to a job opened in advance arrives', async () => {
    const { job_id } = (await (await fetch(`${base}/jobs`, { method: 'POST' })).json()) as { job_id: string };
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(await makeZip({ 'g.jpg': grace }))]), 'one.zip');
    const res = await fetch(`${base}/upload?job_id=${job_id}`, { method: 'POST', body: form });
    assert.equal(res.status, 202);
    const events = await storedEvents(nc, job_id);
    const progress = events.filter((e) => e.type === 'job.progress');
    assert.ok(progress.length >= 1 && progress[0]?.type === 'job.progress' && progress[0].bytes_received > 0);
    assert.equal(events.filter((e) => e.type === 'job.created').length, 1, 'one job, opened once');
    const again = await fetch(`${base}/upload?job_id=${job_id}`, { method: 'POST', body: form });
    assert.equal(again.status, 409);
  });

  it('carries the cut-out format a job asks for on every chunk, and refuses one it does not know', async () => {
    const form = () => {
      const f = new FormData();
      f.append('file', new Blob([new Uint8Array(grace)]), 'g.jpg');
      f.append('file', new Blob([new Uint8Array(rocket)]), 'r.jpg');
      return f;
    };
    const formats = (events: PipelineEvent[]) =>
      events.map((e) => (e.type === 'job.created' || e.type === 'chunk.ingested' ? `${e.type}:${e.cutout_format ?? '-'}` : '')).filter(Boolean);

    const direct = (await (await fetch(`${base}/upload?cutout_format=webp`, { method: 'POST', body: form() })).json()) as { job_id: string };
    assert.deepEqual(formats(await storedEvents(nc, direct.job_id)), ['job.created:webp', 'chunk.ingested:webp', 'chunk.ingested:webp']);

    // Chosen when the job is opened; the upload to it follows that choice.
    const opened = (await (await fetch(`${base}/jobs?cutout_format=webp`, { method: 'POST' })).json()) as { job_id: string };
    assert.equal((await fetch(`${base}/upload?job_id=${opened.job_id}`, { method: 'POST', body: form() })).status, 202);
    assert.deepEqual(formats(await storedEvents(nc, opened.job_id)), ['job.created:webp', 'chunk.ingested:webp', 'chunk.ingested:webp']);

    const plain = (await (await fetch(`${base}/upload`, { method: 'POST', body: form() })).json()) as { job_id: string };
    assert.deepEqual(formats(await storedEvents(nc, plain.job_id)), ['job.created:-', 'chunk.ingested:-', 'chunk.ingested:-'], 'PNG by default');

    const bad = await fetch(`${base}/upload?cutout_format=gif`, { method: 'POST', body: form() });
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: 'cutout_format must be one of png, webp' });
    const late = await fetch(`${base}/jobs`, { method: 'POST' }).then((r) => r.json() as Promise<{ job_id: string }>);
    const mixed = await fetch(`${base}/upload?job_id=${late.job_id}&cutout_format=webp`, { method: 'POST', body: form() });
    assert.equal(mixed.status, 400);
    assert.match(((await mixed.json()) as { error: string }).error, /belong to POST \/jobs/);
  });

  it('keeps serving other users while one upload is still arriving', async () => {
    const boundary = 'mesh-slow';
    const req = http.request(`${base}/upload`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'transfer-encoding': 'chunked' },
    });
    const answer = new Promise<number>((resolve, reject) => {
      req.on('response', (r) => resolve(r.statusCode ?? 0));
      req.on('error', reject);
    });
    req.write(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="slow.jpg"\r\n\r\n`);
    req.write(grace.subarray(0, 30000));

    // Meanwhile, another user uploads and reads.
    const other = await upload({ 'other.jpg': rocket });
    assert.equal(other.status, 202);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);

    req.end(Buffer.concat([grace.subarray(30000), Buffer.from(`\r\n--${boundary}--\r\n`)]));
    assert.equal(await answer, 202);
  });
});
