import { UploadRejectedError } from '@mesh/contracts';
import { UnpackLimitError } from './ingest-file.js';
import type { IngestSession } from './ingest.js';
import { UploadInterruptedError, UploadTooLargeError } from './upload.js';
import { ArchiveDamagedError } from './zip-reader.js';

/** The gateway is stopping: an ingest ends here without ending its job, for the next gateway to go on with. */
export class IngestStoppedError extends Error {
  constructor() {
    super('the gateway is stopping');
    this.name = 'IngestStoppedError';
  }
}

/** The HTTP answer to an upload. */
export interface IngestOutcome {
  status: number;
  body: Record<string, unknown>;
}

/**
 * Run an upload's ingest and end its job the way its outcome calls for: sealed (all went well, or
 * an archive broke and what came before it stands), or failed (no image, too large, interrupted).
 * The same for the multipart route and for finished tus uploads.
 */
export async function finishIngest(
  session: IngestSession,
  run: () => Promise<void>,
  log: (line: string) => void,
): Promise<IngestOutcome> {
  try {
    await run();
  } catch (err) {
    // The gateway is stopping in the middle of a resumable upload's cut: the job stays open for
    // the next gateway to cut on.
    if (err instanceof IngestStoppedError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    if (err instanceof ArchiveDamagedError || err instanceof UnpackLimitError) {
      await session.seal(reason);
      log(`gateway: job ${session.jobId} sealed with ${session.chunks} chunks: ${reason}`);
      return {
        status: err instanceof UnpackLimitError ? 413 : 400,
        body: { error: reason, job_id: session.jobId, chunks: session.chunks, skipped: session.skipped },
      };
    }
    const kind = err instanceof UploadInterruptedError ? 'interrupted' : err instanceof UploadTooLargeError ? 'too_large' : 'rejected';
    await session.fail(reason, kind).catch(() => undefined);
    log(`gateway: job ${session.jobId} ${kind}: ${reason}`);
    if (err instanceof UploadRejectedError) {
      return { status: err.status, body: { error: reason, job_id: session.jobId, chunks: kind === 'too_large' ? 0 : session.chunks } };
    }
    throw err;
  }
  if (session.chunks === 0) {
    await session.fail('the upload holds no images', 'rejected');
    return { status: 400, body: { error: 'the upload holds no images', job_id: session.jobId, skipped: session.skipped } };
  }
  await session.seal();
  log(`gateway: job ${session.jobId} sealed with ${session.chunks} chunks (${session.skipped.length} skipped)`);
  return { status: 202, body: { job_id: session.jobId, chunks: session.chunks, skipped: session.skipped } };
}
