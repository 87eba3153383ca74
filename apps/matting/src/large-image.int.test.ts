import assert from 'node:assert/strict';
import path from 'node:path';
import sharp from 'sharp';
import { fixturePhotosDir } from '@mesh/testing';
import { prepareInput, renderOutputs } from './image.js';
import { MODEL_SIZE } from './isnet.js';

describe('matting a 54-megapixel photo', function () {
  this.timeout(60_000);

  it('feeds the model 1024x1024 and delivers the matte and cut-out at 9000x6000 in bounded memory', async () => {
    const jpeg = await sharp(path.join(fixturePhotosDir(), 'flower.png'))
      .resize(9000, 6000, { fit: 'fill' })
      .jpeg({ quality: 85 })
      .toBuffer();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    try {
      const input = await prepareInput(jpeg);
      assert.deepEqual([input.width, input.height, input.tensor.length], [9000, 6000, 3 * MODEL_SIZE * MODEL_SIZE]);
      // Inference does not depend on the photo's size (the model sees 1024x1024): a fixed matte stands in.
      const out = await renderOutputs(jpeg, new Float32Array(MODEL_SIZE * MODEL_SIZE).fill(0.5), input);
      const m = await sharp(out.matte).metadata();
      const c = await sharp(out.cutout).metadata();
      assert.deepEqual([m.width, m.height, m.channels, c.width, c.height, c.channels], [9000, 6000, 1, 9000, 6000, 4]);
    } finally {
      clearInterval(sample);
    }
    // Measured about 7.5 bytes per pixel (RGB, matte, encoder buffers); a float or double RGBA copy would be 16+.
    const perPixel = (peak - before) / (9000 * 6000);
    assert.ok(perPixel < 12, `peak RSS grew by ${perPixel.toFixed(1)} bytes per pixel`);
  });
});
