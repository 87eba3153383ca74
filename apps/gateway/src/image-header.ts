import { imageSize } from 'image-size';
import sharp from 'sharp';
import { EntryRejectedError } from './zip-reader.js';

/**
 * Width and height from the header bytes, parsed in JavaScript (image-size): no round trip to
 * libvips' threads for every photo of an archive. Undefined where it cannot tell.
 */
function sizeFromHeader(head: Buffer): { width: number; height: number } | undefined {
  try {
    const { width, height } = imageSize(head);
    return width > 0 && height > 0 ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuse a pixel bomb before anything is stored or decoded: given an image's first bytes (256 KiB,
 * or all of a smaller one), read the size its header claims (in JavaScript, or else by libvips'
 * header parser) and compare it with `maxPixels`. Throws EntryRejectedError for a zero-byte file
 * or a claimed size above the limit. A header that cannot be parsed from these bytes is let
 * through: the matting stage decodes the image and says what is wrong with it.
 */
export async function checkImageHead(head: Buffer, maxPixels: number): Promise<void> {
  if (head.length === 0) throw new EntryRejectedError('zero-byte file');
  const size =
    sizeFromHeader(head) ??
    (await sharp(head, { failOn: 'none', limitInputPixels: false })
      .metadata()
      .catch(() => undefined));
  if (size?.width && size.height && size.width * size.height > maxPixels) {
    throw new EntryRejectedError(
      `image header claims ${size.width}x${size.height} pixels, more than MATTING_MAX_PIXELS (${maxPixels}): refused before decoding`,
    );
  }
}
