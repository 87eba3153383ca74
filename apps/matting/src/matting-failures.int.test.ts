import assert from 'node:assert/strict';
import sharp from 'sharp';
import { ChunkMatted, RetryableError, UnsupportedImageError, parseEvent } from '@mesh/contracts';
import { startNatsServer, type NatsServerHandle, waitFor } from '@mesh/testing';
import { MODEL_SIZE } from './isnet.js';
import { startMattingTestStage, type MattingTestStage } from './test-stage.js';

const OOM =
  "Non-zero status code returned while running Conv node. Name:'/stage1/Conv' Status Message: " +
  'bfc_arena.cc:359 Failed to allocate memory for requested buffer of size 268435456';

describe('matting worker failures on a real nats-server (fake model)', function () {
  this.timeout(60_000);
  let server: NatsServerHandle;
  let worker: MattingTestStage;
  let inferences = 0;

  before(async () => {
    server = await startNatsServer();
    // Runs out of memory on its first call only, as a worker does while another inference holds the arena.
    const model = {
      name: 'fake.onnx',
      infer: async () => {
        if (++inferences === 1) throw new Error(OOM);
        return new Float32Array(MODEL_SIZE * MODEL_SIZE).fill(1);
      },
    };
    worker = await startMattingTestStage({
      natsUrl: server.url,
      bucket: 'matting-failures',
      model,
      limits: { maxPixels: 100 * 100 },
      concurrency: 1,
      env: { MATTING_MAX_ACK_PENDING: '7' },
    });
  });
  after(async () => {
    await worker?.stop();
    await server?.cleanup();
  });

  it('passes MATTING_MAX_ACK_PENDING to the matting consumer', async () => {
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const info = await (await jetstreamManager(worker.stage.nc)).consumers.info('MESH_EVENTS', 'matting');
    assert.equal(info.config.max_ack_pending, 7);
  });

  it('retries an inference that ran out of memory, then mattes it', async () => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#336699' } }).png().toBuffer();
    await worker.ingest('oom', png, 'png');
    await waitFor('the expected events', () => worker.events.some((e) => e.subject === 'chunk.matted.job1.oom'));
    assert.equal(worker.attempts.get('oom'), 2);
    const [first] = worker.errors.get('oom') ?? [];
    assert.ok(first instanceof RetryableError, `first delivery failed with ${String(first)}`);
    assert.match(first.message, /^out of memory during inference \(will retry\): .*Failed to allocate memory/);
    const e = worker.events.find((x) => x.subject === 'chunk.matted.job1.oom')!;
    const matted = parseEvent(ChunkMatted, e.data, e.subject);
    assert.deepEqual([matted.width, matted.height], [40, 30]);
  });

  it('terminates an image above MATTING_MAX_PIXELS after one delivery, with the reason', async () => {
    const big = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#000' } }).png().toBuffer();
    const seq = await worker.ingest('huge', big, 'png');
    await waitFor('the expected events', () => worker.terminated.some((t) => t.stream_seq === seq));
    // Give a wrong redelivery the time to show up.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(worker.attempts.get('huge'), 1);
    assert.deepEqual(worker.terminated.find((t) => t.stream_seq === seq)?.deliveries, 1);
    const [err] = worker.errors.get('huge') ?? [];
    assert.ok(err instanceof UnsupportedImageError);
    assert.equal(
      err.message,
      'image is 200x100 (20000 pixels), larger than the 10000 pixels this service accepts (MATTING_MAX_PIXELS)',
    );
    assert.ok(!worker.events.some((x) => x.subject === 'chunk.matted.job1.huge'));
  });
});
