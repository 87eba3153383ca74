import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '@mesh/config';
import { ChunkMatted, parseEvent, UnsupportedImageError } from '@mesh/contracts';
import { readObject } from '@mesh/nats';
import { fixturePhotosDir, repoRoot, startNatsServer, type NatsServerHandle, waitFor } from '@mesh/testing';
import { prepareInput, renderOutputs } from './image.js';
import { createMatteModel, type MatteModel } from './model.js';
import { prepareModel } from './prepare-model.js';
import { startMattingTestStage, type MattingTestStage } from './test-stage.js';

/** Mean of a grey image over a box given in fractions of its width and height. */
function boxMean(grey: Buffer, width: number, height: number, [x0, x1]: number[], [y0, y1]: number[]): number {
  let sum = 0;
  let n = 0;
  for (let y = Math.floor(y0! * height); y < Math.floor(y1! * height); y++) {
    for (let x = Math.floor(x0! * width); x < Math.floor(x1! * width); x++, n++) sum += grey[y * width + x]!;
  }
  return sum / n;
}


describe('matting worker with the real model', function () {
  this.timeout(120_000);
  // The repo's model cache, so the file assembled by setup (or an earlier run) is reused.
  const config = loadConfig({ ...process.env, MODEL_CACHE_DIR: path.join(repoRoot(), '.cache', 'models') });
  let model: MatteModel;
  let photo: Buffer;
  /** Grace Hopper's matte from the JPEG as shipped: the reference the odd formats are held to. */
  let reference: Buffer;

  /** Run the whole matting path on one image and read the outputs back. */
  async function matte(bytes: Buffer) {
    const input = await prepareInput(bytes);
    const out = await renderOutputs(bytes, await model.infer(input.tensor), input);
    const meta = await sharp(out.matte).metadata();
    const cut = await sharp(out.cutout).raw().toBuffer({ resolveWithObject: true });
    return {
      input,
      out,
      meta,
      alpha: await sharp(out.matte).extractChannel(0).raw().toBuffer(),
      rgba: cut.data,
      cutoutInfo: cut.info,
    };
  }

  /** Opaque on her face and body, transparent in the top corners. */
  function assertHopper(alpha: Buffer, what: string): void {
    const face = boxMean(alpha, 512, 600, [0.35, 0.65], [0.2, 0.5]);
    const body = boxMean(alpha, 512, 600, [0.2, 0.8], [0.7, 1]);
    assert.ok(face > 240, `${what}: face mean ${face}`);
    assert.ok(body > 240, `${what}: body mean ${body}`);
    for (const xs of [[0, 0.2], [0.8, 1]]) {
      const corner = boxMean(alpha, 512, 600, xs, [0, 0.25]);
      assert.ok(corner < 10, `${what}: top corner ${xs} mean ${corner}`);
    }
  }

  /** Mean absolute difference of two mattes of the same size, in 0..255. */
  function meanDiff(a: Buffer, b: Buffer): number {
    assert.equal(a.length, b.length);
    let sum = 0;
    for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
    return sum / a.length;
  }

  before(async () => {
    await prepareModel(config);
    model = await createMatteModel({
      modelPath: config.MODEL_PATH,
      executionProvider: config.EXECUTION_PROVIDER,
      intraOpThreads: config.INTRA_OP_THREADS,
    });
    photo = await readFile(path.join(fixturePhotosDir(), 'grace_hopper.jpg'));
  });
  after(async () => model?.close());

  it('cuts Grace Hopper out of her portrait: opaque on her, transparent in the top corners', async () => {
    const { out, meta, alpha } = await matte(photo);
    reference = alpha;
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', 512, 600, 1]);
    assertHopper(alpha, 'jpeg');

    const rgba = await sharp(out.cutout).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([rgba.info.width, rgba.info.height, rgba.info.channels], [512, 600, 4]);
    const rgb = await sharp(photo).raw().toBuffer();
    let opaque = 0;
    for (let i = 0; i < 512 * 600; i++) {
      assert.equal(rgba.data[i * 4 + 3], alpha[i]);
      if (alpha[i] === 0) continue;
      opaque++;
      assert.deepEqual([...rgba.data.subarray(i * 4, i * 4 + 3)], [...rgb.subarray(i * 3, i * 3 + 3)], `pixel ${i}`);
    }
    assert.ok(opaque > 0.4 * 512 * 600, `${opaque} visible pixels`);
  });

  it('lines the matte up with an EXIF-rotated JPEG (stored 600x512, orientation 6) and with a CMYK JPEG', async () => {
    // Stored turned a quarter left; orientation 6 tells viewers to turn it back.
    const rotated = await sharp(photo).rotate(270).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    assert.deepEqual(await sharp(rotated).metadata().then((m) => [m.width, m.height, m.orientation]), [600, 512, 6]);
    const cmyk = await sharp(photo).toColourspace('cmyk').withIccProfile('cmyk').jpeg({ quality: 95 }).toBuffer();
    assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
    for (const [what, bytes] of [['exif-rotated', rotated], ['cmyk', cmyk]] as const) {
      const { meta, alpha } = await matte(bytes);
      assert.deepEqual([meta.width, meta.height, meta.channels], [512, 600, 1], what);
      assertHopper(alpha, what);
      const diff = meanDiff(alpha, reference);
      assert.ok(diff < 4, `${what}: mean difference from the plain JPEG's matte ${diff}`);
    }
  });

  it('keeps the pixels of a 16-bit PNG with alpha: transparent stays transparent, RGB is not flattened', async () => {
    // 16-bit RGBA Grace Hopper whose left quarter is fully transparent.
    const rgb = await sharp(photo).raw().toBuffer();
    const rgba = Buffer.alloc(512 * 600 * 4);
    for (let i = 0; i < 512 * 600; i++) {
      rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
      rgba[i * 4 + 3] = i % 512 < 128 ? 0 : 255;
    }
    const png16 = await sharp(rgba, { raw: { width: 512, height: 600, channels: 4 } }).toColourspace('rgb16').png().toBuffer();
    assert.deepEqual(await sharp(png16).metadata().then((m) => [m.depth, m.channels]), ['ushort', 4]);

    const { meta, alpha, rgba: cut, cutoutInfo } = await matte(png16);
    assert.deepEqual([meta.width, meta.height, meta.channels, cutoutInfo.channels], [512, 600, 1, 4]);
    // The model saw her (the transparent strip is flattened on white for it) ...
    assert.ok(boxMean(alpha, 512, 600, [0.35, 0.65], [0.2, 0.5]) > 240);
    for (let i = 0; i < 512 * 600; i++) {
      // ... the cut-out's alpha is min(original alpha, matte) ...
      assert.equal(cut[i * 4 + 3], i % 512 < 128 ? 0 : alpha[i], `alpha ${i}`);
      // ... and its RGB is the original's everywhere, under the transparent strip too.
      assert.deepEqual([...cut.subarray(i * 4, i * 4 + 3)], [...rgb.subarray(i * 3, i * 3 + 3)], `pixel ${i}`);
    }
  });

  it('delivers the matte of a 4000x200 panorama and of a 1x1 image at their own size', async () => {
    const flower = path.join(fixturePhotosDir(), 'flower.png');
    const panorama = await sharp(flower).resize(4000, 200, { fit: 'fill' }).webp({ quality: 90 }).toBuffer();
    const dot = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#808080' } }).png().toBuffer();
    for (const [bytes, width, height] of [[panorama, 4000, 200], [dot, 1, 1]] as const) {
      const { meta, cutoutInfo, rgba, alpha } = await matte(bytes);
      assert.deepEqual([meta.width, meta.height, meta.channels], [width, height, 1]);
      assert.deepEqual([cutoutInfo.width, cutoutInfo.height, cutoutInfo.channels], [width, height, 4]);
      assert.equal(rgba[3], alpha[0]);
    }
  });

  describe('as a stage on a real nats-server', () => {
    let server: NatsServerHandle;
    let worker: MattingTestStage;

    before(async () => {
      server = await startNatsServer();
      worker = await startMattingTestStage({ natsUrl: server.url, bucket: 'matting-test', model, concurrency: 2 });
    });
    after(async () => {
      await worker?.stop();
      await server?.cleanup();
    });

    it('mattes an ingested photo and dead-letters a corrupt one after exactly one delivery', async () => {
      await worker.ingest('hopper', photo);
      await worker.ingest('corrupt', photo.subarray(0, 2000));
      const find = (prefix: string) => worker.events.find((e) => e.subject.startsWith(prefix));
      await waitFor('the matte and the termination', () => !!find('chunk.matted.job1.hopper') && worker.terminated.length > 0, 45_000);

      const m = find('chunk.matted.job1.hopper')!;
      const matted = parseEvent(ChunkMatted, m.data, m.subject);
      assert.deepEqual(
        [matted.original_object, matted.width, matted.height, matted.model],
        ['job1/hopper/original', 512, 600, path.basename(config.MODEL_PATH)],
      );
      assert.ok(matted.inference_ms > 0);
      const matte = await sharp(await readObject(worker.stage.store, matted.matte_object)).metadata();
      assert.deepEqual([matte.width, matte.height, matte.channels], [512, 600, 1]);
      const cutout = await sharp(await readObject(worker.stage.store, matted.cutout_object)).metadata();
      assert.deepEqual([cutout.width, cutout.height, cutout.channels], [512, 600, 4]);

      assert.deepEqual(worker.terminated.map((t) => t.deliveries), [1]);
      const [err] = worker.errors.get('corrupt') ?? [];
      assert.ok(err instanceof UnsupportedImageError);
      assert.match(err.message, /^cannot decode image: /);
      assert.equal(worker.attempts.get('corrupt'), 1);
      assert.equal(worker.attempts.get('hopper'), 1);
      assert.ok(!find('chunk.matted.job1.corrupt'), 'no matte for the corrupt image');
    });
  });
});
