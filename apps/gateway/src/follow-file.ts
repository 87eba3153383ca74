import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';

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

/** Bytes held for a follower at most (the writer's latest; older ones are read from the file). */
const RECENT_BYTES = 8 * 1024 * 1024;

/** A writer quiet this long no longer keeps the follower from reading the file. */
const WRITER_QUIET_MS = 1000;

/** A follower that has not moved for this long no longer holds the writer back. */
const STALL_MS = 500;

/**
 * The latest bytes written (or being written) to a followed file, by position, held a moment so the
 * follower takes them from memory instead of reading them back from disk: while it keeps up with
 * the writer, every byte of an upload crosses the disk once, not twice. At most `maxBytes` are held;
 * the oldest are dropped first, and the follower reads those from the file as before. A follower
 * that has caught up with the writer waits for its next bytes here rather than reading the start
 * of a write still going on (`writerAt`).
 *
 * The writer may wait for the follower (`paced`): it is then held to at most half of `maxBytes`
 * ahead, so every byte is still held when the follower comes to it, as on the multipart route,
 * where the cut paces the upload. A follower that stops (its job ended, NATS out of reach) stops
 * holding the writer back once it has not moved for half a second: the upload then goes on into
 * the file at the client's pace, and the follower reads it from there when it moves again.
 */
export class RecentWrites {
  private entries: { position: number; pieces: Buffer[]; bytes: number }[] = [];
  private held = 0;
  /** Where the follower last asked for bytes, and when that moved. */
  private followerAt = 0;
  private movedAt = Date.now();
  private waiters: { until: number; resolve: () => void }[] = [];
  private ended = false;
  /** Where the latest write ended, and when it came. */
  private writtenTo = -1;
  private addedAt = 0;

  constructor(private readonly maxBytes = RECENT_BYTES) {}

  /**
   * Resolves once the follower is no further behind `position` (the end of a write) than half of
   * what is held, or has stopped (see the class), or has ended.
   */
  paced(position: number): Promise<void> {
    const until = position - this.maxBytes / 2;
    if (this.ended || this.followerAt >= until || Date.now() - this.movedAt >= STALL_MS) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        until,
        resolve: () => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.resolve, STALL_MS);
      this.waiters.push(waiter);
    });
  }

  /** The follower is done: nobody waits for it any more. */
  end(): void {
    this.ended = true;
    for (const w of [...this.waiters]) w.resolve();
    this.entries = [];
    this.held = 0;
  }

  /**
   * Whether the writer has just written up to `position` and no further: its next bytes will come
   * here, and the file past it holds at most the start of a write still going on. False once the
   * writer has been quiet for a second (then the file is read, whatever wrote it).
   */
  writerAt(position: number): boolean {
    return !this.ended && position === this.writtenTo && Date.now() - this.addedAt < WRITER_QUIET_MS;
  }

  /** The follower is at `position` (it asks for bytes there). */
  private moved(position: number): void {
    if (position === this.followerAt) return;
    this.followerAt = position;
    this.movedAt = Date.now();
    for (const w of this.waiters.filter((w) => w.until <= position)) w.resolve();
  }

  /** `pieces` go to the file at `position`, in order, and that range is never written to again. */
  add(position: number, pieces: readonly Uint8Array[]): void {
    if (this.ended) return;
    const views = pieces.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    const bytes = views.reduce((n, v) => n + v.length, 0);
    if (bytes === 0) return;
    this.writtenTo = position + bytes;
    this.addedAt = Date.now();
    this.entries.push({ position, pieces: views, bytes });
    this.held += bytes;
    while (this.held > this.maxBytes) this.held -= this.entries.shift()!.bytes;
  }

  /** The held bytes that start at `position`, as written (the first one cut where it must); undefined if none. */
  take(position: number): Buffer[] | undefined {
    this.moved(position);
    for (;;) {
      const e = this.entries[0];
      if (!e || e.position > position) return undefined;
      this.entries.shift();
      this.held -= e.bytes;
      if (e.position + e.bytes <= position) continue;
      let skip = position - e.position;
      const out: Buffer[] = [];
      for (const piece of e.pieces) {
        if (skip >= piece.length) {
          skip -= piece.length;
          continue;
        }
        out.push(skip > 0 ? piece.subarray(skip) : piece);
        skip = 0;
      }
      return out;
    }
  }
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
