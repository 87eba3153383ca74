import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  ChunkAttemptFailed,
  ChunkIngested,
  EVENTS_STREAM,
  PermanentError,
  RetryableError,
  durables,
  messageId,
  parseEvent,
  subjects,
} from '@mesh/contracts';
import { startNatsServer, type NatsServerHandle, waitFor } from '@mesh/testing';
import { chunkAttemptReporter, connectNats, eventPublisher, provisionMesh, startConsumerLoop, type ConsumerLoopOptions } from './index.js';

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

async function attempts(nc: NatsConnection): Promise<ChunkAttemptFailed[]> {
  const jsm = await jetstreamManager(nc);
  const out: ChunkAttemptFailed[] = [];
  const info = await jsm.streams.info(EVENTS_STREAM);
  for (let seq = 1; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(EVENTS_STREAM, { seq }).catch(() => null);
    if (m?.subject.startsWith('chunk.attempt_failed.')) out.push(parseEvent(ChunkAttemptFailed, m.data, m.subject));
  }
  return out;
}


/** The matting consumer's loop as the tests run it; each test adds its handler and reporter. */
const matting = (nc: NatsConnection, more: Pick<ConsumerLoopOptions, 'handle' | 'onAttemptFailed'> & Partial<ConsumerLoopOptions>) =>
  startConsumerLoop({
    nc,
    stream: EVENTS_STREAM,
    durable: durables.matting,
    concurrency: 1,
    maxDeliver: 3,
    heartbeatMs: 1000,
    log: () => undefined,
    ...more,
  });

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

  it('acks successes, terminates permanent errors after one attempt, retries others up to max_deliver', async () => {
    const publisher = eventPublisher(nc);
    for (const c of ['ok', 'corrupt', 'flaky', 'oom']) {
      await publisher.publish(ChunkIngested, subjects.chunkIngested('job1', c), event(c), messageId('i', 'job1', c));
    }
    const tries = new Map<string, number>();
    const loop = await matting(nc, {
      concurrency: 2,
      backoffMs: 50,
      onAttemptFailed: chunkAttemptReporter(publisher, 'matting'),
      handle: async (msg) => {
        const e = parseEvent(ChunkIngested, msg.data, msg.subject);
        const n = (tries.get(e.chunk_id) ?? 0) + 1;
        tries.set(e.chunk_id, n);
        if (e.chunk_id === 'corrupt') throw new PermanentError('not a JPEG');
        if (e.chunk_id === 'flaky' && n < 3) throw new RetryableError('out of memory');
        if (e.chunk_id === 'oom') throw new RetryableError('out of memory');
      },
    });
    try {
      await waitFor('the expected events', async () => (await attempts(nc)).length === 6);
      const js = jetstream(nc);
      await waitFor('the expected events', async () => (await js.consumers.get(EVENTS_STREAM, durables.matting).then((c) => c.info())).num_ack_pending === 0);
    } finally {
      await loop.stop();
    }
    assert.deepEqual(Object.fromEntries(tries), { ok: 1, corrupt: 1, flaky: 3, oom: 3 });
    const history = (await attempts(nc)).map((f) => `${f.chunk_id}#${f.delivery}${f.permanent ? '!' : ''}: ${f.error}`);
    assert.deepEqual(history.sort(), [
      'corrupt#1!: not a JPEG',
      'flaky#1: out of memory',
      'flaky#2: out of memory',
      'oom#1: out of memory',
      'oom#2: out of memory',
      'oom#3: out of memory',
    ]);
  });

  it('reports a message that breaks its schema against the chunk its subject names', async () => {
    const js = jetstream(nc);
    await js.publish(subjects.chunkIngested('job1', 'bad'), new TextEncoder().encode('{"type":"chunk.ingested"}'));
    const loop = await matting(nc, {
      onAttemptFailed: chunkAttemptReporter(eventPublisher(nc), 'matting'),
      handle: async (msg) => void parseEvent(ChunkIngested, msg.data, msg.subject),
    });
    try {
      await waitFor('the expected events', async () => (await attempts(nc)).length === 1);
    } finally {
      await loop.stop();
    }
    const [f] = await attempts(nc);
    assert.deepEqual([f?.chunk_id, f?.permanent], ['bad', true]);
    assert.match(f?.error ?? '', /does not match its schema/);
  });

  it('rides out a nats-server restart inside a delivery: no delivery spent on it, nothing published twice', async function () {
    this.timeout(30_000);
    const publisher = eventPublisher(nc);
    await publisher.publish(ChunkIngested, subjects.chunkIngested('job1', 'hiccup'), event('hiccup'), messageId('i', 'job1', 'hiccup'));
    // A short request timeout, so the outage below outlasts several tries of the handler's publish.
    const impatient = eventPublisher(nc, jetstream(nc, { timeout: 500 }));
    const deliveries: number[] = [];
    const loop = await matting(nc, {
      backoffMs: 50,
      onAttemptFailed: chunkAttemptReporter(publisher, 'matting'),
      handle: async (msg) => {
        deliveries.push(msg.info.deliveryCount);
        if (deliveries.length === 1) {
          // The server goes away for 2.5 s just as the stage publishes its result.
          await server.stop();
          setTimeout(() => void server.restart(), 2500);
        }
        await impatient.publish(ChunkIngested, subjects.chunkIngested('job1', 'result'), event('result'), messageId('r', 'job1', 'result'));
      },
    });
    try {
      const js = jetstream(nc);
      await waitFor(
        'the message acked',
        async () => {
          // Asked during the outage too: no answer is "not yet".
          const info = await js.consumers
            .get(EVENTS_STREAM, durables.matting)
            .then((c) => c.info())
            .catch(() => null);
          return info !== null && info.num_ack_pending === 0 && info.num_pending === 0 && deliveries.length > 0;
        },
        20_000,
      );
    } finally {
      await loop.stop();
    }
    // The restarted server may hand the message out again as delivery 1 (it had not stored that it
    // was delivered); what the retries guarantee is that no delivery failed.
    assert.ok(deliveries.length >= 1 && deliveries.every((d) => d === 1), `deliveries ${deliveries.join(', ')}`);
    assert.deepEqual(await attempts(nc), [], 'no failed attempt recorded');
    const jsm = await jetstreamManager(nc);
    const result = subjects.chunkIngested('job1', 'result');
    const info = await jsm.streams.info(EVENTS_STREAM, { subjects_filter: result });
    assert.deepEqual(info.state.subjects, { [result]: 1 }, 'the result published once');
  });
});
