import type { Readable } from 'node:stream';
import unzipper from 'unzipper';
import { UploadRejectedError } from '@mesh/contracts';

/** One file inside an archive, as its bytes arrive. */
export interface ArchiveEntry {
  name: string;
  stream: Readable;
}

/** How long the parser may sit idle after the last byte before the archive counts as truncated. */
const TRUNCATION_GRACE_MS = 2000;

const damaged = (detail: string, cause?: unknown) =>
  new UploadRejectedError(`the zip archive is damaged: ${detail}`, 400, { cause });

/**
 * Walk a zip archive as it streams in, handing each file entry to `onEntry` and waiting for it
 * before reading further, so memory stays bounded whatever the archive's size. Entries read
 * before a damaged part are kept; the damage is then thrown as an UploadRejectedError.
 */
export async function forEachZipEntry(input: Readable, onEntry: (entry: ArchiveEntry) => Promise<void>): Promise<void> {
  const parser = unzipper.Parse({ forceStream: true });
  let busy = false;
  let inputEnded = false;
  let watchdog: NodeJS.Timeout | undefined;

  const done = new Promise<void>((resolve, reject) => {
    // unzipper can wait forever for bytes that never come when an archive is cut short.
    const arm = () => {
      clearTimeout(watchdog);
      if (inputEnded && !busy) watchdog = setTimeout(() => reject(damaged('it ends unexpectedly (truncated?)')), TRUNCATION_GRACE_MS);
    };
    input.on('end', () => {
      inputEnded = true;
      arm();
    });
    input.on('error', reject);
    parser.on('error', (err: Error) => reject(damaged(err.message === 'FILE_ENDED' ? 'it ends unexpectedly (truncated?)' : err.message, err)));
    (async () => {
      for await (const raw of parser) {
        const entry = raw as unzipper.Entry;
        if (entry.type !== 'File') {
          entry.autodrain();
          continue;
        }
        busy = true;
        clearTimeout(watchdog);
        try {
          await onEntry({ name: entry.path, stream: entry as unknown as Readable });
        } finally {
          busy = false;
          arm();
        }
      }
      resolve();
    })().catch(reject);
  });
  input.pipe(parser);
  try {
    await done;
  } finally {
    clearTimeout(watchdog);
    input.unpipe(parser);
  }
}
