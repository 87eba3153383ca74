import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Direct I/O moves whole blocks: its file offsets, lengths and memory are aligned to 4 KiB, the
 * page size and a multiple of any disk's logical block.
 */
const ALIGN = 4096;
/** Bytes copied into aligned memory per direct write (the tus store writes about 2 MiB at once, at most 5). */
const STAGING_BYTES = 4 * 1024 * 1024;
const WASM_PAGE_BYTES = 64 * 1024;
/** Aligned buffers kept for the next upload, at most. */
const SPARE_STAGING = 2;

const spareStaging: Buffer[] = [];

/**
 * A WebAssembly memory starts on a page of its own (V8 maps it by pages), which a Buffer's memory
 * does not: it is the one aligned memory plain Node hands out.
 */
function takeStaging(): Buffer | undefined {
  const spare = spareStaging.pop();
  if (spare) return spare;
  try {
    return Buffer.from(new WebAssembly.Memory({ initial: STAGING_BYTES / WASM_PAGE_BYTES }).buffer);
  } catch {
    // V8 reserves address space for each WebAssembly memory and refuses more past its limit
    // (hundreds of uploads at once): such an upload is written through the cache.
    return undefined;
  }
}

function giveStaging(staging: Buffer): void {
  if (spareStaging.length < SPARE_STAGING) spareStaging.push(staging);
}

/** A write that put fewer bytes in the file than it was given. */
export class ShortWriteError extends Error {
  constructor(written: number, bytes: number) {
    super(`short write: ${written} of ${bytes} bytes`);
    this.name = 'ShortWriteError';
  }
}

/** The first `n` bytes of `pieces`, and the rest (pieces cut where they must be, not copied). */
function splitAt(pieces: readonly Buffer[], n: number): [Buffer[], Buffer[]] {
  const first: Buffer[] = [];
  const rest: Buffer[] = [];
  let left = n;
  for (const piece of pieces) {
    if (left >= piece.length) {
      first.push(piece);
      left -= piece.length;
    } else if (left > 0) {
      first.push(piece.subarray(0, left));
      rest.push(piece.subarray(left));
      left = 0;
    } else {
      rest.push(piece);
    }
  }
  return [first, rest];
}

const byteLength = (pieces: readonly Buffer[]) => pieces.reduce((n, p) => n + p.length, 0);

/**
 * Writes a resumable upload's bytes into its file, by position. Where the file system allows it
 * (Linux, O_DIRECT), the whole 4 KiB blocks go around the page cache, and only a batch's ragged
 * edges (a PATCH that starts or stops mid-block) go through it.
 *
 * Why: the upload file is written once and, while the cutter keeps up, never read back (it takes
 * the bytes from memory), so caching it only costs. A 100 GB upload through the page cache would
 * push out what is worth caching (the object store's newest blocks, which the matting workers read
 * next), and each cached page is memory the kernel must find first: on the 2-core VM of
 * BENCHMARKS.md, writing 5 GiB through the cache took 9.2 CPU-seconds, direct 0.6 (copy included).
 * Bytes written either way read back the same; a file system that refuses O_DIRECT (tmpfs) gets
 * every byte through the cache, as before.
 */
export class UploadFile {
  private constructor(
    private readonly cached: FileHandle,
    private uncached: FileHandle | undefined,
    private staging: Buffer | undefined,
  ) {}

  /** Opens an existing upload file for writing; `direct: false` keeps every byte in the page cache. */
  static async open(file: string, opts: { direct?: boolean } = {}): Promise<UploadFile> {
    const cached = await open(file, 'r+');
    let uncached: FileHandle | undefined;
    const oDirect = constants.O_DIRECT as number | undefined;
    if ((opts.direct ?? true) && oDirect !== undefined) {
      // tmpfs and some others refuse O_DIRECT at open: those get cached writes only.
      uncached = await open(file, constants.O_WRONLY | oDirect).catch(() => undefined);
    }
    const staging = uncached ? takeStaging() : undefined;
    if (uncached && !staging) {
      await uncached.close();
      uncached = undefined;
    }
    return new UploadFile(cached, uncached, staging);
  }

  /** Whether whole blocks go around the page cache. */
  get direct(): boolean {
    return this.uncached !== undefined;
  }

  /** Writes `pieces`, in order, at `position`; answers once they are all in the file. One write at a time. */
  async write(pieces: readonly Buffer[], position: number): Promise<void> {
    const bytes = byteLength(pieces);
    if (!this.uncached) return this.writeCached(pieces, position, bytes);
    const head = Math.min(bytes, (ALIGN - (position % ALIGN)) % ALIGN);
    const blocks = Math.floor((bytes - head) / ALIGN) * ALIGN;
    const [headPieces, others] = splitAt(pieces, head);
    const [blockPieces, tailPieces] = splitAt(others, blocks);
    if (head > 0) await this.writeCached(headPieces, position, head);
    if (blocks > 0) await this.writeUncached(blockPieces, position + head);
    const tail = bytes - head - blocks;
    if (tail > 0) await this.writeCached(tailPieces, position + head + blocks, tail);
  }

  async close(): Promise<void> {
    if (this.staging) giveStaging(this.staging);
    this.staging = undefined;
    await Promise.all([this.cached.close(), this.uncached?.close()]);
  }

  private async writeCached(pieces: readonly Buffer[], position: number, bytes: number): Promise<void> {
    const { bytesWritten } = await this.cached.writev(pieces as Buffer[], position);
    if (bytesWritten !== bytes) throw new ShortWriteError(bytesWritten, bytes);
  }

  /** Whole blocks at a block-aligned position, copied into aligned memory (STAGING_BYTES at a time). */
  private async writeUncached(pieces: readonly Buffer[], position: number): Promise<void> {
    const staging = this.staging!;
    let filled = 0;
    let at = position;
    const send = async () => {
      try {
        if (!this.uncached) await this.writeCached([staging.subarray(0, filled)], at, filled);
        else {
          const { bytesWritten } = await this.uncached.write(staging, 0, filled, at);
          if (bytesWritten !== filled) throw new ShortWriteError(bytesWritten, filled);
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL' || !this.uncached) throw err;
        // The file system took O_DIRECT at open but not these writes: cached from here on.
        await this.uncached.close().catch(() => undefined);
        this.uncached = undefined;
        await this.writeCached([staging.subarray(0, filled)], at, filled);
      }
      at += filled;
      filled = 0;
    };
    for (const piece of pieces) {
      for (let from = 0; from < piece.length; ) {
        const n = piece.copy(staging, filled, from);
        filled += n;
        from += n;
        if (filled === staging.length) await send();
      }
    }
    if (filled > 0) await send();
  }
}
