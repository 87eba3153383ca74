import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ObjectStore } from '@nats-io/obj';
import { PipelineEvent } from '@mesh/contracts';
import { readObject } from '@mesh/nats';
import { fixturePhotosDir } from '@mesh/testing';
import { startTestGateway, type TestGateway } from './test-gateway.js';
import { makeZip, storedEvents } from './test-zip.js';


describe('gateway upload', () => {
  let gateway: TestGateway;
  let nc: NatsConnection;
  let store: ObjectStore;
  let base: string;

  before(async () => {
    gateway = await startTestGateway('gateway-test');
    ({ nc, store, base } = gateway);
  });
  after(() => gateway.stop());

  const upload = (files: Record<string, Buffer>) => {
    const form = new FormData();
    for (const [name, data] of Object.entries(files)) form.append("file", new Blob([new Uint8Array(data)]), name);
    return fetch(`${base}/upload`, { method: 'POST', body: form });
  };

  it('cuts a zip into one stored chunk per image, skips the rest with reasons, and seals the job', async () => {
    const photos = fixturePhotosDir();
    const grace = await readFile(path.join(photos, 'grace_hopper.jpg'));
    const coffee = await readFile(path.join(photos, 'coffee.png'));
    const zip = await makeZip({
      'shoot/grace_hopper.jpg': grace,
      'shoot/nested/coffee.png': coffee,
      'shoot/notes.txt': Buffer.from('hello'),
      '__MACOSX/shoot/._grace_hopper.jpg': Buffer.from('meta'),
    });
    const res = await upload({ 'photos.zip': zip });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { job_id: string; chunks: number };
    assert.equal(body.chunks, 2);

    const events = (await storedEvents(nc)).filter((e) => e.job_id === body.job_id && e.type !== 'job.progress');
    assert.deepEqual(events.map((e) => e.type), ['job.created', 'chunk.ingested', 'chunk.ingested', 'job.sealed']);
    // Stored a few at a time: events may come in any order; chunk ids follow the upload.
    const ingested = events
      .filter((e): e is Extract<PipelineEvent, { type: 'chunk.ingested' }> => e.type === 'chunk.ingested')
      .sort((a, b) => a.chunk_id.localeCompare(b.chunk_id));
    assert.deepEqual(ingested.map((e) => e.name), ['shoot/grace_hopper.jpg', 'shoot/nested/coffee.png']);
    for (const [e, bytes] of [[ingested[0]!, grace], [ingested[1]!, coffee]] as const) {
      assert.equal(e.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.ok((await readObject(store, e.object)).equals(bytes), `${e.name} stored byte for byte`);
    }
    const sealed = events.at(-1);
    assert.equal(sealed?.type === 'job.sealed' && sealed.total_chunks, 2);
    assert.deepEqual(sealed?.type === 'job.sealed' && sealed.skipped.map((s) => s.reason).sort(), ['macOS metadata', 'not an image']);
  });

  it('takes plain image files as parts', async () => {
    const rocket = await readFile(path.join(fixturePhotosDir(), 'rocket.jpg'));
    const res = await upload({ 'a.jpg': rocket, 'b.jpg': rocket });
    assert.equal(res.status, 202);
    assert.equal(((await res.json()) as { chunks: number }).chunks, 2);
  });

  it('answers a bad upload with 400 and a JSON reason', async () => {
    const notMultipart = await fetch(`${base}/upload`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    assert.equal(notMultipart.status, 400);
    assert.match(((await notMultipart.json()) as { error: string }).error, /multipart/);

    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(Buffer.from('x'))]), 'a.jpg');
    const badCallback = await fetch(`${base}/upload?callback_url=${encodeURIComponent('file:///etc/passwd')}`, { method: 'POST', body: form });
    assert.equal(badCallback.status, 400);
    assert.match(((await badCallback.json()) as { error: string }).error, /callback_url/);

    const noImages = await upload({ 'readme.txt': Buffer.from('no photos here') });
    assert.equal(noImages.status, 400);
    assert.match(((await noImages.json()) as { error: string }).error, /no images/);

    const damaged = await upload({ 'broken.zip': Buffer.from('PK\u0003\u0004 this is not really a zip archive at all') });
    assert.equal(damaged.status, 400);
    assert.match(((await damaged.json()) as { error: string }).error, /zip/);
  });

  it('answers an upload over MAX_UPLOAD_SIZE with 413', async () => {
    const res = await upload({ 'big.jpg': Buffer.alloc(51 * 1024 * 1024) });
    assert.equal(res.status, 413);
    assert.match(((await res.json()) as { error: string }).error, /MAX_UPLOAD_SIZE/);
  });

  it('answers an unknown job with 404 and a JSON error on every job route', async () => {
    for (const route of ['/status/nope', '/status/nope/events', '/download/nope', '/status/no.such']) {
      const res = await fetch(base + route);
      assert.equal(res.status, 404, route);
      assert.match(((await res.json()) as { error: string }).error, /no job/);
    }
  });
});
