import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { loadConfig } from '@mesh/config';
import {
  ChunkIngested,
  ChunkMatted,
  RetryableError,
  UnsupportedImageError,
  messageId,
  objects,
  parseEvent,
  subjects,
} from '@mesh/contracts';
import { runStage, writeObject, type RunningStage } from '@mesh/nats';
import { startNatsServer, type NatsServerHandle, waitFor } from '@mesh/testing';
import { createMattingHandler } from './handler.js';
import { MODEL_SIZE } from './isnet.js';


const OOM =
  "Non-zero status code returned while running Conv node. Name:'/stage1/Conv' Status Message: " +
  'bfc_arena.cc:359 Failed to allocate memory for requested buffer of size 268435456';

describe('matting worker failures on a real nats-server (fake model)', function () {
  this.timeout(60_000);
  let server: NatsServerHandle;
  let stage: RunningStage;
  const attempts = new Map<string, number>();
  const errors = new Map<string, unknown[]>();
  const events: { subject: string; data: Uint8Array }[] = [];
  const terminated: { stream_seq: number; deliveries: number }[] = [];
  let inferences = 0;

  before(async () => {
    server = await startNatsServer();
    const config = loadConfig({
      NATS_URL: server.url,
      OBJECT_BUCKET: 'matting-failures',
      EVENTS_MAX_AGE_HOURS: '1',
      ACK_WAIT_SECONDS: '20',
      MAX_DELIVER: '3',
      RETRY_BACKOFF_MS: '100',
      MATTING_MAX_ACK_PENDING: '7',
    });
    // Runs out of memory on its first call only, as a worker does while another inference holds the arena.
    const model = {
      name: 'fake.onnx',
      infer: async () => {
        if (++inferences === 1) throw new Error(OOM);
        return new Float32Array(MODEL_SIZE * MODEL_SIZE).fill(1);
      },
    };
    stage = await runStage({
      name: 'matting-failures',
      config,
      durable: 'matting',
      concurrency: 1,
      stage: 'matting',
      createHandler: ({ store, publisher }) => {
        const handle = createMattingHandler({ store, publisher, model, limits: { maxPixels: 100 * 100 } });
        return async (msg) => {
          const chunk = msg.subject.split('.')[3] ?? '';
          attempts.set(chunk, (attempts.get(chunk) ?? 0) + 1);
          await handle(msg).catch((err: unknown) => {
            errors.set(chunk, [...(errors.get(chunk) ?? []), err]);
            throw err;
          });
        };
      },
    });
    const sub = stage.nc.subscribe('chunk.>');
    void (async () => {
      for await (const m of sub) events.push({ subject: m.subject, data: m.data });
    })();
    const adv = stage.nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>');
    void (async () => {
      for await (const m of adv) terminated.push(m.json());
    })();
  });
  after(async () => {
    await stage?.stop();
    await server?.cleanup();
  });

  async function ingest(chunk: string, bytes: Buffer): Promise<number> {
    const object = objects.original('job1', chunk);
    await writeObject(stage.store, object, bytes);
    return stage.publisher.publish(
      ChunkIngested,
      subjects.chunkIngested('job1', chunk),
      {
        type: 'chunk.ingested',
        job_id: 'job1',
        chunk_id: chunk,
        name: `${chunk}.png`,
        object,
        content_type: 'image/png',
        bytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        ingested_at: new Date().toISOString(),
      },
      messageId('chunk.ingested', 'job1', chunk),
    );
  }

  it('passes MATTING_MAX_ACK_PENDING to the matting consumer', async () => {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const info = await (await jetstreamManager(stage.nc)).consumers.info('MESH_EVENTS', 'matting');
    assert.equal(info.config.max_ack_pending, 7);
  });

  it('retries an inference that ran out of memory, then mattes it', async () => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#336699' } }).png().toBuffer();
    await ingest('oom', png);
    await waitFor('the expected events', () => events.some((e) => e.subject === 'chunk.matted.job1.oom'));
    assert.equal(attempts.get('oom'), 2);
    const [first] = errors.get('oom') ?? [];
    assert.ok(first instanceof RetryableError, `first delivery failed with ${String(first)}`);
    assert.match(first.message, /^out of memory during inference \(will retry\): .*Failed to allocate memory/);
    const e = events.find((x) => x.subject === 'chunk.matted.job1.oom')!;
    const matted = parseEvent(ChunkMatted, e.data, e.subject);
    assert.deepEqual([matted.width, matted.height], [40, 30]);
  });

  it('terminates an image above MATTING_MAX_PIXELS after one delivery, with the reason', async () => {
    const big = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#000' } }).png().toBuffer();
    const seq = await ingest('huge', big);
    await waitFor('the expected events', () => terminated.some((t) => t.stream_seq === seq));
    // Give a wrong redelivery the time to show up.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(attempts.get('huge'), 1);
    assert.deepEqual(terminated.find((t) => t.stream_seq === seq)?.deliveries, 1);
    const [err] = errors.get('huge') ?? [];
    assert.ok(err instanceof UnsupportedImageError);
    assert.equal(
      err.message,
      'image is 200x100 (20000 pixels), larger than the 10000 pixels this service accepts (MATTING_MAX_PIXELS)',
    );
    assert.ok(!events.some((x) => x.subject === 'chunk.matted.job1.huge'));
  });
});
