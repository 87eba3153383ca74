import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import unzipper from 'unzipper';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ObjectStore } from '@nats-io/obj';
import { PipelineEvent, objects } from '@mesh/contracts';
import { readObject, writeObject } from '@mesh/nats';
import type { Database, JobReport } from '@mesh/read-model';
import { fixturePhotosDir } from '@mesh/testing';
import { startTestGateway, type TestGateway } from './test-gateway.js';
import { groundTruthReasons } from './ingest.js';
import { makeZip, storedEvents } from './test-zip.js';


describe('gateway ground truth and job report', () => {
  let gateway: TestGateway;
  let nc: NatsConnection;
  let store: ObjectStore;
  let db: Database;
  let base: string;

  before(async () => {
    gateway = await startTestGateway('gateway-report-test');
    ({ nc, store, db, base } = gateway);
  });
  after(() => gateway.stop());

  it('pairs gt/<name>.png with the image <name>.<ext> beside the folder and stores it before the chunk is published', async () => {
    const photos = fixturePhotosDir();
    const rocket = await readFile(path.join(photos, 'rocket.jpg'));
    const [gtA, gtB, gtOrphan] = ['gt of a', 'gt of b', 'gt of nothing'].map((s) => Buffer.from(s));
    const zip = await makeZip({
      'shoot/gt/a.png': gtA!, // before its image: paired
      'shoot/a.jpg': rocket,
      'shoot/b.jpg': rocket,
      'shoot/alpha/b.png': gtB!, // after its image: refused with a reason
      'shoot/gt/zzz.png': gtOrphan!, // no image of that name
    });
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(zip)]), 'shoot.zip');
    const res = await fetch(`${base}/upload`, { method: 'POST', body: form });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { job_id: string; chunks: number; skipped: { name: string; reason: string }[] };
    assert.equal(body.chunks, 2, 'ground-truth entries are not chunks');
    assert.deepEqual(
      body.skipped.map((s) => [s.name, s.reason]).sort(),
      [
        ['shoot/alpha/b.png', groundTruthReasons.late],
        ['shoot/gt/zzz.png', groundTruthReasons.orphan],
      ],
    );
    const ingested = (await storedEvents(nc)).filter(
      (e): e is Extract<PipelineEvent, { type: 'chunk.ingested' }> => e.job_id === body.job_id && e.type === 'chunk.ingested',
    ).sort((x, y) => x.chunk_id.localeCompare(y.chunk_id));
    assert.deepEqual(ingested.map((e) => e.name), ['shoot/a.jpg', 'shoot/b.jpg']);
    const [a, b] = ingested.map((e) => e.chunk_id);
    assert.ok((await readObject(store, objects.groundTruth(body.job_id, a!))).equals(gtA!), 'a.jpg has its ground truth');
    assert.equal(await store.getBlob(objects.groundTruth(body.job_id, b!)), null, 'b.jpg has none');
  });

  describe('report of a finished job', () => {
    const job = 'job-report';
    const thumbnail = Buffer.from('a tiny jpeg');
    const figures = (extra: object) =>
      JSON.stringify({ foreground_fraction: 0.5, mean_alpha: 0.5, uncertain_fraction: 0.1, bbox: null, components: 1, flags: [], ...extra });

    before(async () => {
      db.prepare(`INSERT INTO jobs (job_id, created_at, sealed_at, total, skipped) VALUES (?, 'x', 'x', 4, '[]')`).run(job);
      const put = db.prepare(
        `INSERT INTO chunks (job_id, chunk_id, name, status, comparison_object, figures, failed_stage, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const gt = (sad: number) => ({ whole: { sad, mse: 1, grad: 1, conn: 1 }, unknown: { sad, mse: 2, grad: 2, conn: 2 }, unknown_pixels: 9, band_radius: 1 });
      put.run(job, 'c1', 'shoot/<good>.jpg', 'completed', 'o1', figures({ ground_truth: gt(2), thumbnail_object: `${job}/c1/thumbnail.jpg` }), null, null);
      put.run(job, 'c2', 'shoot/empty.jpg', 'completed', 'o2', figures({ foreground_fraction: 0, flags: ['empty'], components: 0 }), null, null);
      put.run(job, 'c3', 'shoot/bad.jpg', 'completed', 'o3', figures({ ground_truth: gt(8) }), null, null);
      put.run(job, 'c4', 'shoot/broken.jpg', 'permanently_failed', null, null, 'matting', 'the original cannot be decoded');
      await writeObject(store, `${job}/c1/thumbnail.jpg`, thumbnail);
      for (const o of ['o1', 'o2', 'o3']) await writeObject(store, o, Buffer.from(`comparison ${o}`));
    });

    it('answers GET /jobs/:id/report with totals, distributions, worst chunks, flagged and failed chunks', async () => {
      const res = await fetch(`${base}/jobs/${job}/report`);
      assert.equal(res.status, 200);
      const report = (await res.json()) as JobReport;
      assert.deepEqual(report.totals, { total: 4, completed: 3, failed: 1, measured: 3, flagged: 1, with_ground_truth: 2, skipped: 0 });
      assert.deepEqual(report.worst.find((w) => w.key === 'gt.whole.sad')?.chunks.map((c) => [c.name, c.value]), [
        ['shoot/bad.jpg', 8],
        ['shoot/<good>.jpg', 2],
      ]);
      assert.deepEqual(report.flagged.map((f) => [f.name, f.flags]), [['shoot/empty.jpg', ['empty']]]);
      assert.deepEqual(report.failed, [{ chunk_id: 'c4', name: 'shoot/broken.jpg', stage: 'matting', reason: 'the original cannot be decoded' }]);
      assert.equal(report.distributions.find((d) => d.key === 'foreground_fraction')?.bins[5]?.count, 2);
    });

    it('serves a self-contained HTML report with inline thumbnails and escaped names', async () => {
      const res = await fetch(`${base}/jobs/${job}/report.html`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      const html = await res.text();
      assert.ok(html.includes(`data:image/jpeg;base64,${thumbnail.toString('base64')}`), 'thumbnail inlined');
      assert.ok(html.includes('shoot/&lt;good&gt;.jpg') && !html.includes('<good>'), 'names escaped');
      assert.ok(html.includes('the original cannot be decoded'));
      assert.doesNotMatch(html, /<script|src="http|href="http/, 'nothing external');
    });

    it('puts the summary into /status once the job is done', async () => {
      const status = (await (await fetch(`${base}/status/${job}`)).json()) as { done: boolean; summary: { measured: number; flags: Record<string, number>; mean: Record<string, number> } };
      assert.equal(status.done, true);
      assert.equal(status.summary.measured, 3);
      assert.equal(status.summary.flags['empty'], 1);
      assert.equal(status.summary.mean['gt.whole.sad'], 5);
    });

    it('adds report.json and report.html to the download', async () => {
      const res = await fetch(`${base}/download/${job}`);
      assert.equal(res.status, 200);
      const zip = await unzipper.Open.buffer(Buffer.from(await res.arrayBuffer()));
      const names = zip.files.map((f) => f.path);
      assert.ok(names.includes('status.json') && names.includes('report.json') && names.includes('report.html'), names.join(', '));
      const report = JSON.parse((await zip.files.find((f) => f.path === 'report.json')!.buffer()).toString()) as JobReport;
      assert.equal(report.totals.with_ground_truth, 2);
    });

    it('answers 404 for the report of an unknown job', async () => {
      for (const route of ['/jobs/nope/report', '/jobs/nope/report.html']) assert.equal((await fetch(base + route)).status, 404, route);
    });
  });
});
