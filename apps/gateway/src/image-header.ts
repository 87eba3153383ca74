import { PassThrough, type Readable } from 'node:stream';
import sharp from 'sharp';
import { EntryRejectedError } from './zip-reader.js';

/** Bytes read ahead to find an image's dimensions in its header. */
const HEAD_BYTES = 256 * 1024;

/**
 * Refuse a pixel bomb before anything is stored or decoded: read the first bytes of the image,
 * let libvips parse only its header, and compare the claimed size with `maxPixels`. Returns a
 * stream of the whole image (the head replayed, then the rest). A header libvips cannot parse
 * from the first bytes is let through: the matting stage decodes it and says what is wrong.
 */
export async function checkImageHeader(stream: Readable, maxPixels: number): Promise<Readable> {
  const head: Buffer[] = [];
  let size = 0;
  const it = stream[Symbol.asyncIterator]();
  let ended = false;
  while (size < HEAD_BYTES) {
    const next = await it.next();
    if (next.done) {
      ended = true;
      break;
    }
    head.push(next.value as Buffer);
    size += (next.value as Buffer).length;
  }
  const first = Buffer.concat(head);
  if (first.length === 0) throw new EntryRejectedError('zero-byte file');
  const meta = await sharp(first, { failOn: 'none', limitInputPixels: false })
    .metadata()
    .catch(() => undefined);
  if (meta?.width && meta.height && meta.width * meta.height > maxPixels) {
    // Read the rest so the archive goes on, then refuse this image.
    if (!ended) for (let n = await it.next(); !n.done; n = await it.next());
    throw new EntryRejectedError(
      `image header claims ${meta.width}x${meta.height} pixels, more than MATTING_MAX_PIXELS (${maxPixels}): refused before decoding`,
    );
  }
  const out = new PassThrough();
  (async () => {
    if (!out.write(first)) await new Promise((r) => out.once('drain', r));
    if (!ended) {
      for (let n = await it.next(); !n.done; n = await it.next()) {
        if (!out.write(n.value)) await new Promise((r) => out.once('drain', r));
      }
    }
    out.end();
  })().catch((err: unknown) => out.destroy(err as Error));
  return out;
}
