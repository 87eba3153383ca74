import path from 'node:path';
import type { Readable } from 'node:stream';
import { FileStore } from '@tus/file-store';
import { ERRORS } from '@tus/utils';
import { UploadFile } from './upload-file.js';

/** Bytes gathered before one write: 1 MiB, where the request's pieces are 64 KiB. */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * tus's FileStore, writing a PATCH's bytes in batches of up to 1 MiB (one positioned `writev` each)
 * instead of one write per 64 KiB piece through a file stream: each write is a round trip to
 * libuv's threads, and on a busy 2-core machine those round trips were a sixth of the gateway's
 * time on a tus upload (bench:ingest). The file's size stays the upload's offset, as FileStore
 * reads it back: bytes are written in order, and what is gathered is written before the request
 * ends, however it ends. `onWritten` hears of each batch once it is in the file (the upload's cutter
 * takes it from memory instead of reading it back). Whole blocks go around the page cache where the
 * file system allows (`UploadFile`; `directIo: false` keeps them in it).
 */
export class BatchingFileStore extends FileStore {
  /**
   * Told of each batch once it is in the file: its position and its pieces. The next batch waits
   * for what it returns (the cut paces the upload).
   */
  private readonly onWritten: ((id: string, position: number, pieces: readonly Buffer[]) => void | Promise<void>) | undefined;
  private readonly directIo: boolean;

  constructor(
    opts: ConstructorParameters<typeof FileStore>[0] & { onWritten?: BatchingFileStore['onWritten']; directIo?: boolean },
  ) {
    super(opts);
    this.onWritten = opts.onWritten;
    this.directIo = opts.directIo ?? true;
  }

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const file = path.resolve(this.directory, id);
    if (path.dirname(file) !== path.resolve(this.directory)) throw ERRORS.FILE_NOT_FOUND;
    const handle = await UploadFile.open(file, { direct: this.directIo });
    let position = offset;
    let batch: Buffer[] = [];
    let batched = 0;
    // One batch is written while the next is gathered: a direct write returns only once the disk
    // has the bytes, and the request is read on meanwhile. Batches go into the file in order.
    let writing: Promise<void> = Promise.resolve();
    let failure: { error: unknown } | undefined;
    const written = async () => {
      await writing;
      if (failure) throw failure.error;
    };
    const flush = async () => {
      await written();
      if (batched === 0) return;
      const pieces = batch;
      const at = position;
      const bytes = batched;
      batch = [];
      batched = 0;
      writing = (async () => {
        await handle.write(pieces, at);
        position = at + bytes;
        await this.onWritten?.(id, at, pieces);
      })().catch((error: unknown) => {
        failure = { error };
      });
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
        await flush();
        await written();
      }
    } catch {
      throw ERRORS.FILE_WRITE_ERROR;
    } finally {
      await handle.close();
    }
    return position;
  }
}
