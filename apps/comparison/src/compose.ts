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

/** A panel's place on the canvas. */
interface Placement {
  canvas: Buffer;
  canvasWidth: number;
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Copy RGB pixels onto the canvas, a row at a time. */
function paste(at: Placement, rgb: Buffer): void {
  const row = at.width * 3;
  for (let y = 0; y < at.height; y++) {
    rgb.copy(at.canvas, ((at.top + y) * at.canvasWidth + at.left) * 3, y * row, y * row + row);
  }
}

/** Paste a grey image as RGB (the matte panel). */
function pasteGrey(at: Placement, grey: Uint8Array): void {
  const { canvas } = at;
  for (let y = 0, i = 0; y < at.height; y++) {
    let p = ((at.top + y) * at.canvasWidth + at.left) * 3;
    for (let x = 0; x < at.width; x++, i++, p += 3) {
      const v = grey[i]!;
      canvas[p] = v;
      canvas[p + 1] = v;
      canvas[p + 2] = v;
    }
  }
}

/**
 * Blend RGBA pixels over a checkerboard onto the canvas ("over", in sRGB, as libvips' composite
 * does by default). Plain loops: a libvips composite of the panels cost more than the JPEG encoding.
 */
function pasteOverCheckerboard(at: Placement, rgba: Buffer): void {
  const { canvas } = at;
  for (let y = 0, q = 0; y < at.height; y++) {
    const rowParity = Math.floor(y / CHECKER) % 2;
    let p = ((at.top + y) * at.canvasWidth + at.left) * 3;
    for (let x = 0; x < at.width; x++, q += 4, p += 3) {
      const bg = (Math.floor(x / CHECKER) + rowParity) % 2 ? CHECKER_DARK : CHECKER_LIGHT;
      const a = rgba[q + 3]!;
      const keep = bg * (255 - a);
      canvas[p] = Math.round((rgba[q]! * a + keep) / 255);
      canvas[p + 1] = Math.round((rgba[q + 1]! * a + keep) / 255);
      canvas[p + 2] = Math.round((rgba[q + 2]! * a + keep) / 255);
    }
  }
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
  drawOutline(original, smallMatte, panel.width, panel.height, Math.max(1, Math.round(panel.height / 500)));

  const width = 3 * panel.width + 2 * PANEL_GAP;
  const height = LABEL_HEIGHT + panel.height;
  const labels = await sharp(labelBand(width, panel.width)).flatten({ background: BACKGROUND }).raw().toBuffer();
  if (labels.length !== width * LABEL_HEIGHT * 3) throw new Error(`label band rendered to ${labels.length} bytes`);
  // White canvas: the gaps between the panels stay white.
  const raw = Buffer.alloc(width * height * 3, 255);
  labels.copy(raw, 0, 0, width * LABEL_HEIGHT * 3);
  const at = (index: number): Placement => ({
    canvas: raw,
    canvasWidth: width,
    left: index * (panel.width + PANEL_GAP),
    top: LABEL_HEIGHT,
    ...panel,
  });
  paste(at(0), original);
  pasteGrey(at(1), smallMatte);
  pasteOverCheckerboard(at(2), cutout);
  const image = () => sharp(raw, { raw: { width, height, channels: 3 } });
  const [jpeg, thumbnail] = await Promise.all([
    // 4:4:4 keeps the one-pixel outline's colour; 4:2:0 would smear it into the grey.
    image().jpeg({ quality: 85, chromaSubsampling: '4:4:4' }).toBuffer(),
    image().resize({ width: THUMBNAIL_WIDTH, withoutEnlargement: true }).jpeg({ quality: 70 }).toBuffer(),
  ]);
  return { jpeg, thumbnail, alpha, matteWidth: mw, matteHeight: mh, width, height };
}
