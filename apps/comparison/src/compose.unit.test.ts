import assert from 'node:assert/strict';
import sharp from 'sharp';
import { UnsupportedImageError } from '@mesh/contracts';
import { composeComparison, LABEL_HEIGHT, MAX_SIDE, OUTLINE, PANEL_GAP, THUMBNAIL_WIDTH } from './compose.js';

type Rgb = [number, number, number];

/** A raw RGB image whose pixel colour is chosen per position. */
function rgb(width: number, height: number, colour: (x: number, y: number) => Rgb): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(colour(x, y), (y * width + x) * 3);
  return data;
}

/** A matte opaque in the top half, transparent in the bottom half. */
function topHalfMatte(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height);
  data.fill(255, 0, width * Math.floor(height / 2));
  return data;
}

async function inputs(width: number, height: number, original: Buffer) {
  const alpha = topHalfMatte(width, height);
  const matte = await sharp(alpha, { raw: { width, height, channels: 1 } }).png().toBuffer();
  const cutout = await sharp(rgb(width, height, () => [0, 200, 0]), { raw: { width, height, channels: 3 } })
    .joinChannel(alpha, { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
  return { original, matte, cutout };
}

async function pixelAt(jpeg: Buffer, x: number, y: number): Promise<Rgb> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

function near(actual: Rgb, expected: Rgb, what: string): void {
  const off = actual.some((v, i) => Math.abs(v - expected[i]!) > 40);
  assert.ok(!off, `${what}: expected about ${expected.join(',')}, got ${actual.join(',')}`);
}

describe('comparison image', () => {
  it('shows the EXIF-oriented original, the matte in grey and the cut-out over a checkerboard', async () => {
    // Stored 120x60 with left half red, right half blue; orientation 6 shows it 60x120, red on top.
    const stored = rgb(120, 60, (x) => (x < 60 ? [255, 0, 0] : [0, 0, 255]));
    const original = await sharp(stored, { raw: { width: 120, height: 60, channels: 3 } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const result = await composeComparison(await inputs(60, 120, original));

    assert.equal(result.height, LABEL_HEIGHT + 120, 'a small image is not enlarged');
    assert.equal(result.width, 3 * 60 + 2 * PANEL_GAP);
    const meta = await sharp(result.jpeg).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', result.width, result.height]);
    assert.equal(result.alpha.length, 60 * 120);
    assert.deepEqual([result.matteWidth, result.matteHeight], [60, 120]);

    const column = (panel: number) => panel * (60 + PANEL_GAP) + 30;
    const top = LABEL_HEIGHT;
    near(await pixelAt(result.jpeg, column(0), top + 20), [255, 0, 0], 'original, top');
    near(await pixelAt(result.jpeg, column(0), top + 100), [0, 0, 255], 'original, bottom');
    near(await pixelAt(result.jpeg, column(1), top + 20), [255, 255, 255], 'matte, foreground');
    near(await pixelAt(result.jpeg, column(1), top + 100), [0, 0, 0], 'matte, background');
    near(await pixelAt(result.jpeg, column(2), top + 20), [0, 200, 0], 'cut-out, foreground');
    const behind = await pixelAt(result.jpeg, column(2), top + 100);
    assert.ok(behind.every((v) => v >= 0xcc - 40), `cut-out background shows the checkerboard, got ${behind.join(',')}`);
  });

  for (const [width, height] of [
    [2400, 800],
    [800, 2400],
  ] as const) {
    it(`keeps a ${width}x${height} comparison within ${MAX_SIDE} px with three equal panels`, async () => {
      const original = await sharp(rgb(width, height, () => [90, 90, 90]), { raw: { width, height, channels: 3 } })
        .png({ compressionLevel: 1 })
        .toBuffer();
      const result = await composeComparison(await inputs(width, height, original));
      assert.ok(Math.max(result.width, result.height) <= MAX_SIDE, `${result.width}x${result.height}`);
      const panelWidth = (result.width - 2 * PANEL_GAP) / 3;
      const panelHeight = result.height - LABEL_HEIGHT;
      assert.ok(Math.abs(panelWidth / panelHeight - width / height) < 0.01, 'panels keep the aspect ratio');
      const thumb = await sharp(result.thumbnail).metadata();
      assert.deepEqual([thumb.format, thumb.width], ['jpeg', THUMBNAIL_WIDTH], 'a thumbnail for reports');
      assert.equal(result.alpha.length, width * height, 'figures use the full-size matte');
    });
  }

  it('draws the matte edge over the original and labels each panel', async () => {
    // 200x100 grey original; the matte's foreground is the top half, so the edge is row 50.
    const original = await sharp(rgb(200, 100, () => [128, 128, 128]), { raw: { width: 200, height: 100, channels: 3 } })
      .png()
      .toBuffer();
    const result = await composeComparison(await inputs(200, 100, original));
    const { data, info } = await sharp(result.jpeg).raw().toBuffer({ resolveWithObject: true });
    const px = (x: number, y: number): Rgb => {
      const i = (y * info.width + x) * info.channels;
      return [data[i]!, data[i + 1]!, data[i + 2]!];
    };
    near(px(100, LABEL_HEIGHT + 50), [...OUTLINE], 'outline on the edge, original panel');
    near(px(100, LABEL_HEIGHT + 49), [...OUTLINE], 'outline is two pixels wide');
    near(px(100, LABEL_HEIGHT + 20), [128, 128, 128], 'original away from the edge');
    near(px(200 + PANEL_GAP + 100, LABEL_HEIGHT + 50), [0, 0, 0], 'no outline on the matte panel');
    // Text in the label band: dark pixels above every panel, and a white band between them.
    for (let panel = 0; panel < 3; panel++) {
      let dark = 0;
      for (let y = 0; y < LABEL_HEIGHT; y++) {
        for (let x = panel * (200 + PANEL_GAP); x < panel * (200 + PANEL_GAP) + 200; x++) if (px(x, y)[0] < 100) dark++;
      }
      assert.ok(dark > 30, `label above panel ${panel}: ${dark} dark pixels`);
    }
    near(px(3, 2), [255, 255, 255], 'label band background');
  });

  it('rejects a matte that is not an image as a permanent error', async () => {
    const good = await inputs(8, 8, await sharp(rgb(8, 8, () => [0, 0, 0]), { raw: { width: 8, height: 8, channels: 3 } }).png().toBuffer());
    await assert.rejects(composeComparison({ ...good, matte: Buffer.from('not a png') }), (err: unknown) => {
      assert.ok(err instanceof UnsupportedImageError);
      assert.match(err.message, /matte cannot be decoded/);
      return true;
    });
  });
});
