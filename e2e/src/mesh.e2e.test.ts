import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import unzipper from 'unzipper';
import { fixturePhotosDir, startNatsServer, tempDir, type NatsServerHandle } from '@mesh/testing';
import { uploadPhotos, waitDone, zipOf, type Status } from './mesh-client.js';
import { readSse } from './sse-client.js';
import { startServices, type RunningMesh } from './services.js';

/** Mean of a single-channel image over a box given in fractions of its size. */
async function meanIn(png: Buffer, x0: number, y0: number, x1: number, y1: number): Promise<number> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  let n = 0;
  for (let y = Math.floor(y0 * info.height); y < Math.floor(y1 * info.height); y++) {
    for (let x = Math.floor(x0 * info.width); x < Math.floor(x1 * info.width); x++) {
      sum += data[(y * info.width + x) * info.channels]!;
      n++;
    }
  }
  return sum / n;
}

describe('the whole mesh, end to end', function () {
  this.timeout(10 * 60_000);
  let nats: NatsServerHandle;
  let data: { dir: string; remove: () => Promise<void> };
  let mesh: RunningMesh;

  before(async () => {
    nats = await startNatsServer();
    data = await tempDir('mesh-e2e-');
    mesh = await startServices(nats.url, data.dir);
  });
  after(async () => {
    await mesh?.stop();
    await nats?.cleanup();
    await data?.remove();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(mesh.output());
  });

  it('uploads the fixture photos as a zip, follows SSE to the end, and downloads every result', async () => {
    const dir = fixturePhotosDir();
    const photos = (await readdir(dir)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
    assert.ok(photos.length >= 6, `fixture photos in ${dir}`);
    const entries: [string, Buffer][] = [];
    for (const f of photos) entries.push([`photos/${f}`, await readFile(path.join(dir, f))]);
    // A corrupt image fails alone, with its reason; the rest of the job goes on.
    entries.push(['photos/broken.jpg', Buffer.from('this is not a JPEG at all')]);

    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(await zipOf(entries))]), 'shoot.zip');
    const res = await fetch(`${mesh.baseUrl}/upload`, { method: 'POST', body: form });
    assert.equal(res.status, 202, await res.clone().text());
    const { job_id } = (await res.json()) as { job_id: string };

    const events = await readSse(`${mesh.baseUrl}/status/${job_id}/events`, (e) => e.event === 'done', 8 * 60_000);
    const final = JSON.parse(events.at(-1)!.data) as Status;
    assert.equal(events.at(-1)!.event, 'done');
    assert.ok(events.filter((e) => e.event === 'status').length >= 2, 'progress was reported more than once');
    const progress = events.map((e) => (JSON.parse(e.data) as Status).progress);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress never goes back');
    assert.deepEqual(
      { state: final.state, total: final.total, completed: final.completed, failed: final.failed, progress: final.progress },
      { state: 'completed_with_failures', total: photos.length + 1, completed: photos.length, failed: 1, progress: 1 },
    );
    assert.equal(final.failures[0]?.name, 'photos/broken.jpg');
    assert.match(final.failures[0]?.reason ?? '', /cannot decode image/);

    const status = (await (await fetch(`${mesh.baseUrl}/status/${job_id}`)).json()) as Status;
    assert.deepEqual(status, final);

    const download = await fetch(`${mesh.baseUrl}/download/${job_id}`);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-type'), 'application/zip');
    const zip = await unzipper.Open.buffer(Buffer.from(await download.arrayBuffer()));
    const files = new Map(zip.files.map((f) => [f.path, f]));
    const read = (name: string) => {
      const f = files.get(name);
      assert.ok(f, `${name} is in the download (has ${[...files.keys()].join(', ')})`);
      return f.buffer();
    };

    for (const photo of photos) {
      const stem = `photos/${photo.replace(/\.[^.]+$/, '')}`;
      const original = await sharp(path.join(dir, photo)).metadata();
      const matte = await sharp(await read(`matte/${stem}.png`)).metadata();
      assert.deepEqual([matte.width, matte.height, matte.channels], [original.width, original.height, 1], `${photo} matte`);
      const cutout = await sharp(await read(`cutout/${stem}.png`)).metadata();
      assert.deepEqual([cutout.width, cutout.height, cutout.channels, cutout.hasAlpha], [original.width, original.height, 4, true], `${photo} cut-out`);
      const comparison = await sharp(await read(`comparison/${stem}.jpg`)).metadata();
      assert.equal(comparison.format, 'jpeg', `${photo} comparison`);
    }

    // Counts from SQLite equal what the download holds.
    const cutouts = [...files.keys()].filter((k) => k.startsWith('cutout/'));
    assert.equal(cutouts.length, status.completed);
    assert.equal([...files.keys()].filter((k) => k.startsWith('matte/')).length, status.completed);
    assert.equal([...files.keys()].filter((k) => k.startsWith('comparison/')).length, status.completed);
    assert.ok(!files.has('matte/photos/broken.png'), 'the failed image has no results');
    const inZip = JSON.parse((await read('status.json')).toString()) as Status;
    assert.equal(inZip.completed, status.completed);
    const report = JSON.parse((await read('report.json')).toString()) as { totals: { completed: number; measured: number } };
    assert.deepEqual([report.totals.completed, report.totals.measured], [status.completed, status.completed], 'every completed image is measured');
    assert.match((await read('report.html')).toString(), /data:image\/jpeg;base64,/, 'the HTML report inlines thumbnails');

    // The model really removed the background: Grace Hopper is kept, the wall behind her is not.
    const grace = await read('matte/photos/grace_hopper.png');
    assert.ok((await meanIn(grace, 0.35, 0.2, 0.65, 0.5)) > 200, 'centre of the person is opaque');
    assert.ok((await meanIn(grace, 0, 0, 0.2, 0.25)) < 30, 'top-left corner is transparent');
    assert.ok((await meanIn(grace, 0.8, 0, 1, 0.25)) < 30, 'top-right corner is transparent');
  });

  it('delivers lossless WebP cut-outs to a job that asks for them', async () => {
    const dir = fixturePhotosDir();
    const jobId = await uploadPhotos(mesh.baseUrl, dir, ['rocket.jpg'], '?cutout_format=webp');
    const final = await waitDone(mesh.baseUrl, jobId, 5 * 60_000);
    assert.deepEqual([final.state, final.completed], ['completed', 1]);
    const zip = await unzipper.Open.buffer(Buffer.from(await (await fetch(`${mesh.baseUrl}/download/${jobId}`)).arrayBuffer()));
    const names = zip.files.map((f) => f.path).sort();
    assert.ok(names.includes('cutout/photos/rocket.webp'), names.join(', '));
    assert.ok(names.includes('matte/photos/rocket.png') && names.includes('comparison/photos/rocket.jpg'), names.join(', '));
    const cutout = await zip.files.find((f) => f.path === 'cutout/photos/rocket.webp')!.buffer();
    const meta = await sharp(cutout).metadata();
    const original = await sharp(await readFile(path.join(dir, 'rocket.jpg'))).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.hasAlpha], ['webp', original.width, original.height, true]);
  });

  it('completes the good images of an archive full of bad entries, listing every refusal', async () => {
    const dir = fixturePhotosDir();
    const bomb = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).jpeg().toBuffer();
    const sof = bomb.indexOf(Buffer.from([0xff, 0xc0]));
    bomb.writeUInt16BE(40000, sof + 5);
    bomb.writeUInt16BE(40000, sof + 7);
    const zip = await zipOf([
      ['ok/grace_hopper.jpg', await readFile(path.join(dir, 'grace_hopper.jpg'))],
      ['bomb/huge.jpg', bomb],
      ['notes.txt', Buffer.from('not a photo')],
      ['empty.png', Buffer.alloc(0)],
      ['ok/coffee.png', await readFile(path.join(dir, 'coffee.png'))],
    ]);
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(zip)]), 'mixed.zip');
    const res = await fetch(`${mesh.baseUrl}/upload`, { method: 'POST', body: form });
    assert.equal(res.status, 202);
    const { job_id } = (await res.json()) as { job_id: string };
    const events = await readSse(`${mesh.baseUrl}/status/${job_id}/events`, (e) => e.event === 'done', 5 * 60_000);
    const final = JSON.parse(events.at(-1)!.data) as Status & { skipped: { name: string; reason: string }[]; upload: { bytes_received: number } };
    assert.deepEqual([final.state, final.total, final.completed, final.failed], ['completed', 2, 2, 0]);
    assert.deepEqual(final.skipped.map((s) => s.name).sort(), ['bomb/huge.jpg', 'empty.png', 'notes.txt']);
    assert.match(final.skipped.find((s) => s.name === 'bomb/huge.jpg')!.reason, /40000x40000 pixels/);
    assert.ok(final.upload.bytes_received >= zip.length, 'bytes received reported');
  });
});
