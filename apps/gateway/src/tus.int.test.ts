import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile, readdir, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { PipelineEvent, objects } from '@mesh/contracts';
import { fixturePhotosDir, waitFor } from '@mesh/testing';
import { startTestGateway, type TestGateway } from './test-gateway.js';
import { makeZip, storedEvents, testLimits } from './test-zip.js';
import { ingestedChunks, jobState } from './job-state.js';
import { createTusServer, stopCutters, tusHousekeeping, type TusDeps } from './tus.js';

const TUS = { 'tus-resumable': '1.0.0' };


/** Name and SHA-256 of every chunk of a job, in order: what "the same chunks" means. */
const chunksOf = (events: PipelineEvent[]) =>
  events.flatMap((e) => (e.type === 'chunk.ingested' ? [`${e.chunk_id} ${e.name} ${e.sha256}`] : [])).sort();

describe('resumable uploads (tus)', function () {
  this.timeout(60_000);
  let gateway: TestGateway;
  let nc: NatsConnection;
  let base: string;
  let tusDeps: TusDeps;

  before(async () => {
    gateway = await startTestGateway('tus-test', async (parts) => {
      tusDeps = {
        store: parts.store,
        publisher: parts.publisher,
        limits: testLimits,
        directory: path.join(parts.dir, 'tus'),
        log: () => undefined,
        knownChunks: (id) => ingestedChunks(parts.nc, id),
      };
      return createTusServer(tusDeps);
    });
    ({ nc, base } = gateway);
  });
  after(() => gateway.stop());

  it('resumes an upload cut midway and ends with the same chunks as an uninterrupted one', async () => {
    const photos = fixturePhotosDir();
    const zip = await makeZip({
      'shoot/grace.jpg': await readFile(path.join(photos, 'grace_hopper.jpg')),
      'shoot/coffee.png': await readFile(path.join(photos, 'coffee.png')),
      'shoot/rocket.jpg': await readFile(path.join(photos, 'rocket.jpg')),
    });

    // The reference: the same archive over the plain multipart route.
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(zip)]), 'shoot.zip');
    const plain = (await (await fetch(`${base}/upload`, { method: 'POST', body: form })).json()) as { job_id: string };

    const created = await fetch(`${base}/files`, {
      method: 'POST',
      headers: { ...TUS, 'upload-length': String(zip.length), 'upload-metadata': `filename ${Buffer.from('shoot.zip').toString('base64')}` },
    });
    assert.equal(created.status, 201);
    const location = created.headers.get('location')!;
    const jobId = location.split('/').pop()!;
    const url = new URL(location, base).toString();

    // The connection drops 60% of the way through the first PATCH.
    await new Promise<void>((resolve) => {
      const req = http.request(url, {
        method: 'PATCH',
        headers: { ...TUS, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream', 'content-length': String(zip.length) },
      });
      req.on('error', () => resolve());
      req.on('response', () => resolve());
      req.write(zip.subarray(0, Math.floor(zip.length * 0.6)), () => setTimeout(() => (req.destroy(), resolve()), 300));
    });

    const head = await fetch(url, { method: 'HEAD', headers: TUS });
    const offset = Number(head.headers.get('upload-offset'));
    assert.ok(offset > 0 && offset < zip.length, `server kept ${offset} of ${zip.length} bytes`);

    const resumed = await fetch(url, {
      method: 'PATCH',
      headers: { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
      body: new Uint8Array(zip.subarray(offset)),
    });
    assert.equal(resumed.status, 204);
    assert.equal(resumed.headers.get('mesh-job-id'), jobId);

    const events = await eventsUntil(jobId, 'job.sealed');
    assert.deepEqual(chunksOf(events), chunksOf(await storedEvents(nc, plain.job_id)));
    assert.equal(chunksOf(events).length, 3);
    assert.ok(events.some((e) => e.type === 'job.progress' && e.bytes_received > 0), 'bytes received are reported');
  });

  it('takes the first bytes with the creation (creation-with-upload) and the rest by PATCH', async () => {
    const photos = fixturePhotosDir();
    const zip = await makeZip({
      'a/grace.jpg': await readFile(path.join(photos, 'grace_hopper.jpg')),
      'a/rocket.jpg': await readFile(path.join(photos, 'rocket.jpg')),
    });
    const first = Math.floor(zip.length / 3);
    const created = await fetch(`${base}/files`, {
      method: 'POST',
      headers: {
        ...TUS,
        'upload-length': String(zip.length),
        'upload-metadata': `filename ${Buffer.from('a.zip').toString('base64')}`,
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(zip.subarray(0, first)),
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('upload-offset'), String(first));
    const location = created.headers.get('location')!;
    const jobId = location.split('/').pop()!;
    const rest = await fetch(new URL(location, base), {
      method: 'PATCH',
      headers: { ...TUS, 'upload-offset': String(first), 'content-type': 'application/offset+octet-stream' },
      body: new Uint8Array(zip.subarray(first)),
    });
    assert.equal(rest.status, 204);
    const events = await eventsUntil(jobId, 'job.sealed');
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'chunk.ingested' ? [e.name] : [])).sort(),
      ['a/grace.jpg', 'a/rocket.jpg'],
    );
  });

  /** Open a tus upload of `zip` and send all but its last `keep` bytes; the job id. */
  async function partialUpload(zip: Buffer, keep: number, metadata: Record<string, string> = {}): Promise<string> {
    const meta = Object.entries({ filename: 'shoot.zip', ...metadata })
      .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
      .join(',');
    const created = await fetch(`${base}/files`, {
      method: 'POST',
      headers: { ...TUS, 'upload-length': String(zip.length), 'upload-metadata': meta },
    });
    assert.equal(created.status, 201);
    const location = created.headers.get('location')!;
    const sent = await fetch(new URL(location, base), {
      method: 'PATCH',
      headers: { ...TUS, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body: new Uint8Array(zip.subarray(0, zip.length - keep)),
    });
    assert.equal(sent.status, 204);
    return location.split('/').pop()!;
  }

  const housekeeping = (expiryMs: number) =>
    tusHousekeeping(tusDeps, { jobState: (id) => jobState(nc, id), expiryMs, sweepIntervalMs: 3_600_000 });

  async function eventsUntil(jobId: string, type: PipelineEvent['type']): Promise<PipelineEvent[]> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const events = await storedEvents(nc, jobId);
      if (events.some((e) => e.type === type) || Date.now() > deadline) return events;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('cuts an upload while its bytes arrive; a restarted gateway cuts on without storing or publishing a chunk twice', async () => {
    const photos = fixturePhotosDir();
    const zip = await makeZip({
      'a/rocket.jpg': await readFile(path.join(photos, 'rocket.jpg')),
      'a/chelsea.png': await readFile(path.join(photos, 'chelsea.png')),
      'a/coffee.png': await readFile(path.join(photos, 'coffee.png')),
    });
    // The first part holds the first two entries whole and the start of the third.
    const local = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
    const third = zip.indexOf(local, zip.indexOf(local, zip.indexOf(local) + 4) + 4);
    const jobId = await partialUpload(zip, zip.length - (third + 10), { cutout_format: 'webp' });

    const ingested = async () => (await storedEvents(nc, jobId)).filter((e) => e.type === 'chunk.ingested');
    await waitFor('the first two chunks, cut while the upload is unfinished', async () => (await ingested()).length === 2, 10_000);
    const head = await fetch(`${base}/files/${jobId}`, { method: 'HEAD', headers: TUS });
    assert.ok(Number(head.headers.get('upload-offset')) < zip.length, 'the upload is not finished');
    const nuids = async () =>
      Promise.all(['c0000001', 'c0000002'].map(async (c) => (await tusDeps.store.info(objects.original(jobId, c)))?.nuid));
    const before = await nuids();

    // The gateway stops (SIGTERM) and a new one starts on the same files.
    await stopCutters();
    assert.equal(await jobState(nc, jobId), 'open', 'a stopped cut leaves its job open');
    (await housekeeping(24 * 3_600_000)).stop();

    // The client resumes where the server's offset says.
    const offset = Number((await fetch(`${base}/files/${jobId}`, { method: 'HEAD', headers: TUS })).headers.get('upload-offset'));
    const resumed = await fetch(`${base}/files/${jobId}`, {
      method: 'PATCH',
      headers: { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
      body: new Uint8Array(zip.subarray(offset)),
    });
    assert.equal(resumed.status, 204);

    const events = await eventsUntil(jobId, 'job.sealed');
    const sealed = events.find((e) => e.type === 'job.sealed');
    assert.ok(sealed && sealed.type === 'job.sealed', 'the job is sealed');
    assert.equal(sealed.total_chunks, 3);
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'chunk.ingested' ? [`${e.chunk_id} ${e.name} ${e.cutout_format}`] : [])),
      ['c0000001 a/rocket.jpg webp', 'c0000002 a/chelsea.png webp', 'c0000003 a/coffee.png webp'],
      'each chunk announced once, with the cut-out format chosen at creation',
    );
    assert.deepEqual(await nuids(), before, 'the chunks cut before the restart were not stored again');
    const last = events.find((e) => e.type === 'job.progress' && e.bytes_received === zip.length);
    assert.ok(last?.type === 'job.progress', 'progress reports every byte');
    assert.ok(last.chunks_found >= 2, `progress reports the chunks found while the bytes arrived (${last.chunks_found})`);
    await waitForFiles(jobId, false);
  });

  it('ends an upload abandoned for TUS_EXPIRY_HOURS as interrupted, and keeps one still within it', async () => {
    const zip = await makeZip({ 'b/rocket.jpg': await readFile(path.join(fixturePhotosDir(), 'rocket.jpg')) });
    const abandoned = await partialUpload(zip, 100);
    const recent = await partialUpload(zip, 100);
    const dayAgo = new Date(Date.now() - 25 * 3_600_000);
    await utimes(path.join(tusDeps.directory, abandoned), dayAgo, dayAgo);

    const started = await housekeeping(24 * 3_600_000);
    started.stop();
    const failed = (await eventsUntil(abandoned, 'job.failed')).find((e) => e.type === 'job.failed');
    assert.ok(failed && failed.type === 'job.failed', 'the abandoned job fails');
    assert.equal(failed.kind, 'interrupted');
    assert.match(failed.reason, /received no bytes for 24 hours after \d+ of \d+ bytes/);
    await waitForFiles(abandoned, false);
    assert.equal((await fetch(`${base}/files/${abandoned}`, { method: 'HEAD', headers: TUS })).status, 404);

    assert.equal(await jobState(nc, recent), 'open', 'an upload within the expiry can still resume');
    const head = await fetch(`${base}/files/${recent}`, { method: 'HEAD', headers: TUS });
    assert.equal(Number(head.headers.get('upload-offset')), zip.length - 100);
  });

  async function waitForFiles(jobId: string, present: boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const names = await readdir(tusDeps.directory);
      if (names.some((n) => n.startsWith(jobId)) === present) return;
      if (Date.now() > deadline) assert.fail(`files of ${jobId} ${present ? 'missing' : 'still there'}: ${names.join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('refuses an unknown cut-out format at creation', async () => {
    const res = await fetch(`${base}/files`, {
      method: 'POST',
      headers: { ...TUS, 'upload-length': '100', 'upload-metadata': `cutout_format ${Buffer.from('bmp').toString('base64')}` },
    });
    assert.equal(res.status, 400);
    assert.equal(await res.text(), 'cutout_format must be one of png, webp\n');
  });

  it('refuses a resumable upload larger than MAX_UPLOAD_SIZE at creation', async () => {
    const res = await fetch(`${base}/files`, { method: 'POST', headers: { ...TUS, 'upload-length': String(testLimits.maxUploadSize + 1) } });
    assert.equal(res.status, 413);
  });
});
