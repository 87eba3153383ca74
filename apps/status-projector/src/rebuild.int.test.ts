import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { EVENTS_STREAM, PipelineEvent, durables, encodeEvent } from '@mesh/contracts';
import { connectNats, provisionMesh, startConsumerLoop, type ConsumerLoop } from '@mesh/nats';
import { jobStatus, openReadModel, type Database as Db } from '@mesh/read-model';
import { startNatsServer, tempDir, type NatsServerHandle, waitFor } from '@mesh/testing';
import { createProjectorHandler } from './handler.js';
import { createProjection } from './projection.js';

const at = new Date(0).toISOString();
const job = 'job1';
const events: PipelineEvent[] = [
  { type: 'job.created', job_id: job, created_at: at, source: ['a.zip'] },
  ...['c1', 'c2', 'c3'].map((c): PipelineEvent => ({
    type: 'chunk.ingested', job_id: job, chunk_id: c, name: `${c}.jpg`, object: `${job}/${c}/original`,
    content_type: 'image/jpeg', bytes: 3, sha256: 'a'.repeat(64), ingested_at: at,
  })),
  { type: 'job.sealed', job_id: job, total_chunks: 3, skipped: [], sealed_at: at },
  ...['c1', 'c2', 'c3'].map((c): PipelineEvent => ({
    type: 'chunk.matted', job_id: job, chunk_id: c, name: `${c}.jpg`, original_object: `${job}/${c}/original`,
    matte_object: `${job}/${c}/matte.png`, cutout_object: `${job}/${c}/cutout.png`, width: 2, height: 2,
    inference_ms: 1, model: 'm', matted_at: at,
  })),
  ...['c1', 'c2'].map((c): PipelineEvent => ({
    type: 'chunk.compared', job_id: job, chunk_id: c, name: `${c}.jpg`, comparison_object: `${job}/${c}/comparison.jpg`,
    figures: { foreground_fraction: 0.5, mean_alpha: 0.5, uncertain_fraction: 0.1 }, compared_at: at,
  })),
];

const tables = (db: Db) => ({
  jobs: db.prepare('SELECT * FROM jobs ORDER BY job_id').all(),
  chunks: db.prepare('SELECT * FROM chunks ORDER BY job_id, chunk_id').all(),
});


describe('status projector on a real stream', function () {
  this.timeout(60_000);
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let dir: { dir: string; remove: () => Promise<void> };

  beforeEach(async () => {
    server = await startNatsServer();
    dir = await tempDir();
    nc = await connectNats(server.url, 'projector-test');
    await provisionMesh(nc, { bucket: 'b', eventsMaxAgeHours: 1, ackWaitSeconds: 2, maxDeliver: 3 });
  });
  afterEach(async () => {
    await nc.close();
    await server.cleanup();
    await dir.remove();
  });

  const project = (db: Db): Promise<ConsumerLoop> =>
    startConsumerLoop({
      nc, stream: EVENTS_STREAM, durable: durables.statusProjector, concurrency: 1, maxDeliver: Infinity,
      heartbeatMs: 1000, backoffMs: 100, log: () => undefined,
      handle: createProjectorHandler(createProjection(db), nc), onAttemptFailed: async () => undefined,
    });

  it('applies duplicated and out-of-order events once, and a rebuild from sequence 1 gives the same tables', async () => {
    const js = jetstream(nc);
    // Every event twice (a publisher that retried after its dedupe window), chunk events reversed.
    const shuffled = [events[0]!, ...events.slice(1).reverse()];
    for (const e of [...shuffled, ...shuffled]) {
      const subject = 'chunk_id' in e ? `chunk.${e.type.split('.')[1]}.${e.job_id}.${e.chunk_id}` : `${e.type}.${e.job_id}`;
      await js.publish(subject, encodeEvent(PipelineEvent, e));
    }
    const file = path.join(dir.dir, 'mesh.db');
    const db = openReadModel(file);
    const loop = await project(db);
    const last = (await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM)).state.last_seq;
    await waitFor('every event applied', () => (db.prepare('SELECT MAX(seq) AS m FROM applied_events').get() as { m: number }).m === last);
    await loop.stop();
    const first = tables(db);
    const s = jobStatus(db, job);
    assert.deepEqual([s?.state, s?.total, s?.completed, s?.counts.matted], ['processing', 3, 2, 1]);
    db.close();

    // Delete the SQLite file and the projector's position; replay the stream from the start.
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete(EVENTS_STREAM, durables.statusProjector);
    await provisionMesh(nc, { bucket: 'b', eventsMaxAgeHours: 1, ackWaitSeconds: 2, maxDeliver: 3 });
    const rebuiltFile = path.join(dir.dir, 'rebuilt.db');
    const rebuilt = openReadModel(rebuiltFile);
    const again = await project(rebuilt);
    await waitFor('the rebuild', () => (rebuilt.prepare('SELECT MAX(seq) AS m FROM applied_events').get() as { m: number }).m === last);
    await again.stop();
    assert.deepEqual(tables(rebuilt), first);
    rebuilt.close();
  });

  it('waits out a full disk (SQLITE_FULL) without losing an event', async () => {
    const db = openReadModel(path.join(dir.dir, 'mesh.db'));
    // The file may not grow past its current pages: a write that needs a new page fails as it
    // does on a full disk. Long names make every chunk need new pages.
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    const loop = await project(db);
    const js = jetstream(nc);
    const many = Array.from({ length: 40 }, (_, i): PipelineEvent => ({
      type: 'chunk.ingested', job_id: job, chunk_id: `c${i}`, name: `${'deep/'.repeat(400)}${i}.jpg`,
      object: `${job}/c${i}/original`, content_type: 'image/jpeg', bytes: 3, sha256: 'a'.repeat(64), ingested_at: at,
    }));
    const batch = [events[0]!, ...many];
    for (const e of batch) {
      const subject = 'chunk_id' in e ? `chunk.ingested.${e.job_id}.${e.chunk_id}` : `${e.type}.${e.job_id}`;
      await js.publish(subject, encodeEvent(PipelineEvent, e));
    }
    const applied = () => (db.prepare('SELECT COUNT(*) AS n FROM applied_events').get() as { n: number }).n;
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(applied() < batch.length, `the full database held back events (${applied()} of ${batch.length} applied)`);
    db.pragma('max_page_count = 1073741823');
    await waitFor('every event applied', () => applied() === batch.length);
    await loop.stop();
    assert.equal(jobStatus(db, job)?.counts.ingested, many.length);
    db.close();
  });

  it('waits out a locked database without losing an event', async () => {
    const file = path.join(dir.dir, 'mesh.db');
    const db = openReadModel(file);
    db.pragma('busy_timeout = 200');
    const locker = new Database(file);
    locker.exec('BEGIN EXCLUSIVE');
    const loop = await project(db);
    const js = jetstream(nc);
    for (const e of events) {
      const subject = 'chunk_id' in e ? `chunk.${e.type.split('.')[1]}.${e.job_id}.${e.chunk_id}` : `${e.type}.${e.job_id}`;
      await js.publish(subject, encodeEvent(PipelineEvent, e));
    }
    // Held well past busy_timeout and several redeliveries: the projector naks and retries.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((locker.prepare('SELECT COUNT(*) AS n FROM applied_events').get() as { n: number }).n, 0);
    locker.exec('COMMIT');
    locker.close();
    await waitFor('every event applied', () => (db.prepare('SELECT COUNT(*) AS n FROM applied_events').get() as { n: number }).n === events.length);
    await loop.stop();
    const s = jobStatus(db, job);
    assert.deepEqual([s?.total, s?.completed, s?.counts.matted], [3, 2, 1]);
    db.close();
  });
});
