import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import {
  ChunkCompared,
  ChunkAttemptFailed,
  ChunkMatted,
  EVENTS_STREAM,
  durables,
  messageId,
  objects,
  parseEvent,
  subjects,
} from '@mesh/contracts';
import {
  chunkAttemptReporter,
  connectNats,
  eventPublisher,
  provisionMesh,
  readObject,
  startConsumerLoop,
  writeObject,
  type ConsumerLoop,
  type EventPublisher,
  type StageContext,
} from '@mesh/nats';
import { fixturePhotosDir, startNatsServer, type NatsServerHandle } from '@mesh/testing';
import { LABEL_HEIGHT, PANEL_GAP } from './compose.js';
import { createComparisonHandler } from './handler.js';

const JOB = 'job1';
const WIDTH = 451; // chelsea.png
const HEIGHT = 300;

/**
 * A hard-edged ellipse (alpha 255) on black plus a band of alpha 128 in the bottom 30 rows, so
 * every figure has a known value: the ellipse covers pi*150*100 px, the band 10% of the image.
 */
function syntheticMatte(): Buffer {
  const alpha = Buffer.alloc(WIDTH * HEIGHT);
  const [cx, cy, rx, ry] = [WIDTH / 2, 135, 150, 100];
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const inside = ((x + 0.5 - cx) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2 <= 1;
      alpha[y * WIDTH + x] = inside ? 255 : y >= HEIGHT - 30 ? 128 : 0;
    }
  }
  return alpha;
}
const ellipse = (Math.PI * 150 * 100) / (WIDTH * HEIGHT);
const expectedFigures = { foreground_fraction: ellipse + 0.1, mean_alpha: ellipse + (0.1 * 128) / 255, uncertain_fraction: 0.1 };

function matted(chunk: string, overrides: Partial<ChunkMatted> = {}): ChunkMatted {
  return {
    type: 'chunk.matted',
    job_id: JOB,
    chunk_id: chunk,
    name: 'chelsea.png',
    original_object: objects.original(JOB, chunk),
    matte_object: objects.matte(JOB, chunk),
    cutout_object: objects.cutout(JOB, chunk),
    width: WIDTH,
    height: HEIGHT,
    inference_ms: 1,
    model: 'synthetic',
    matted_at: new Date().toISOString(),
    ...overrides,
  };
}

async function until<T>(find: () => T | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('comparison stage', () => {
  let server: NatsServerHandle;
  let ctx: StageContext;
  let publisher: EventPublisher;
  let loop: ConsumerLoop;
  const compared: ChunkCompared[] = [];
  const failed: ChunkAttemptFailed[] = [];

  before(async () => {
    server = await startNatsServer();
    const nc = await connectNats(server.url, 'comparison-test');
    const store = await provisionMesh(nc, { bucket: 'mesh-test', eventsMaxAgeHours: 1, ackWaitSeconds: 10, maxDeliver: 3 });
    publisher = eventPublisher(nc);
    ctx = { nc, store, publisher };
    // Watch the outcome subjects the way any other service would see them.
    nc.subscribe('chunk.compared.>', {
      callback: (_err, m) => void compared.push(parseEvent(ChunkCompared, m.data, m.subject)),
    });
    nc.subscribe('chunk.attempt_failed.>', {
      callback: (_err, m) => void failed.push(parseEvent(ChunkAttemptFailed, m.data, m.subject)),
    });
    await nc.flush();
    loop = await startConsumerLoop({
      nc,
      stream: EVENTS_STREAM,
      durable: durables.comparison,
      concurrency: 1,
      maxDeliver: 3,
      heartbeatMs: 2000,
      backoffMs: 50,
      log: () => undefined,
      handle: createComparisonHandler({ store, publisher }),
      onAttemptFailed: chunkAttemptReporter(publisher, 'comparison'),
    });
  });

  after(async () => {
    await loop?.stop();
    await ctx?.nc.close();
    await server?.cleanup();
  });

  it('writes a three-panel JPEG of a matted photo and publishes the matte figures', async () => {
    const chunk = 'c1';
    const original = await readFile(path.join(fixturePhotosDir(), 'chelsea.png'));
    const alpha = syntheticMatte();
    const raw = { width: WIDTH, height: HEIGHT, channels: 1 as const };
    await writeObject(ctx.store, objects.original(JOB, chunk), original);
    await writeObject(ctx.store, objects.matte(JOB, chunk), await sharp(alpha, { raw }).png().toBuffer());
    // chelsea.png is RGB, so joining the matte gives the RGBA cut-out the matting stage writes.
    await writeObject(ctx.store, objects.cutout(JOB, chunk), await sharp(original).joinChannel(alpha, { raw }).png().toBuffer());
    await publisher.publish(ChunkMatted, subjects.chunkMatted(JOB, chunk), matted(chunk), messageId('chunk.matted', JOB, chunk));

    const event = await until(() => compared.find((e) => e.chunk_id === chunk));
    assert.equal(event.name, 'chelsea.png');
    assert.equal(event.comparison_object, objects.comparison(JOB, chunk));
    // The ellipse (rows 35..234) and the band of 128 (rows 270..299, full width) are two pieces.
    assert.deepEqual(event.figures.bbox, { x: 0, y: 35, width: WIDTH, height: HEIGHT - 35 });
    assert.equal(event.figures.components, 2);
    assert.deepEqual(event.figures.flags, []);
    assert.equal(event.ground_truth, undefined, 'no ground truth uploaded, no metrics');
    assert.equal(event.thumbnail_object, objects.thumbnail(JOB, chunk));
    assert.equal((await sharp(await readObject(ctx.store, event.thumbnail_object!)).metadata()).format, 'jpeg');
    for (const key of ['foreground_fraction', 'mean_alpha', 'uncertain_fraction'] as const) {
      assert.ok(
        Math.abs(event.figures[key] - expectedFigures[key]) < 0.005,
        `${key}: expected about ${expectedFigures[key].toFixed(4)}, got ${event.figures[key].toFixed(4)}`,
      );
    }

    const jpeg = await readObject(ctx.store, event.comparison_object);
    const meta = await sharp(jpeg).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.ok(meta.height <= 2048 && meta.width <= 2048, `${meta.width}x${meta.height}`);
    const panelHeight = meta.height - LABEL_HEIGHT;
    const threePanels = (3 * panelHeight * WIDTH) / HEIGHT;
    assert.ok(
      meta.width >= threePanels && meta.width <= threePanels + 2 * PANEL_GAP + 3,
      `width ${meta.width} should be three ${WIDTH}:${HEIGHT} panels of height ${panelHeight} plus gaps`,
    );

    // Outside the ellipse the cut-out panel shows the checkerboard: a light square, then a grey one.
    const pixels = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    const third = 2 * ((meta.width - 2 * PANEL_GAP) / 3 + PANEL_GAP);
    const at = (x: number, y: number) => {
      const i = (y * pixels.info.width + Math.round(third + x)) * pixels.info.channels;
      return [pixels.data[i]!, pixels.data[i + 1]!, pixels.data[i + 2]!];
    };
    for (const [x, level] of [
      [8, 0xff],
      [24, 0xcc],
    ] as const) {
      const rgb = at(x, LABEL_HEIGHT + 8);
      assert.ok(rgb.every((v) => Math.abs(v - level) <= 16), `cut-out background at x=${x}: ${rgb.join(',')}`);
    }
    assert.equal(failed.filter((f) => f.chunk_id === chunk).length, 0);
  });

  it('measures the matte against a ground truth stored for the chunk, and says why one is unusable', async () => {
    const original = await readFile(path.join(fixturePhotosDir(), 'chelsea.png'));
    const alpha = syntheticMatte();
    const raw = { width: WIDTH, height: HEIGHT, channels: 1 as const };
    const put = async (chunk: string, gt: Buffer) => {
      await writeObject(ctx.store, objects.original(JOB, chunk), original);
      await writeObject(ctx.store, objects.matte(JOB, chunk), await sharp(alpha, { raw }).png().toBuffer());
      await writeObject(ctx.store, objects.cutout(JOB, chunk), await sharp(original).joinChannel(alpha, { raw }).png().toBuffer());
      await writeObject(ctx.store, objects.groundTruth(JOB, chunk), gt);
      await publisher.publish(ChunkMatted, subjects.chunkMatted(JOB, chunk), matted(chunk), messageId('chunk.matted', JOB, chunk));
    };
    // Ground truth = the matte with its band of 128 cleared: the only error is 0.502 on 30 full rows.
    const gt = Buffer.from(alpha.map((a) => (a === 128 ? 0 : a)));
    await put('g1', await sharp(gt, { raw }).png().toBuffer());
    await put('g2', await sharp(gt.subarray(0, 10 * 10), { raw: { width: 10, height: 10, channels: 1 } }).png().toBuffer());

    const measured = await until(() => compared.find((e) => e.chunk_id === 'g1'));
    const band = 30 * WIDTH;
    const sad = (band * 128) / 255 / 1000;
    assert.ok(measured.ground_truth, 'metrics present');
    assert.ok(Math.abs(measured.ground_truth.whole.sad - sad) < 1e-9, `SAD ${measured.ground_truth.whole.sad} vs ${sad}`);
    const mse = ((band * (128 / 255) ** 2) / (WIDTH * HEIGHT)) * 1e3;
    assert.ok(Math.abs(measured.ground_truth.whole.mse - mse) < 1e-6, `MSE ${measured.ground_truth.whole.mse} vs ${mse}`);
    assert.ok(measured.ground_truth.unknown.sad <= measured.ground_truth.whole.sad);
    assert.ok(measured.ground_truth.whole.grad > 0 && measured.ground_truth.whole.conn > 0);

    const unusable = await until(() => compared.find((e) => e.chunk_id === 'g2'));
    assert.equal(unusable.ground_truth, undefined);
    assert.equal(unusable.ground_truth_error, `the ground-truth matte is 10x10, the image is ${WIDTH}x${HEIGHT}`);
  });

  it('dead-letters a chunk whose matte is missing after one delivery', async () => {
    const chunk = 'c2';
    const original = await readFile(path.join(fixturePhotosDir(), 'chelsea.png'));
    await writeObject(ctx.store, objects.original(JOB, chunk), original);
    await writeObject(ctx.store, objects.cutout(JOB, chunk), original);
    await publisher.publish(ChunkMatted, subjects.chunkMatted(JOB, chunk), matted(chunk), messageId('chunk.matted', JOB, chunk));

    const failure = await until(() => failed.find((e) => e.chunk_id === chunk));
    assert.equal(failure.stage, 'comparison');
    assert.equal(failure.permanent, true);
    assert.equal(failure.delivery, 1);
    assert.match(failure.error, /matte\.png is missing/);
    assert.equal(compared.filter((e) => e.chunk_id === chunk).length, 0);
  });
});
