import { Transform, type Readable } from 'node:stream';
import { UploadRejectedError } from '@mesh/contracts';
import { checkImageHead } from './image-header.js';
import { archiveKind, classifyEntry } from './image-names.js';
import type { IngestSession } from './ingest.js';
import { readTar } from './tar-reader.js';
import { EntryRejectedError, readZip, type ArchiveLimits } from './zip-reader.js';

/** Limits an upload is read under (from the configuration). */
export interface IngestLimits extends ArchiveLimits {
  /** Largest image, in pixels, by its header (MATTING_MAX_PIXELS). */
  maxPixels: number;
  /** Largest total the upload's archives may unpack to. */
  maxUnpackedBytes: number;
}

/** The upload's archives unpack to more than the per-job limit: reading stops there. */
export class UnpackLimitError extends UploadRejectedError {
  constructor(limit: number) {
    super(`the upload unpacks to more than MAX_UNPACKED_BYTES (${limit} bytes); the rest was not read`, 413);
    this.name = 'UnpackLimitError';
  }
}

/** Consume a stream to its end without keeping its bytes. */
export function drain(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) return resolve();
    stream.on('end', resolve).on('error', () => resolve()).on('close', () => resolve());
    stream.resume();
  });
}

/** Counts an upload's unpacked bytes across all its entries. */
export interface UnpackBudget {
  used: number;
}

function counted(stream: Readable, budget: UnpackBudget, limits: IngestLimits): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      budget.used += chunk.length;
      if (budget.used > limits.maxUnpackedBytes) done(new UnpackLimitError(limits.maxUnpackedBytes));
      else done(null, chunk);
    },
  });
  stream.on('error', (err) => counter.destroy(err));
  return stream.pipe(counter);
}

async function ingestNamed(session: IngestSession, name: string, raw: Readable, limits: IngestLimits, budget: UnpackBudget): Promise<void> {
  const verdict = classifyEntry(name);
  if (verdict.kind === 'skip') {
    session.skip(name, verdict.reason);
    await drain(raw);
    return;
  }
  const stream = counted(raw, budget, limits);
  try {
    if (verdict.kind === 'ground_truth') await session.addGroundTruth(verdict.name, verdict.key, stream);
    else await session.addImage(verdict.name, verdict.contentType, stream, (head) => checkImageHead(head, limits.maxPixels));
  } catch (err) {
    // One bad entry (a bomb, a pixel bomb, a corrupt entry) is skipped with its reason; the rest goes on.
    if (!(err instanceof EntryRejectedError)) throw err;
    session.skip(name, err.message);
    await drain(stream);
  }
}

/**
 * One uploaded file, whatever it is: a zip, tar or tar.gz archive is unpacked entry by entry as
 * its bytes arrive, an image becomes one chunk, anything else is skipped with a reason. Used by
 * the multipart route and by the resumable (tus) route alike. Throws ArchiveDamagedError where an
 * archive breaks (the entries before it are ingested) and UnpackLimitError past the job's limit.
 */
export async function ingestFile(
  session: IngestSession,
  filename: string,
  stream: Readable,
  limits: IngestLimits,
  budget: UnpackBudget = { used: 0 },
): Promise<void> {
  const callbacks = {
    onEntry: (entry: { name: string; stream: Readable }) => ingestNamed(session, entry.name, entry.stream, limits, budget),
    onSkip: (name: string, reason: string) => session.skip(name, reason),
  };
  const kind = archiveKind(filename);
  if (kind === 'zip') await readZip(stream, limits, callbacks);
  else if (kind === 'tar' || kind === 'tar.gz') await readTar(stream, kind === 'tar.gz', limits, callbacks);
  else await ingestNamed(session, filename, stream, limits, budget);
}
