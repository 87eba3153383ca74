import type { IncomingMessage } from 'node:http';
import { UploadRejectedError } from '@mesh/contracts';

/** Read a small JSON request body (at most `limit` bytes); an empty body is `{}`. */
export async function readJsonBody(req: IncomingMessage, limit = 1024 * 1024): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    size += (part as Buffer).length;
    if (size > limit) throw new UploadRejectedError(`the request body is larger than ${limit} bytes`, 413);
    parts.push(part as Buffer);
  }
  const text = Buffer.concat(parts).toString('utf8').trim();
  if (text === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new UploadRejectedError('the request body is not JSON');
  }
}
