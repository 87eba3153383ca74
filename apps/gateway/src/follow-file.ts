import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { RecentWrites } from './recent-writes.js';

/** Waits at the end of what is there: short while bytes flow, doubling up to the longest while they do not. */
const MIN_IDLE_MS = 20;
const MAX_IDLE_MS = 500;

export interface FollowOptions {
  /** The file's final size: reading ends there. */
  size: number;
  /** Stops the reading: the stream fails with the signal's reason. */
  signal: AbortSignal;
  /** Resolves when the file may have grown (the upload's progress events); polled besides. */
  grown: () => Promise<void>;
  /** Bytes per read (1 MiB; each read is a round trip to libuv's threads). */
  readBytes?: number;
  /** Bytes going to the file, taken from memory instead of read back where they are held. */
  recent?: RecentWrites;
}

/**
 * Read a file that is still being written, as a stream: what is there now, then what is appended,
 * until `size` bytes have been read. Used to cut a resumable upload while its bytes arrive; a
 * client that pauses (or goes away and resumes later) only makes the stream wait.
 */
export function followFile(file: string, opts: FollowOptions): Readable {
  const readBytes = opts.readBytes ?? 1024 * 1024;
  return Readable.from(
    (async function* () {
      const handle = await open(file, 'r');
      const stop = aborted(opts.signal);
      stop.catch(() => undefined);
      try {
        let position = 0;
        let idleMs = MIN_IDLE_MS;
        // A buffer is handed on with the bytes read into it; one that got none is used again.
        let buffer = Buffer.allocUnsafe(readBytes);
        while (position < opts.size) {
          opts.signal.throwIfAborted();
          const held = opts.recent?.take(position);
          if (held) {
            idleMs = MIN_IDLE_MS;
            for (const piece of held) {
              position += piece.length;
              yield piece;
            }
            continue;
          }
          if (opts.recent?.writerAt(position)) {
            // Caught up with the writer: its next batch comes from memory, not from the file.
            await Promise.race([opts.grown(), sleep(MIN_IDLE_MS), stop]);
            continue;
          }
          const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, opts.size - position), position);
          if (bytesRead === 0) {
            await Promise.race([opts.grown(), sleep(idleMs), stop]);
            idleMs = Math.min(MAX_IDLE_MS, idleMs * 2);
            continue;
          }
          idleMs = MIN_IDLE_MS;
          position += bytesRead;
          const bytes = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
          buffer = Buffer.allocUnsafe(readBytes);
          yield bytes;
        }
      } finally {
        await handle.close();
      }
    })(),
    { objectMode: false },
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
