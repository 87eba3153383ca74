import sharp, { type Sharp } from 'sharp';
import { UnsupportedImageError } from '@mesh/contracts';

/** Longest side of the whole comparison image. */
export const MAX_SIDE = 2048;
/** Pixels between two panels. */
export const PANEL_GAP = 16;
/** Side of one checkerboard square behind the cut-out. */
const CHECKER = 16;
const CHECKER_DARK = 0xcc;
const CHECKER_LIGHT = 0xff;
const BACKGROUND = { r: 255, g: 255, b: 255 };

/** The three images of one matted chunk, as stored. */
export interface ComparisonInputs {
  /** The uploaded image, in any format sharp reads; may carry an EXIF orientation. */
  original: Buffer;
  /** 8-bit single-channel PNG at the original's EXIF-oriented size. */
  matte: Buffer;
  /** RGBA PNG: the oriented original with the matte as alpha. */
  cutout: Buffer;
}

/** The comparison JPEG and the matte's raw pixels, from which the figures are computed. */
export interface Comparison {
  jpeg: Buffer;
  /** One byte per matte pixel, row-major, at the matte's full size. */
  alpha: Uint8Array;
  /** Size of the JPEG. */
  width: number;
  height: number;
}

/** Run a decode step; a failure means the stored bytes are not an image we can read. */
async function decoding<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw new UnsupportedImageError(`the ${what} cannot be decoded: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

/** 8-bit sRGB pixels: RGB, or RGBA when the alpha must survive for blending. */
async function rawPixels(image: Sharp, channels: 3 | 4): Promise<Buffer> {
  // A transparent original is shown over white, as a viewer would, not over its hidden colour.
  const pipeline = channels === 4 ? image.ensureAlpha() : image.flatten({ background: BACKGROUND });
  return pipeline.toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer();
}

function checkerboard(width: number, height: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = (Math.floor(x / CHECKER) + Math.floor(y / CHECKER)) % 2 ? CHECKER_DARK : CHECKER_LIGHT;
      data.fill(v, (y * width + x) * 3, (y * width + x) * 3 + 3);
    }
  }
  return data;
}

/** Panel height that keeps the whole image within MAX_SIDE and never enlarges the matte. */
function panelSize(matteWidth: number, matteHeight: number): { width: number; height: number } {
  const aspect = matteWidth / matteHeight;
  const byWidth = (MAX_SIDE - 2 * PANEL_GAP) / (3 * aspect);
  const height = Math.max(1, Math.floor(Math.min(matteHeight, MAX_SIDE, byWidth)));
  const width = Math.max(1, Math.min(Math.round(aspect * height), Math.floor((MAX_SIDE - 2 * PANEL_GAP) / 3)));
  return { width, height };
}

/**
 * Compose original | alpha matte | cut-out over a checkerboard, side by side at one height, as a
 * JPEG whose longest side is at most MAX_SIDE. The original is EXIF-oriented first, because the
 * matte was computed on the oriented image. No text is drawn: fonts may be missing on the host.
 * Throws UnsupportedImageError (permanent) when an input cannot be decoded.
 */
export async function composeComparison(inputs: ComparisonInputs): Promise<Comparison> {
  const matte = await decoding('matte', () =>
    sharp(inputs.matte).extractChannel(0).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true }),
  );
  const { width: mw, height: mh } = matte.info;
  const alpha = new Uint8Array(matte.data.buffer, matte.data.byteOffset, matte.data.byteLength);
  const panel = panelSize(mw, mh);
  // 'fill' keeps the three panels aligned even if an input is a pixel off the matte's size.
  const resize = { width: panel.width, height: panel.height, fit: 'fill' as const };

  const [original, mattePanel, cutout] = await Promise.all([
    decoding('original', () => rawPixels(sharp(inputs.original).rotate().resize(resize), 3)),
    rawPixels(sharp(matte.data, { raw: { width: mw, height: mh, channels: 1 } }).resize(resize), 3),
    decoding('cut-out', () => rawPixels(sharp(inputs.cutout).resize(resize), 4)),
  ]);
  const width = 3 * panel.width + 2 * PANEL_GAP;
  const height = panel.height;
  const at = (data: Buffer, channels: 3 | 4, index: number) => ({
    input: data,
    raw: { width: panel.width, height: panel.height, channels },
    left: index * (panel.width + PANEL_GAP),
    top: 0,
  });
  const jpeg = await sharp({ create: { width, height, channels: 3, background: BACKGROUND } })
    .composite([
      at(original, 3, 0),
      at(mattePanel, 3, 1),
      at(checkerboard(panel.width, panel.height), 3, 2),
      // Layered after the checkerboard: a 4-channel overlay is blended by its alpha.
      at(cutout, 4, 2),
    ])
    .jpeg({ quality: 85 })
    .toBuffer();
  return { jpeg, alpha, width, height };
}
