import type { IncomingMessage } from 'node:http';
import busboy from 'busboy';
import { UploadRejectedError } from '@mesh/contracts';
import { drain, ingestFile, type IngestLimits, type UnpackBudget } from './ingest-file.js';
import type { IngestSession } from './ingest.js';

export interface UploadLimits extends IngestLimits {
  maxUploadSize: number;
}

/** The client went away before the upload ended. */
export class UploadInterruptedError extends UploadRejectedError {
  constructor(bytes: number) {
    super(`the upload was interrupted: the client went away after ${bytes} bytes`, 400);
    this.name = 'UploadInterruptedError';
  }
}

/** The upload is larger than MAX_UPLOAD_SIZE. */
export class UploadTooLargeError extends UploadRejectedError {
  constructor(max: number) {
    super(`the upload is larger than MAX_UPLOAD_SIZE (${max} bytes)`, 413);
    this.name = 'UploadTooLargeError';
  }
}

/** Check what can be checked before a job is opened: the request's type and declared size. */
export function checkUploadRequest(req: IncomingMessage, limits: UploadLimits): void {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('multipart/form-data')) {
    throw new UploadRejectedError('expected a multipart/form-data upload with a .zip, .tar, .tar.gz or image files');
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limits.maxUploadSize) throw new UploadTooLargeError(limits.maxUploadSize);
}

/**
 * Read a multipart upload as it arrives: each image part, and each image inside an archive part,
 * becomes one chunk of the session; anything else is skipped with a reason. Bytes received and
 * chunks found are reported to the session as they grow.
 */
export async function receiveUpload(req: IncomingMessage, session: IngestSession, limits: UploadLimits): Promise<void> {
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: req.headers, limits: { fields: 100 } });
  } catch (err) {
    throw new UploadRejectedError(`cannot read the multipart upload: ${(err as Error).message}`, 400, { cause: err });
  }

  let chain = Promise.resolve();
  let firstError: unknown;
  let files = 0;
  let seen = 0;
  const budget: UnpackBudget = { used: 0 };

  bb.on('file', (_field, stream, info) => {
    files++;
    const filename = info.filename || `upload-${files}`;
    chain = chain.then(async () => {
      if (firstError) return drain(stream);
      try {
        await ingestFile(session, filename, stream, limits, budget);
      } catch (err) {
        firstError ??= err;
        await drain(stream);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    bb.on('close', resolve);
    bb.on('error', (err: Error) => reject(new UploadRejectedError(`cannot read the multipart upload: ${err.message}`, 400)));
    // Counted beside the pipe, not through a Transform: one stream hop less for every piece.
    const count = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limits.maxUploadSize) {
        req.off('data', count);
        req.unpipe(bb);
        reject(new UploadTooLargeError(limits.maxUploadSize));
        return;
      }
      session.progress(seen);
    };
    req.on('data', count);
    req.on('error', () => reject(new UploadInterruptedError(seen)));
    req.on('aborted', () => reject(new UploadInterruptedError(seen)));
    req.on('close', () => {
      if (!req.complete) reject(new UploadInterruptedError(seen));
    });
    req.pipe(bb);
  });
  await chain;
  session.progress(seen, true);
  if (firstError) throw firstError;
  if (files === 0) throw new UploadRejectedError('the upload holds no files: send a .zip, .tar or image files as multipart parts');
}
