import { Readable } from 'node:stream';
import type { ObjectStore, ObjectStoreMeta } from '@nats-io/obj';
import { ObjectMissingError } from '@mesh/contracts';
import { retryTransient } from './transient.js';
import { OBJECT_CHUNK_BYTES } from './object-writer.js';

/**
 * Read a whole object (images a worker decodes anyway); throws ObjectMissingError if absent. Tried
 * again after a transient NATS failure (see retryTransient).
 */
export async function readObject(store: ObjectStore, name: string): Promise<Buffer> {
  const data = await retryTransient(() => store.getBlob(name));
  if (data === null) throw new ObjectMissingError(name);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Stream an object as a Node readable, for downloads that must not sit in memory. */
export async function objectStream(store: ObjectStore, name: string): Promise<Readable> {
  const result = await store.get(name);
  if (result === null) throw new ObjectMissingError(name);
  const stream = Readable.fromWeb(result.data as import('node:stream/web').ReadableStream<Uint8Array>);
  result.error.then((err) => err && stream.destroy(err)).catch(() => undefined);
  return stream;
}

/** Metadata for a new object written with the client's `put`: its name, and the mesh's chunk size. */
export function objectMeta(name: string): ObjectStoreMeta {
  return { name, options: { max_chunk_size: OBJECT_CHUNK_BYTES } };
}

/**
 * Write a buffer as one object with the client's `putBlob` (the stages' outputs: a few, small,
 * whole; the gateway streams uploads with putObject). Tried again after a transient NATS failure
 * (see retryTransient).
 */
export async function writeObject(store: ObjectStore, name: string, data: Uint8Array): Promise<void> {
  await retryTransient(() => store.putBlob(objectMeta(name), data));
}

/** Object-store digests are `SHA-256=<base64url>`; events carry hex. */
export function digestToHex(digest: string): string {
  const b64 = digest.replace(/^SHA-256=/, '');
  return Buffer.from(b64, 'base64url').toString('hex');
}
