/** Bytes held for a follower at most (the writer's latest; older ones are read from the file). */
const RECENT_BYTES = 8 * 1024 * 1024;

/** A writer quiet this long no longer keeps the follower from reading the file. */
const WRITER_QUIET_MS = 1000;

/** A follower that has not moved for this long no longer holds the writer back. */
const STALL_MS = 500;

/**
 * A follower this far behind the writer reads the file for a long while (a restarted cut going over
 * what arrived before): holding the writer back would only slow the upload, so it is not.
 */
const CATCH_UP_BYTES = 256 * 1024 * 1024;

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
  /**
   * A waiter's half second ran out with no move of the follower: it has stopped, whatever the
   * clocks say (a timer may fire a millisecond before Date.now() has moved on by STALL_MS).
   */
  private stalled = false;
  private waiters: { until: number; resolve: () => void }[] = [];
  private ended = false;
  /** Where the latest write ended, and when it came. */
  private writtenTo = -1;
  private addedAt = 0;

  constructor(
    private readonly maxBytes = RECENT_BYTES,
    private readonly catchUpBytes = Math.max(CATCH_UP_BYTES, maxBytes),
  ) {}

  /**
   * Resolves once the follower is no further behind `position` (the end of a write) than half of
   * what is held, or has stopped (see the class), or has ended; at once if it is so far behind
   * that it reads the file for a long while yet (`catchUpBytes`).
   */
  paced(position: number): Promise<void> {
    const until = position - this.maxBytes / 2;
    const free =
      this.ended ||
      this.followerAt >= until ||
      this.followerAt < position - this.catchUpBytes ||
      this.stalled ||
      Date.now() - this.movedAt >= STALL_MS;
    if (free) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = {
        until,
        resolve: () => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve();
        },
      };
      const movedAt = this.movedAt;
      const timer = setTimeout(() => {
        if (this.movedAt === movedAt) this.stalled = true;
        waiter.resolve();
      }, STALL_MS);
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
    this.stalled = false;
    for (const w of this.waiters.filter((w) => w.until <= position)) w.resolve();
  }

  /**
   * `pieces` go to the file at `position`, in order, and that range is never written to again.
   * Answers where they end.
   */
  add(position: number, pieces: readonly Uint8Array[]): number {
    const views = pieces.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    const bytes = views.reduce((n, v) => n + v.length, 0);
    if (this.ended || bytes === 0) return position + bytes;
    this.writtenTo = position + bytes;
    this.addedAt = Date.now();
    this.entries.push({ position, pieces: views, bytes });
    this.held += bytes;
    while (this.held > this.maxBytes) this.held -= this.entries.shift()!.bytes;
    return position + bytes;
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
