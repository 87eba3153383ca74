import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';

export interface FollowOptions {
  /** The file's final size: reading ends there. */
  size: number;
  /** Stops the reading: the stream fails with the signal's reason. */
  signal: AbortSignal;
  /** Resolves when the file may have grown (or after a while anyway). */
  grown: () => Promise<void>;
  /** Bytes per read. */
  readBytes?: number;
}

/**
 * Read a file that is still being written, as a stream: what is there now, then what is appended,
 * until `size` bytes have been read. Used to cut a resumable upload while its bytes arrive; a
 * client that pauses (or goes away and resumes later) only makes the stream wait.
 */
export function followFile(file: string, opts: FollowOptions): Readable {
  const readBytes = opts.readBytes ?? 1 << 20;
  return Readable.from(
    (async function* () {
      const handle = await open(file, 'r');
      const stop = aborted(opts.signal);
      stop.catch(() => undefined);
      try {
        let position = 0;
        while (position < opts.size) {
          opts.signal.throwIfAborted();
          const buffer = Buffer.allocUnsafe(Math.min(readBytes, opts.size - position));
          const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) {
            await Promise.race([opts.grown(), stop]);
            continue;
          }
          position += bytesRead;
          yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
        }
      } finally {
        await handle.close();
      }
    })(),
    { objectMode: false },
  );
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
