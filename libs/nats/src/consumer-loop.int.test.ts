import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  ChunkFailed,
  ChunkIngested,
  EVENTS_STREAM,
  PermanentError,
  RetryableError,
  durables,
  messageId,
  parseEvent,
  subjects,
} from '@mesh/contracts';
import { startNatsServer, type NatsServerHandle } from '@mesh/testing';
import { chunkFailureReporter, connectNats, eventPublisher, provisionMesh, startConsumerLoop } from './index.js';

const event = (chunk: string) => ({
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

async function failures(nc: NatsConnection): Promise<ChunkFailed[]> {
  const jsm = await jetstreamManager(nc);
  const out: ChunkFailed[] = [];
  const info = await jsm.streams.info(EVENTS_STREAM);
  for (let seq = 1; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(EVENTS_STREAM, { seq }).catch(() => null);
    if (m?.subject.startsWith('chunk.failed.')) out.push(parseEvent(ChunkFailed, m.data, m.subject));
  }
  return out;
}

async function until(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('consumer loop', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeEach(async () => {
    server = await startNatsServer();
    nc = await connectNats(server.url, 'test');
    await provisionMesh(nc, { bucket: 'b', eventsMaxAgeHours: 1, ackWaitSeconds: 5, maxDeliver: 3 });
  });
  afterEach(async () => {
    await nc.close();
    await server.cleanup();
  });

  it('acks successes, dead-letters permanent errors after one attempt, retries others up to max_deliver', async () => {
    const publisher = eventPublisher(nc);
    for (const c of ['ok', 'corrupt', 'flaky', 'oom']) {
      await publisher.publish(ChunkIngested, subjects.chunkIngested('job1', c), event(c), messageId('i', 'job1', c));
    }
    const attempts = new Map<string, number>();
    const loop = await startConsumerLoop({
      nc,
      stream: EVENTS_STREAM,
      durable: durables.matting,
      concurrency: 2,
      maxDeliver: 3,
      heartbeatMs: 1000,
      backoffMs: 50,
      log: () => undefined,
      onFailure: chunkFailureReporter(publisher, 'matting'),
      handle: async (msg) => {
        const e = parseEvent(ChunkIngested, msg.data, msg.subject);
        const n = (attempts.get(e.chunk_id) ?? 0) + 1;
        attempts.set(e.chunk_id, n);
        if (e.chunk_id === 'corrupt') throw new PermanentError('not a JPEG');
        if (e.chunk_id === 'flaky' && n < 3) throw new RetryableError('out of memory');
        if (e.chunk_id === 'oom') throw new RetryableError('out of memory');
      },
    });
    try {
      await until(async () => (await failures(nc)).length === 2 && attempts.get('flaky') === 3);
      const js = jetstream(nc);
      await until(async () => (await js.consumers.get(EVENTS_STREAM, durables.matting).then((c) => c.info())).num_ack_pending === 0);
    } finally {
      await loop.stop();
    }
    assert.deepEqual(Object.fromEntries(attempts), { ok: 1, corrupt: 1, flaky: 3, oom: 3 });
    const failed = (await failures(nc)).map((f) => [f.chunk_id, f.kind, f.reason, f.deliveries]);
    assert.deepEqual(failed.sort(), [
      ['corrupt', 'permanent', 'not a JPEG', 1],
      ['oom', 'exhausted', 'out of memory', 3],
    ]);
  });

  it('reports a message that breaks its schema against the chunk its subject names', async () => {
    const js = jetstream(nc);
    await js.publish(subjects.chunkIngested('job1', 'bad'), new TextEncoder().encode('{"type":"chunk.ingested"}'));
    const publisher = eventPublisher(nc);
    const loop = await startConsumerLoop({
      nc,
      stream: EVENTS_STREAM,
      durable: durables.matting,
      concurrency: 1,
      maxDeliver: 3,
      heartbeatMs: 1000,
      log: () => undefined,
      onFailure: chunkFailureReporter(publisher, 'matting'),
      handle: async (msg) => void parseEvent(ChunkIngested, msg.data, msg.subject),
    });
    try {
      await until(async () => (await failures(nc)).length === 1);
    } finally {
      await loop.stop();
    }
    const [f] = await failures(nc);
    assert.equal(f?.chunk_id, 'bad');
    assert.equal(f?.kind, 'permanent');
    assert.match(f?.reason ?? '', /does not match its schema/);
  });
});
