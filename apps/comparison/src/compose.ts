import sharp, { type Sharp } from 'sharp';
import { UnsupportedImageError } from '@mesh/contracts';
import { FOREGROUND_MIN } from './figures.js';
import { dilate } from './metrics.js';

/** Longest side of the whole comparison image. */
export const MAX_SIDE = 2048;
/** Pixels between two panels. */
export const PANEL_GAP = 16;
/** Height of the band of labels above the panels. */
export const LABEL_HEIGHT = 28;
/** Width of the thumbnail used in job reports. */
export const THUMBNAIL_WIDTH = 480;
/** Colour of the matte's edge drawn over the original. */
export const OUTLINE = [255, 0, 255] as const;
/** The labels, left to right. */
export const LABELS = ['original + matte edge', 'alpha matte', 'cut-out'] as const;
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

/** The comparison JPEG, its thumbnail and the matte's raw pixels, from which the figures are computed. */
export interface Comparison {
  jpeg: Buffer;
  /** The same image THUMBNAIL_WIDTH wide (never enlarged), for reports. */
  thumbnail: Buffer;
  /** One byte per matte pixel, row-major, at the matte's full size. */
  alpha: Uint8Array;
  matteWidth: number;
  matteHeight: number;
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

/** Panel size that keeps the whole image within MAX_SIDE and never enlarges the matte. */
function panelSize(matteWidth: number, matteHeight: number): { width: number; height: number } {
  const aspect = matteWidth / matteHeight;
  const byWidth = (MAX_SIDE - 2 * PANEL_GAP) / (3 * aspect);
  const height = Math.max(1, Math.floor(Math.min(matteHeight, MAX_SIDE - LABEL_HEIGHT, byWidth)));
  const width = Math.max(1, Math.min(Math.round(aspect * height), Math.floor((MAX_SIDE - 2 * PANEL_GAP) / 3)));
  return { width, height };
}

/**
 * Paint the edge of the thresholded matte (alpha >= 128) over RGB pixels: every pixel with both a
 * foreground and a background pixel within `radius`, a line 2 x radius wide centred on the edge.
 */
export function drawOutline(rgb: Buffer, matte: Uint8Array, width: number, height: number, radius: number): number {
  const fg = new Uint8Array(matte.length);
  const bg = new Uint8Array(matte.length);
  for (let i = 0; i < matte.length; i++) {
    fg[i] = matte[i]! >= FOREGROUND_MIN ? 1 : 0;
    bg[i] = 1 - fg[i]!;
  }
  const nearFg = dilate(fg, width, height, radius);
  const nearBg = dilate(bg, width, height, radius);
  let painted = 0;
  for (let i = 0; i < matte.length; i++) {
    if (nearFg[i] && nearBg[i]) {
      rgb.set(OUTLINE, i * 3);
      painted++;
    }
  }
  return painted;
}

const escapeXml = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The label band as SVG, rendered by librsvg through fontconfig (DejaVu Sans is on the hosts). */
function labelBand(width: number, panelWidth: number): Buffer {
  const size = Math.max(9, Math.min(18, Math.floor(panelWidth / 11)));
  const texts = LABELS.map((label, i) => {
    const x = i * (panelWidth + PANEL_GAP) + panelWidth / 2;
    return `<text x="${x}" y="${LABEL_HEIGHT / 2}" dominant-baseline="central" text-anchor="middle">${escapeXml(label)}</text>`;
  });
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${LABEL_HEIGHT}">` +
      `<g font-family="DejaVu Sans, sans-serif" font-size="${size}" fill="#222">${texts.join('')}</g></svg>`,
  );
}

/**
 * Compose, under a band of labels, original (with the matte's edge drawn over it) | alpha matte |
 * cut-out over a checkerboard, side by side at one height, as a JPEG whose longest side is at most
 * MAX_SIDE, plus a small thumbnail. The original is EXIF-oriented first, because the matte was
 * computed on the oriented image. Throws UnsupportedImageError (permanent) when an input cannot be decoded.
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

  const [original, smallMatte, cutout] = await Promise.all([
    decoding('original', () => rawPixels(sharp(inputs.original).rotate().resize(resize), 3)),
    sharp(matte.data, { raw: { width: mw, height: mh, channels: 1 } }).resize(resize).extractChannel(0).raw({ depth: 'uchar' }).toBuffer(),
    decoding('cut-out', () => rawPixels(sharp(inputs.cutout).resize(resize), 4)),
  ]);
  const mattePanel = Buffer.alloc(panel.width * panel.height * 3);
  for (let i = 0; i < smallMatte.length; i++) mattePanel.fill(smallMatte[i]!, i * 3, i * 3 + 3);
  drawOutline(original, smallMatte, panel.width, panel.height, Math.max(1, Math.round(panel.height / 500)));

  const width = 3 * panel.width + 2 * PANEL_GAP;
  const height = LABEL_HEIGHT + panel.height;
  const at = (data: Buffer, channels: 3 | 4, index: number) => ({
    input: data,
    raw: { width: panel.width, height: panel.height, channels },
    left: index * (panel.width + PANEL_GAP),
    top: LABEL_HEIGHT,
  });
  const raw = await sharp({ create: { width, height, channels: 3, background: BACKGROUND } })
    .composite([
      { input: labelBand(width, panel.width), left: 0, top: 0 },
      at(original, 3, 0),
      at(mattePanel, 3, 1),
      at(checkerboard(panel.width, panel.height), 3, 2),
      // Layered after the checkerboard: a 4-channel overlay is blended by its alpha.
      at(cutout, 4, 2),
    ])
    .removeAlpha()
    .raw()
    .toBuffer();
  const image = () => sharp(raw, { raw: { width, height, channels: 3 } });
  const [jpeg, thumbnail] = await Promise.all([
    // 4:4:4 keeps the one-pixel outline's colour; 4:2:0 would smear it into the grey.
    image().jpeg({ quality: 85, chromaSubsampling: '4:4:4' }).toBuffer(),
    image().resize({ width: THUMBNAIL_WIDTH, withoutEnlargement: true }).jpeg({ quality: 70 }).toBuffer(),
  ]);
  return { jpeg, thumbnail, alpha, matteWidth: mw, matteHeight: mh, width, height };
}
