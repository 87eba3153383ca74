import assert from 'node:assert/strict';
import sharp from 'sharp';
import { UnsupportedImageError } from '@mesh/contracts';
import { probeImage, prepareInput, renderOutputs } from './image.js';
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

  it('converts an embedded colour profile to sRGB: Display P3 red is fed to the model as sRGB red', async () => {
    const red = sharp({ create: { width: 8, height: 8, channels: 3, background: '#ff0000' } });
    const p3 = await red.withIccProfile('p3').png().toBuffer();
    // The stored values are P3 coordinates, far from (255, 0, 0) ...
    const stored = await sharp(p3).keepIccProfile().raw().toBuffer();
    assert.ok(stored[0]! < 245 && stored[1]! > 30, `stored ${[...stored.subarray(0, 3)]}`);
    // ... and the tensor holds sRGB red again.
    const { tensor } = await prepareInput(p3);
    assert.ok(at(tensor, 0, 500, 500) > 0.48 && at(tensor, 1, 500, 500) < -0.45 && at(tensor, 2, 500, 500) < -0.45);
  });

  it('decodes CMYK JPEG, 16-bit PNG, grey, grey+alpha, palette PNG, WebP, AVIF, TIFF and GIF alike', async () => {
    const base = halves(64, 48);
    const rgba = base.clone().ensureAlpha(1);
    const frames = [await base.clone().png().toBuffer(), await base.clone().negate().png().toBuffer()];
    const inputs: Record<string, Promise<Buffer>> = {
      cmyk: base.clone().toColourspace('cmyk').withIccProfile('cmyk').jpeg().toBuffer(),
      png16: base.clone().toColourspace('rgb16').png().toBuffer(),
      grey: base.clone().toColourspace('b-w').png().toBuffer(),
      greyAlpha: base.clone().toColourspace('b-w').ensureAlpha(1).png().toBuffer(),
      palette: base.clone().png({ palette: true }).toBuffer(),
      webp: rgba.clone().webp({ lossless: true }).toBuffer(),
      avif: base.clone().avif({ lossless: true }).toBuffer(),
      tiff: base.clone().tiff().toBuffer(),
      gif: sharp(frames, { join: { animated: true } }).gif().toBuffer(),
    };
    for (const [name, bytes] of Object.entries(inputs)) {
      const input = await prepareInput(await bytes);
      assert.deepEqual([input.width, input.height, input.tensor.length], [64, 48, 3 * PLANE], name);
      // Red above, blue below (grey: bright above, dark below); a GIF shows its first frame, not the negated second.
      const top = at(input.tensor, 0, 512, 200);
      const bottom = at(input.tensor, 0, 512, 800);
      assert.ok(top - bottom > 0.1, `${name}: top ${top}, bottom ${bottom}`);
      const out = await renderOutputs(await bytes, new Float32Array(PLANE).fill(1), input);
      const m = await sharp(out.matte).metadata();
      const c = await sharp(out.cutout).metadata();
      assert.deepEqual([m.width, m.height, m.channels, c.width, c.height, c.channels], [64, 48, 1, 64, 48, 4], name);
    }
  });

  it('refuses an image above MATTING_MAX_PIXELS from its header, without decoding it', async () => {
    // A 16x16 JPEG whose frame header claims 30000x30000: decoding it would fail differently (or take 2.7 GB).
    const jpeg = Buffer.from(await halves(16, 16).jpeg().toBuffer());
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    jpeg.writeUInt16BE(30000, sof + 5);
    jpeg.writeUInt16BE(30000, sof + 7);
    await assert.rejects(prepareInput(jpeg, { maxPixels: 120_000_000 }), (err: unknown) => {
      assert.ok(err instanceof UnsupportedImageError);
      assert.equal(
        err.message,
        'image is 30000x30000 (900.0 megapixels), larger than the 120.0 megapixels this service accepts (MATTING_MAX_PIXELS)',
      );
      return true;
    });
    // At the limit is fine.
    assert.deepEqual(await probeImage(await halves(100, 10).png().toBuffer(), { maxPixels: 1000 }), {
      format: 'png',
      width: 100,
      height: 10,
      hasAlpha: false,
    });
  });

  it('refuses formats outside the supported set (SVG) with the reason', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    await assert.rejects(prepareInput(svg), /^UnsupportedImageError: unsupported image format svg/);
  });
});

describe('matting outputs', () => {
  it('scales the matte to the oriented size as one grey channel; the cut-out keeps the original pixels', async () => {
    const original = await halves(40, 20).png().withMetadata({ orientation: 6 }).toBuffer();
    // Opaque on the left half of the model's view, transparent on the right.
    const matte = new Float32Array(PLANE).map((_, i) => (i % MODEL_SIZE < MODEL_SIZE / 2 ? 1 : 0));
    const out = await renderOutputs(original, matte, { width: 20, height: 40 });

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

  it('keeps the RGB of an image with alpha, not flattened, and gives the cut-out min(original alpha, matte)', async () => {
    // 40x20: left half opaque red, right half half-transparent blue (alpha 128).
    const px = Buffer.alloc(40 * 20 * 4);
    for (let i = 0; i < 40 * 20; i++) px.set(i % 40 < 20 ? [255, 0, 0, 255] : [0, 0, 255, 128], i * 4);
    const original = await sharp(px, { raw: { width: 40, height: 20, channels: 4 } }).png().toBuffer();
    // Matte: 200/255 everywhere.
    const out = await renderOutputs(original, new Float32Array(PLANE).fill(200 / 255), { width: 40, height: 20 });
    const rgba = await sharp(out.cutout).raw().toBuffer();
    assert.deepEqual([...rgba.subarray(0, 4)], [255, 0, 0, 200], 'opaque pixel takes the matte');
    assert.deepEqual([...rgba.subarray(39 * 4, 40 * 4)], [0, 0, 255, 128], 'half-transparent pixel keeps its alpha and blue');
    const matte = await sharp(out.matte).raw().toBuffer();
    assert.equal(matte[39], 200, 'the matte itself is the model output, not the combination');
  });

  it('writes the cut-out as lossless WebP on request: every visible pixel is the original one', async () => {
    const original = await halves(40, 20).png().withMetadata({ orientation: 6 }).toBuffer();
    // A soft ramp from opaque (left of the model's view) to transparent (right).
    const matte = new Float32Array(PLANE).map((_, i) => 1 - (i % MODEL_SIZE) / (MODEL_SIZE - 1));
    const png = await renderOutputs(original, matte, { width: 20, height: 40 });
    const webp = await renderOutputs(original, matte, { width: 20, height: 40 }, undefined, 'webp');

    const c = await sharp(webp.cutout).metadata();
    assert.deepEqual([c.format, c.width, c.height, c.hasAlpha], ['webp', 20, 40, true]);
    assert.deepEqual(webp.matte, png.matte, 'the matte stays a PNG');
    const fromWebp = await sharp(webp.cutout).ensureAlpha().raw().toBuffer();
    const fromPng = await sharp(png.cutout).raw().toBuffer();
    let visible = 0;
    for (let i = 0; i < 20 * 40; i++) {
      assert.equal(fromWebp[i * 4 + 3], fromPng[i * 4 + 3], `alpha ${i}`);
      if (fromPng[i * 4 + 3] === 0) continue;
      visible++;
      assert.deepEqual([...fromWebp.subarray(i * 4, i * 4 + 3)], [...fromPng.subarray(i * 4, i * 4 + 3)], `pixel ${i}`);
    }
    assert.ok(visible > 300, `${visible} visible pixels compared`);
  });
});
