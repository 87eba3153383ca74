import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import busboy from 'busboy';
import { UploadRejectedError } from '@mesh/contracts';
import { classifyEntry, isZipName } from './image-names.js';
import type { IngestSession } from './ingest.js';
import { forEachZipEntry } from './zip-entries.js';

export interface UploadLimits {
  maxUploadSize: number;
}

/** Counts bytes as they pass and refuses to go past the limit. */
function byteLimit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max) done(new UploadRejectedError(`the upload is larger than MAX_UPLOAD_SIZE (${max} bytes)`, 413));
      else done(null, chunk);
    },
  });
}

function drain(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) return resolve();
    stream.on('end', resolve).on('error', () => resolve()).on('close', () => resolve());
    stream.resume();
  });
}

/**
 * Read a multipart upload as it arrives: each image part, and each image inside a `.zip` part,
 * becomes one chunk of the session. Anything else is skipped with a reason.
 */
export async function receiveUpload(req: IncomingMessage, session: IngestSession, limits: UploadLimits): Promise<void> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('multipart/form-data')) {
    throw new UploadRejectedError('expected a multipart/form-data upload with a .zip or image files');
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limits.maxUploadSize) {
    throw new UploadRejectedError(`the upload is larger than MAX_UPLOAD_SIZE (${limits.maxUploadSize} bytes)`, 413);
  }
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: req.headers, limits: { fields: 100 } });
  } catch (err) {
    throw new UploadRejectedError(`cannot read the multipart upload: ${(err as Error).message}`, 400, { cause: err });
  }

  let chain = Promise.resolve();
  let firstError: unknown;
  let files = 0;
  const handle = async (filename: string, stream: Readable) => {
    if (isZipName(filename)) {
      await forEachZipEntry(stream, async (entry) => {
        const verdict = classifyEntry(entry.name);
        if (verdict.kind === 'skip') {
          session.skip(entry.name, verdict.reason);
          await drain(entry.stream);
        } else if (verdict.kind === 'ground_truth') {
          await session.addGroundTruth(verdict.name, verdict.key, entry.stream);
        } else {
          await session.addImage(verdict.name, verdict.contentType, entry.stream);
        }
      });
      return;
    }
    const verdict = classifyEntry(filename);
    if (verdict.kind === 'skip') {
      session.skip(filename, verdict.reason);
      await drain(stream);
    } else if (verdict.kind === 'ground_truth') {
      await session.addGroundTruth(verdict.name, verdict.key, stream);
    } else {
      await session.addImage(verdict.name, verdict.contentType, stream);
    }
  };

  bb.on('file', (_field, stream, info) => {
    files++;
    const filename = info.filename || `upload-${files}`;
    chain = chain.then(async () => {
      if (firstError) return drain(stream);
      try {
        await handle(filename, stream);
      } catch (err) {
        firstError ??= err;
        await drain(stream);
      }
    });
  });

  const limiter = byteLimit(limits.maxUploadSize);
  await new Promise<void>((resolve, reject) => {
    bb.on('close', resolve);
    bb.on('error', (err: Error) => reject(new UploadRejectedError(`cannot read the multipart upload: ${err.message}`, 400)));
    limiter.on('error', reject);
    req.on('error', reject);
    req.on('aborted', () => reject(new UploadRejectedError('the client went away before the upload ended', 400)));
    req.pipe(limiter).pipe(bb);
  });
  await chain;
  if (firstError) throw firstError;
  if (files === 0) throw new UploadRejectedError('the upload holds no files: send a .zip or image files as multipart parts');
}
