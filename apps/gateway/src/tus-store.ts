import path from 'node:path';
import type { Readable } from 'node:stream';
import { FileStore } from '@tus/file-store';
import { ERRORS } from '@tus/utils';
import { UploadFile } from './upload-file.js';

/** Bytes gathered before one write: 1 MiB, where the request's pieces are 64 KiB. */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** Bytes handed on and not yet in the file, at most (then the request waits). */
const UNWRITTEN_BYTES = 4 * 1024 * 1024;

/**
 * tus's FileStore, writing a PATCH's bytes in batches of up to 1 MiB (one positioned `writev` each)
 * instead of one write per 64 KiB piece through a file stream: each write is a round trip to
 * libuv's threads, and on a busy 2-core machine those round trips were a sixth of the gateway's
 * time on a tus upload (bench:ingest). The file's size stays the upload's offset, as FileStore
 * reads it back: bytes are written in order, and what is gathered is written before the request
 * ends, however it ends. `onBatch` hears of each batch as it goes to the file (the upload's cutter
 * takes it from memory instead of reading it back), and the request waits for what it answers
 * (the cut paces the upload). Whole blocks go around the page cache where the file system allows
 * (`UploadFile`; `directIo: false` keeps them in it).
 */
export class BatchingFileStore extends FileStore {
  /**
   * Told of each batch as it goes to the file: its position and its pieces. The next batch waits
   * for what it returns (the cut paces the upload).
   */
  private readonly onBatch: ((id: string, position: number, pieces: readonly Buffer[]) => void | Promise<void>) | undefined;
  private readonly directIo: boolean;

  constructor(
    opts: ConstructorParameters<typeof FileStore>[0] & { onBatch?: BatchingFileStore['onBatch']; directIo?: boolean },
  ) {
    super(opts);
    this.onBatch = opts.onBatch;
    this.directIo = opts.directIo ?? true;
  }

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const file = path.resolve(this.directory, id);
    if (path.dirname(file) !== path.resolve(this.directory)) throw ERRORS.FILE_NOT_FOUND;
    const handle = await UploadFile.open(file, { direct: this.directIo });
    // Where the batches handed on so far end, and where those in the file end.
    let gathered = offset;
    let position = offset;
    let batch: Buffer[] = [];
    let batched = 0;
    // Batches go into the file in order (its size is the offset a resumed upload starts from), one
    // write at a time, while the request is read on. A write's end waits for the event loop, which
    // is busy cutting: so each write takes every batch that arrived meanwhile (up to
    // UNWRITTEN_BYTES are held), and the writes grow when the loop is slow instead of falling behind.
    let unwritten: { pieces: Buffer[]; at: number; bytes: number }[] = [];
    let unwrittenBytes = 0;
    let draining: Promise<void> | undefined;
    let wrote = signal();
    let failure: { error: unknown } | undefined;
    const check = () => {
      if (failure) throw failure.error;
    };
    const drain = async () => {
      while (unwritten.length > 0 && !failure) {
        const group = unwritten;
        unwritten = [];
        const at = group[0]!.at;
        const bytes = group.reduce((n, g) => n + g.bytes, 0);
        try {
          await handle.write(group.flatMap((g) => g.pieces), at);
          position = at + bytes;
        } catch (error) {
          failure = { error };
        }
        unwrittenBytes -= bytes;
        wrote.resolve();
        wrote = signal();
      }
      draining = undefined;
    };
    const flush = async () => {
      check();
      if (batched === 0) return;
      const pieces = batch;
      const at = gathered;
      const bytes = batched;
      batch = [];
      batched = 0;
      gathered += bytes;
      // The cut may take the bytes from memory before the disk has them: the chunks it makes are
      // the same whenever they are cut, and a write that fails leaves the offset where the file
      // ends, so the client sends those bytes again.
      const paced = this.onBatch?.(id, at, pieces);
      unwritten.push({ pieces, at, bytes });
      unwrittenBytes += bytes;
      draining ??= drain();
      await paced;
      while (unwrittenBytes > UNWRITTEN_BYTES && !failure) await wrote.promise;
      check();
    };
    try {
      try {
        for await (const piece of readable) {
          batch.push(piece as Buffer);
          batched += (piece as Buffer).length;
          if (batched >= WRITE_BATCH_BYTES) await flush();
        }
      } finally {
        // A request that broke off keeps what arrived before the break.
        try {
          await flush();
        } finally {
          while (draining) await draining;
        }
      }
      check();
    } catch {
      throw ERRORS.FILE_WRITE_ERROR;
    } finally {
      await handle.close();
    }
    return position;
  }
}

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
