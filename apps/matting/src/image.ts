import sharp from 'sharp';
import { UnsupportedImageError } from '@mesh/contracts';
import { MODEL_SIZE } from './isnet.js';

/** The model's input for one image, and the size of the image as displayed (EXIF-oriented). */
export interface PreparedInput {
  /** CHW float32 [3, 1024, 1024], each value v/255 - 0.5. */
  tensor: Float32Array;
  width: number;
  height: number;
}

/** The two files a matted chunk produces. */
export interface RenderedOutputs {
  /** 8-bit single-channel PNG at width x height. */
  matte: Buffer;
  /** RGBA PNG: the original's pixels with the matte as alpha. */
  cutout: Buffer;
}

/**
 * The original as displayed: EXIF orientation applied (so the matte lines up with what viewers
 * show), sRGB, 8-bit RGB. Transparent areas are flattened onto white, as a viewer shows them.
 */
function decodeOriented(original: Buffer): sharp.Sharp {
  return sharp(original, { autoOrient: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .removeAlpha();
}

function unsupported(err: unknown): UnsupportedImageError {
  const reason = err instanceof Error ? err.message : String(err);
  return new UnsupportedImageError(`cannot decode image: ${reason}`, { cause: err });
}

/**
 * Decode an image and build ISNet's input: oriented, sRGB, stretched to 1024x1024 with a bilinear
 * kernel, as CHW floats v/255 - 0.5. Throws UnsupportedImageError when the bytes do not decode.
 */
export async function prepareInput(original: Buffer): Promise<PreparedInput> {
  let width: number;
  let height: number;
  let pixels: Buffer;
  try {
    const meta = await sharp(original).metadata();
    ({ width, height } = meta.autoOrient);
    const out = await decodeOriented(original)
      .resize(MODEL_SIZE, MODEL_SIZE, { fit: 'fill', kernel: 'linear' })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (out.info.channels !== 3) throw new Error(`expected 3 channels after conversion, got ${out.info.channels}`);
    pixels = out.data;
  } catch (err) {
    throw unsupported(err);
  }
  const plane = MODEL_SIZE * MODEL_SIZE;
  const tensor = new Float32Array(3 * plane);
  // HWC bytes to CHW floats in one pass.
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    tensor[i] = pixels[p]! / 255 - 0.5;
    tensor[plane + i] = pixels[p + 1]! / 255 - 0.5;
    tensor[2 * plane + i] = pixels[p + 2]! / 255 - 0.5;
  }
  return { tensor, width, height };
}

/**
 * Scale ISNet's 1024x1024 matte (floats in 0..1) back to the original's oriented size and encode
 * it as an 8-bit grey PNG, plus a cut-out: the original's RGB with the matte as alpha.
 */
export async function renderOutputs(
  original: Buffer,
  matte: Float32Array,
  width: number,
  height: number,
): Promise<RenderedOutputs> {
  if (matte.length !== MODEL_SIZE * MODEL_SIZE) {
    throw new Error(`matte has ${matte.length} values, expected ${MODEL_SIZE * MODEL_SIZE}`);
  }
  const small = Buffer.alloc(matte.length);
  for (let i = 0; i < matte.length; i++) {
    // Clamp, so a value a hair outside 0..1 cannot wrap around in the byte.
    small[i] = Math.round(Math.min(1, Math.max(0, matte[i]!)) * 255);
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

  const rgb = await decodeOriented(original).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (rgb.info.width !== width || rgb.info.height !== height || rgb.info.channels !== 3) {
    throw new Error(
      `original decodes to ${rgb.info.width}x${rgb.info.height}x${rgb.info.channels}, expected ${width}x${height}x3`,
    );
  }
  const [mattePng, cutoutPng] = await Promise.all([
    sharp(alpha, { raw: { width, height, channels: 1 } }).toColourspace('b-w').png().toBuffer(),
    sharp(rgb.data, { raw: { width, height, channels: 3 } })
      .joinChannel(alpha, { raw: { width, height, channels: 1 } })
      .png()
      .toBuffer(),
  ]);
  return { matte: mattePng, cutout: cutoutPng };
}
