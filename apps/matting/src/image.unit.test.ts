import assert from 'node:assert/strict';
import sharp from 'sharp';
import { UnsupportedImageError } from '@mesh/contracts';
import { prepareInput, renderOutputs } from './image.js';
import { MODEL_SIZE } from './isnet.js';

const PLANE = MODEL_SIZE * MODEL_SIZE;
/** Tensor value of channel c at model pixel (x, y). */
const at = (t: Float32Array, c: number, x: number, y: number) => t[c * PLANE + y * MODEL_SIZE + x]!;

/** A width x height image, top half red and bottom half blue. */
function halves(width: number, height: number): sharp.Sharp {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) px.set(y < height / 2 ? [255, 0, 0] : [0, 0, 255], (y * width + x) * 3);
  }
  return sharp(px, { raw: { width, height, channels: 3 } });
}

describe('matting image preparation', () => {
  it('turns a solid colour into a 3x1024x1024 tensor of v/255 - 0.5', async () => {
    const png = await sharp({ create: { width: 8, height: 6, channels: 3, background: { r: 255, g: 0, b: 51 } } })
      .png()
      .toBuffer();
    const { tensor, width, height } = await prepareInput(png);
    assert.equal(tensor.length, 3 * PLANE);
    assert.deepEqual([width, height], [8, 6]);
    for (const [x, y] of [[0, 0], [512, 300], [1023, 1023]] as const) {
      assert.ok(Math.abs(at(tensor, 0, x, y) - 0.5) < 1e-6);
      assert.ok(Math.abs(at(tensor, 1, x, y) + 0.5) < 1e-6);
      assert.ok(Math.abs(at(tensor, 2, x, y) - (51 / 255 - 0.5)) < 1e-6);
    }
  });

  it('applies EXIF orientation: a JPEG stored 40x20 with orientation 6 is 20x40, rotated clockwise', async () => {
    const jpeg = await halves(40, 20).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const { tensor, width, height } = await prepareInput(jpeg);
    assert.deepEqual([width, height], [20, 40]);
    // Rotated 90 degrees clockwise, the stored top (red) is on the right, the bottom (blue) on the left.
    assert.ok(at(tensor, 0, 900, 512) > 0.4 && at(tensor, 2, 900, 512) < -0.4, 'right is red');
    assert.ok(at(tensor, 0, 100, 512) < -0.4 && at(tensor, 2, 100, 512) > 0.4, 'left is blue');
  });

  it('rejects bytes that are not an image as UnsupportedImageError', async () => {
    await assert.rejects(prepareInput(Buffer.from('definitely not a JPEG')), (err: unknown) => {
      assert.ok(err instanceof UnsupportedImageError);
      assert.match(err.message, /^cannot decode image: /);
      return true;
    });
  });

  it('rejects a truncated JPEG as UnsupportedImageError', async () => {
    const jpeg = await halves(256, 256).jpeg().toBuffer();
    await assert.rejects(prepareInput(jpeg.subarray(0, jpeg.length / 2)), UnsupportedImageError);
  });
});

describe('matting outputs', () => {
  it('scales the matte to the oriented size as one grey channel; the cut-out keeps the original pixels', async () => {
    const original = await halves(40, 20).png().withMetadata({ orientation: 6 }).toBuffer();
    // Opaque on the left half of the model's view, transparent on the right.
    const matte = new Float32Array(PLANE).map((_, i) => (i % MODEL_SIZE < MODEL_SIZE / 2 ? 1 : 0));
    const out = await renderOutputs(original, matte, 20, 40);

    const m = await sharp(out.matte).metadata();
    assert.deepEqual([m.format, m.width, m.height, m.channels, m.depth], ['png', 20, 40, 1, 'uchar']);
    const alpha = await sharp(out.matte).extractChannel(0).raw().toBuffer();
    assert.equal(alpha[20 * 20 + 2], 255);
    assert.equal(alpha[20 * 20 + 17], 0);

    const c = await sharp(out.cutout).metadata();
    assert.deepEqual([c.format, c.width, c.height, c.channels], ['png', 20, 40, 4]);
    const rgba = await sharp(out.cutout).raw().toBuffer();
    const rgb = await sharp(original).autoOrient().raw().toBuffer();
    for (let i = 0; i < 20 * 40; i++) {
      assert.deepEqual([...rgba.subarray(i * 4, i * 4 + 3)], [...rgb.subarray(i * 3, i * 3 + 3)], `pixel ${i}`);
      assert.equal(rgba[i * 4 + 3], alpha[i], `alpha ${i}`);
    }
  });
});
