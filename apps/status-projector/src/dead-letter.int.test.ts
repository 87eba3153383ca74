import assert from 'node:assert/strict';
import path from 'node:path';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  ADVISORIES_STREAM,
  ChunkIngested,
  DEAD_STREAM,
  EVENTS_STREAM,
  PermanentError,
  RetryableError,
  deadHeaders,
  durables,
  messageId,
  parseEvent,
  subjects,
} from '@mesh/contracts';
import {
  chunkAttemptReporter,
  connectNats,
  eventPublisher,
  provisionMesh,
  replayDeadLetter,
  startConsumerLoop,
  type ConsumerLoop,
} from '@mesh/nats';
import { deadChunks, jobStatus, openReadModel, type Database } from '@mesh/read-model';
import { startNatsServer, tempDir, type NatsServerHandle, waitFor } from '@mesh/testing';
import { createDeadLetterHandler } from './dead-letter.js';
import { createProjectorHandler } from './handler.js';
import { createProjection } from './projection.js';

const ingested = (chunk: string) => ({
  type: 'chunk.ingested' as const,
  job_id: 'job1',
  chunk_id: chunk,
  name: `${chunk}.jpg`,
  object: `job1/${chunk}/original`,
  content_type: 'image/jpeg',
  bytes: 1,
  sha256: '0'.repeat(64),
  ingested_at: new Date().toISOString(),
});


describe('dead letters', function () {
  this.timeout(120_000);
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let dir: { dir: string; remove: () => Promise<void> };
  let db: Database;
  const loops: ConsumerLoop[] = [];

  before(async () => {
    server = await startNatsServer();
    dir = await tempDir();
    nc = await connectNats(server.url, 'dead-letter-test');
    await provisionMesh(nc, { bucket: 'b', eventsMaxAgeHours: 1, ackWaitSeconds: 2, maxDeliver: 3 });
    db = openReadModel(path.join(dir.dir, 'mesh.db'));
    const quiet = { log: () => undefined, heartbeatMs: 1000, backoffMs: 50 };
    loops.push(
      await startConsumerLoop({
        ...quiet, nc, stream: EVENTS_STREAM, durable: durables.statusProjector, concurrency: 1, maxDeliver: Infinity,
        handle: createProjectorHandler(createProjection(db), nc), onAttemptFailed: async () => undefined,
      }),
      await startConsumerLoop({
        ...quiet, nc, stream: ADVISORIES_STREAM, durable: durables.deadLetter, concurrency: 1, maxDeliver: Infinity,
        handle: createDeadLetterHandler(nc, eventPublisher(nc), () => undefined), onAttemptFailed: async () => undefined,
      }),
    );
  });
  after(async () => {
    for (const l of loops) await l.stop();
    db.close();
    await nc.close();
    await server.cleanup();
    await dir.remove();
  });

  it('copies terminated, exhausted and abandoned events into MESH_DEAD byte for byte, shows them, and replays them', async () => {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const publisher = eventPublisher(nc);
    const originals = new Map<string, { seq: number; data: Uint8Array }>();
    for (const c of ['abandoned', 'corrupt', 'oom']) {
      const seq = await publisher.publish(ChunkIngested, subjects.chunkIngested('job1', c), ingested(c), messageId('chunk.ingested', 'job1', c));
      originals.set(c, { seq, data: (await jsm.streams.getMessage(EVENTS_STREAM, { seq }))!.data });
    }
    await publisher.publish(ChunkIngested, subjects.chunkIngested('job1', 'fine'), ingested('fine'), 'fine');

    // A worker that dies on every delivery: it takes the message and never answers.
    const matting = await js.consumers.get(EVENTS_STREAM, durables.matting);
    for (let i = 0; i < 3; i++) {
      const batch = await matting.fetch({ max_messages: 1, expires: 1000 });
      for await (const m of batch) assert.equal(m.subject, subjects.chunkIngested('job1', 'abandoned'));
      await new Promise((r) => setTimeout(r, 2300));
    }

    let healthy = false;
    const seen: string[] = [];
    loops.push(
      await startConsumerLoop({
        nc, stream: EVENTS_STREAM, durable: durables.matting, concurrency: 1, maxDeliver: 3, heartbeatMs: 500, backoffMs: 50,
        log: () => undefined,
        onAttemptFailed: chunkAttemptReporter(publisher, 'matting'),
        handle: async (msg) => {
          const e = parseEvent(ChunkIngested, msg.data, msg.subject);
          seen.push(`${e.chunk_id}#${msg.info.deliveryCount}`);
          if (healthy || e.chunk_id === 'fine') return;
          if (e.chunk_id === 'corrupt') throw new PermanentError('cannot decode image: not a JPEG');
          throw new RetryableError('Failed to allocate memory for requested buffer of size 4194304');
        },
      }),
    );

    await waitFor('three dead chunks in the read model', () => deadChunks(db, 'job1').length === 3);
    const status = jobStatus(db, 'job1');
    assert.equal(status?.failed, 3);
    const reasons = Object.fromEntries(status!.failures.map((f) => [f.chunk_id, `${f.stage}: ${f.reason}`]));
    assert.deepEqual(reasons, {
      abandoned: 'matting: the matting worker did not finish within 3 deliveries (it may have crashed)',
      corrupt: 'matting: cannot decode image: not a JPEG',
      oom: 'matting: Failed to allocate memory for requested buffer of size 4194304',
    });
    assert.deepEqual(seen.filter((s) => s.startsWith('corrupt')), ['corrupt#1'], 'a permanent failure is tried once');
    assert.deepEqual(seen.filter((s) => s.startsWith('oom')), ['oom#1', 'oom#2', 'oom#3'], 'a retryable one three times');

    // The dead letters: original body and headers, byte for byte, plus the error history.
    const dead = new Map(deadChunks(db, 'job1').map((d) => [d.chunk_id, d.dead_seq]));
    for (const [chunk, original] of originals) {
      const m = await jsm.streams.getMessage(DEAD_STREAM, { seq: dead.get(chunk)! });
      assert.equal(m?.subject, `dead.matting.job1.${chunk}`);
      assert.deepEqual(Buffer.from(m!.data), Buffer.from(original.data), `${chunk} body`);
      assert.equal(m?.header?.get('Nats-Msg-Id'), messageId('chunk.ingested', 'job1', chunk));
      assert.equal(m?.header?.get(deadHeaders.originalSubject), subjects.chunkIngested('job1', chunk));
      assert.equal(m?.header?.get(deadHeaders.originalSeq), String(original.seq));
      const history = JSON.parse(m?.header?.get(deadHeaders.errorHistory) ?? '[]') as unknown[];
      assert.equal(history.length, { abandoned: 0, corrupt: 1, oom: 3 }[chunk]);
    }

    // Replay as an operator does with the nats CLI: get by sequence, publish body and headers to
    // the original subject with a fresh Nats-Msg-Id.
    healthy = true;
    const m = (await jsm.streams.getMessage(DEAD_STREAM, { seq: dead.get('oom')! }))!;
    const h = natsHeaders();
    h.set('Nats-Msg-Id', `operator-replay-${Date.now()}`);
    await js.publish(m.header!.get(deadHeaders.originalSubject), m.data, { headers: h });
    await waitFor('the replayed chunk to reach the worker', () => seen.includes('oom#1') && seen.filter((s) => s === 'oom#1').length === 2);

    // And from the product: every dead chunk of the job.
    for (const [, seq] of dead) if (seq !== dead.get('oom')) await replayDeadLetter(nc, publisher, seq);
    await waitFor('replayed chunks to leave the dead list', () => deadChunks(db, 'job1').length === 1);
    await waitFor('both to be handled again', () => seen.includes('abandoned#1') && seen.filter((s) => s === 'corrupt#1').length === 2);
    // The worker can see a replayed event before the projector has folded it in: wait for the fold.
    await waitFor('the projector to apply the replays', () => jobStatus(db, 'job1')?.counts.ingested === 3);
    const after = jobStatus(db, 'job1');
    assert.deepEqual([after?.failed, after?.counts.ingested], [1, 3], 'oom (replayed by CLI) stays dead in the read model until it completes');
  });
});
