import sharp from 'sharp';
import { RetryableError, UnsupportedImageError, type CutoutFormat } from '@mesh/contracts';
import { isOutOfMemory } from './failures.js';
import { MODEL_SIZE } from './isnet.js';

/** Formats the worker decodes (sharp's names; AVIF reports as `heif`). The gateway accepts the same. */
export const SUPPORTED_FORMATS: readonly string[] = ['jpeg', 'png', 'webp', 'heif', 'tiff', 'gif'];

/** Default of MATTING_MAX_PIXELS, for callers that do not pass a limit. */
export const DEFAULT_MAX_PIXELS = 120_000_000;

export interface ImageLimits {
  /** Largest width x height accepted, checked on the header before anything is decoded. */
  maxPixels: number;
}

/** What the header says about an image, read without decoding its pixels. */
export interface ImageHeader {
  format: string;
  /** Size as displayed: EXIF orientation applied. */
  width: number;
  height: number;
  /** The original has an alpha channel (RGBA, grey + alpha, or a palette with transparency). */
  hasAlpha: boolean;
}

/** An original decoded once at full size: oriented, sRGB, 8-bit, alpha kept where it has one. */
export interface DecodedImage {
  data: Buffer;
  channels: 3 | 4;
}

/** The model's input for one image, and the header facts the outputs need. */
export interface PreparedInput extends ImageHeader {
  /** CHW float32 [3, 1024, 1024], each value v/255 - 0.5. */
  tensor: Float32Array;
  /**
   * The full-size decode the tensor was made from, kept for `renderOutputs` so the original is
   * decoded once; absent above KEEP_DECODED_PIXELS, where render decodes again instead.
   */
  decoded?: DecodedImage;
}

/**
 * Images up to this many pixels are decoded once and held (4 bytes a pixel at most, 64 MB here)
 * from prepare to render, i.e. through inference; larger ones are decoded twice (JPEGs shrink on
 * load for the model) so a worker's memory stays bounded by what one render needs.
 */
export const KEEP_DECODED_PIXELS = 16_000_000;

/** The two files a matted chunk produces. */
export interface RenderedOutputs {
  /** 8-bit single-channel PNG at width x height. */
  matte: Buffer;
  /**
   * RGBA PNG, or lossless WebP on request: the original's sRGB pixels; alpha is the matte, or
   * min(original alpha, matte). WebP keeps every visible pixel; under alpha 0 it drops the colour.
   */
  cutout: Buffer;
}


// zlib level 2 instead of 6: about 30% less encoding time for a few percent more bytes (bench).
const PNG: sharp.PngOptions = { compressionLevel: 2 };
// Lossless at the least effort: a quarter of the PNG's size at about twice its encoding time on a
// 3.4 MP photo; effort 1 and above save a third more but take 3x longer than that again.
const WEBP: sharp.WebpOptions = { lossless: true, effort: 0 };

const megapixels = (n: number) => (n >= 1e5 ? `${(n / 1e6).toFixed(1)} megapixels` : `${n} pixels`);

/**
 * A sharp failure while reading the original: an allocation failure is the worker's problem (retry);
 * anything else means the bytes are not an image this worker can read (permanent, reason shown).
 */
function decodeFailure(err: unknown): RetryableError | UnsupportedImageError {
  const reason = err instanceof Error ? err.message : String(err);
  if (isOutOfMemory(err)) return new RetryableError(`out of memory while decoding the image: ${reason}`, { cause: err });
  return new UnsupportedImageError(`cannot decode image: ${reason}`, { cause: err });
}

/**
 * Read the header only (sharp's metadata does not decode pixels) and refuse what the worker will not
 * decode: unknown formats, HEVC-coded HEIF, and images above `maxPixels`, so a 30000x30000 "bomb" is
 * answered before it takes 2.7 GB. Throws UnsupportedImageError with a reason a user can act on.
 */
export async function probeImage(original: Buffer, limits: ImageLimits): Promise<ImageHeader> {
  let meta: sharp.Metadata;
  try {
    // No pixel limit on the header read itself: the check below words the refusal.
    meta = await sharp(original, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw decodeFailure(err);
  }
  const { format, width, height } = meta;
  if (!SUPPORTED_FORMATS.includes(format)) {
    throw new UnsupportedImageError(
      `unsupported image format ${format}: expected JPEG, PNG, WebP, AVIF, TIFF or GIF`,
    );
  }
  if (format === 'heif' && meta.compression !== 'av1') {
    throw new UnsupportedImageError(`unsupported image format: HEIF with ${meta.compression ?? 'unknown'} coding (only AVIF is decoded)`);
  }
  if (!(width > 0 && height > 0)) throw new UnsupportedImageError(`cannot decode image: header gives no size`);
  if (width * height > limits.maxPixels) {
    throw new UnsupportedImageError(
      `image is ${width}x${height} (${megapixels(width * height)}), larger than the ` +
        `${megapixels(limits.maxPixels)} this service accepts (MATTING_MAX_PIXELS)`,
    );
  }
  return { format, width: meta.autoOrient.width, height: meta.autoOrient.height, hasAlpha: meta.hasAlpha };
}

/**
 * The original as displayed: EXIF orientation applied (so the matte lines up with what viewers
 * show), first page/frame only (GIF, TIFF), pixel limit enforced by libvips too.
 */
function decode(original: Buffer, limits: ImageLimits): sharp.Sharp {
  return sharp(original, { autoOrient: true, limitInputPixels: limits.maxPixels, sequentialRead: true });
}

/** Decode at full size to 8-bit sRGB, RGB or RGBA, and check it has the header's size. */
async function decodeFull(
  original: Buffer,
  limits: ImageLimits,
  header: Pick<ImageHeader, 'width' | 'height'>,
): Promise<DecodedImage> {
  const { data, info } = await decode(original, limits)
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const { channels } = info;
  if (info.width !== header.width || info.height !== header.height || (channels !== 3 && channels !== 4)) {
    throw new Error(
      `original decodes to ${info.width}x${info.height}x${channels}, expected ${header.width}x${header.height}x3 or 4`,
    );
  }
  return { data, channels };
}

/**
 * Check the header, decode, and build ISNet's input: oriented, converted to sRGB (embedded ICC
 * profiles and CMYK applied), 8-bit, transparent areas flattened on white, stretched to 1024x1024
 * with a bilinear kernel, as CHW floats v/255 - 0.5. Throws UnsupportedImageError for bytes that
 * are not a supported image or are too large, RetryableError when decoding runs out of memory.
 */
export async function prepareInput(
  original: Buffer,
  limits: ImageLimits = { maxPixels: DEFAULT_MAX_PIXELS },
): Promise<PreparedInput> {
  const header = await probeImage(original, limits);
  let pixels: Buffer;
  let decoded: DecodedImage | undefined;
  try {
    let source: sharp.Sharp;
    if (header.width * header.height <= KEEP_DECODED_PIXELS) {
      decoded = await decodeFull(original, limits, header);
      source = sharp(decoded.data, { raw: { width: header.width, height: header.height, channels: decoded.channels } });
    } else {
      source = decode(original, limits).toColourspace('srgb');
    }
    const out = await source
      .flatten({ background: '#ffffff' })
      // Large JPEGs shrink on load here, so a 50-megapixel photo is never decoded at full size for the model.
      .resize(MODEL_SIZE, MODEL_SIZE, { fit: 'fill', kernel: 'linear' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (out.info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${out.info.channels}`);
    pixels = out.data;
  } catch (err) {
    throw decodeFailure(err);
  }
  const plane = MODEL_SIZE * MODEL_SIZE;
  const tensor = new Float32Array(3 * plane);
  // HWC bytes to CHW floats in one pass.
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    tensor[i] = pixels[p]! / 255 - 0.5;
    tensor[plane + i] = pixels[p + 1]! / 255 - 0.5;
    tensor[2 * plane + i] = pixels[p + 2]! / 255 - 0.5;
  }
  return { ...header, tensor, ...(decoded ? { decoded } : {}) };
}

/**
 * Scale ISNet's 1024x1024 matte (floats in 0..1) back to the original's oriented size and encode
 * it as an 8-bit grey PNG, plus a cut-out: the original's sRGB pixels (not flattened) with the
 * matte as alpha. For an original that already had alpha, the cut-out's alpha is
 * min(original alpha, matte): what was transparent stays transparent, and the matte only removes.
 * Uses `image.decoded` (prepareInput's full-size decode; its RGBA is modified in place) or decodes
 * the original again. Peak memory is about 7.5 bytes per pixel of the original (its RGB(A), the
 * full-size matte, the encoders' buffers; measured on 54 megapixels).
 */
export async function renderOutputs(
  original: Buffer,
  matte: Float32Array,
  image: Pick<PreparedInput, 'width' | 'height' | 'decoded'>,
  limits: ImageLimits = { maxPixels: DEFAULT_MAX_PIXELS },
  cutoutFormat: CutoutFormat = 'png',
): Promise<RenderedOutputs> {
  const { width, height } = image;
  if (matte.length !== MODEL_SIZE * MODEL_SIZE) {
    throw new Error(`matte has ${matte.length} values, expected ${MODEL_SIZE * MODEL_SIZE}`);
  }
  const small = Buffer.alloc(matte.length);
  for (let i = 0; i < matte.length; i++) {
    // Clamp, so a value a hair outside 0..1 (or NaN) cannot wrap around in the byte.
    const v = matte[i]!;
    small[i] = v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0;
  }
  const alpha = await sharp(small, { raw: { width: MODEL_SIZE, height: MODEL_SIZE, channels: 1 } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    // Without this, sharp's default sRGB output would triple the single grey channel.
    .toColourspace('b-w')
    .raw()
    .toBuffer();
  if (alpha.length !== width * height) {
    throw new Error(`resized matte has ${alpha.length} bytes, expected ${width * height}`);
  }

  let rgb: DecodedImage;
  try {
    // Not flattened: the cut-out keeps the original's colours, also under its transparent areas.
    rgb = image.decoded ?? (await decodeFull(original, limits, image));
  } catch (err) {
    throw decodeFailure(err);
  }
  const { channels } = rgb;
  let cutout: sharp.Sharp;
  if (channels === 4) {
    // Fold the matte into the original's alpha in place: no second full-size RGBA buffer.
    const px = rgb.data;
    for (let i = 0, a = 3; i < alpha.length; i++, a += 4) if (alpha[i]! < px[a]!) px[a] = alpha[i]!;
    cutout = sharp(px, { raw: { width, height, channels: 4 } });
  } else {
    cutout = sharp(rgb.data, { raw: { width, height, channels: 3 } }).joinChannel(alpha, {
      raw: { width, height, channels: 1 },
    });
  }
  const [mattePng, cutoutFile] = await Promise.all([
    sharp(alpha, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png(PNG).toBuffer(),
    (cutoutFormat === 'webp' ? cutout.webp(WEBP) : cutout.png(PNG)).toBuffer(),
  ]);
  return { matte: mattePng, cutout: cutoutFile };
}
