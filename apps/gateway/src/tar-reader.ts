import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { ArchiveDamagedError, type ArchiveLimits, type ZipCallbacks } from './zip-reader.js';

/**
 * Read a tar (optionally gzip-compressed) archive as it streams in; each regular file is handed to
 * `onEntry` before the next is read. A damaged archive throws ArchiveDamagedError naming the last
 * good entry; entries before it are done.
 */
export async function readTar(input: Readable, gzip: boolean, limits: ArchiveLimits, cb: ZipCallbacks): Promise<number> {
  const extract = tar.extract();
  let last = '(start of archive)';
  let entries = 0;
  const source = gzip ? input.pipe(zlib.createGunzip()) : input;
  source.on('error', (err) => extract.destroy(err));
  source.pipe(extract);
  try {
    for await (const entry of extract) {
      const { name, type, size } = entry.header;
      if (type !== 'file' && type !== 'contiguous-file') {
        for await (const _ of entry) void _;
        continue;
      }
      last = `entry '${name}'`;
      if ((size ?? 0) > limits.maxEntryBytes) {
        cb.onSkip(name, `unpacks to more than ${limits.maxEntryBytes} bytes (limit per entry)`);
        for await (const _ of entry) void _;
        continue;
      }
      entries++;
      await cb.onEntry({ name, stream: Readable.from(entry) });
    }
  } catch (err) {
    if (err instanceof ArchiveDamagedError) throw err;
    throw new ArchiveDamagedError(
      `the ${gzip ? 'tar.gz' : 'tar'} archive is damaged after ${last}: ${(err as Error).message}`,
      -1,
    );
  }
  if (entries === 0 && last === '(start of archive)') {
    throw new ArchiveDamagedError(`the ${gzip ? 'tar.gz' : 'tar'} archive holds no files`, 0);
  }
  return entries;
}
