import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import {
  ChunkCompared,
  ChunkFailed,
  ChunkMatted,
  EVENTS_STREAM,
  durables,
  messageId,
  objects,
  parseEvent,
  subjects,
} from '@mesh/contracts';
import {
  chunkFailureReporter,
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
import { PANEL_GAP } from './compose.js';
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
  const failed: ChunkFailed[] = [];

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
    nc.subscribe('chunk.failed.>', {
      callback: (_err, m) => void failed.push(parseEvent(ChunkFailed, m.data, m.subject)),
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
      onFailure: chunkFailureReporter(publisher, 'comparison'),
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
    const threePanels = (3 * meta.height * WIDTH) / HEIGHT;
    assert.ok(
      meta.width >= threePanels && meta.width <= threePanels + 2 * PANEL_GAP + 3,
      `width ${meta.width} should be three ${WIDTH}:${HEIGHT} panels of height ${meta.height} plus gaps`,
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
      const rgb = at(x, 8);
      assert.ok(rgb.every((v) => Math.abs(v - level) <= 16), `cut-out background at x=${x}: ${rgb.join(',')}`);
    }
    assert.equal(failed.filter((f) => f.chunk_id === chunk).length, 0);
  });

  it('dead-letters a chunk whose matte is missing after one delivery', async () => {
    const chunk = 'c2';
    const original = await readFile(path.join(fixturePhotosDir(), 'chelsea.png'));
    await writeObject(ctx.store, objects.original(JOB, chunk), original);
    await writeObject(ctx.store, objects.cutout(JOB, chunk), original);
    await publisher.publish(ChunkMatted, subjects.chunkMatted(JOB, chunk), matted(chunk), messageId('chunk.matted', JOB, chunk));

    const failure = await until(() => failed.find((e) => e.chunk_id === chunk));
    assert.equal(failure.stage, 'comparison');
    assert.equal(failure.kind, 'permanent');
    assert.equal(failure.deliveries, 1);
    assert.match(failure.reason, /matte\.png is missing/);
    assert.equal(compared.filter((e) => e.chunk_id === chunk).length, 0);
  });
});
