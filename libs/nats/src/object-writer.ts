import { createHash } from 'node:crypto';
import { headers, nuid } from '@nats-io/transport-node';
import type { ObjectStore } from '@nats-io/obj';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';

/**
 * Size of the messages an object is cut into: 1 MiB (the server's default max_payload, which caps
 * it) instead of the client's 128 KiB, so a 30 MB photo is 30 acknowledged publishes, not 240:
 * about 1.7x the put rate for large objects, the same for small ones (bench:ingest).
 */
export const OBJECT_CHUNK_BYTES = 1024 * 1024;

/**
 * Chunk publishes of one object that may await their acks at once (the client's put: one). 8 MiB:
 * large.zip went 259 -> 289 MB/s from 4 (bench:ingest, 2 rounds each); the 5 GiB archive was level.
 */
export const OBJECT_PUT_WINDOW = 8;

/**
 * Chunk buffers whose publish has been acknowledged, for the next chunks: the server has the bytes,
 * so the client holds no reference to them (it copies a payload into its outbound buffer before
 * sending). Without the reuse a large upload allocated a new MiB for every MiB, and the garbage
 * collector ran for that.
 */
const spareChunks: Buffer[] = [];
const MAX_SPARE_CHUNKS = 32;

function takeChunk(): Buffer {
  return spareChunks.pop() ?? Buffer.allocUnsafeSlow(OBJECT_CHUNK_BYTES);
}

function giveBack(chunk: Buffer): void {
  if (spareChunks.length < MAX_SPARE_CHUNKS) spareChunks.push(chunk);
}

/** What a put stored: the object store's own description of it. */
export interface StoredObject {
  name: string;
  nuid: string;
  size: number;
  chunks: number;
  /** `SHA-256=<base64url>`, as the object store records it. */
  digest: string;
}

/** What a store opened with `@nats-io/obj` carries (public fields of its ObjectStoreImpl, not exported). */
interface StoreParts {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  name: string;
}

function partsOf(store: ObjectStore): StoreParts {
  const s = store as unknown as Partial<StoreParts>;
  if (!s.js || !s.jsm || typeof s.stream !== 'string' || typeof s.name !== 'string') {
    throw new TypeError('putObject needs a store opened with @nats-io/obj (Objm)');
  }
  return s as StoreParts;
}

/** An object's name in its info subject: base64url with padding, as the object store spells it. */
function encodeName(name: string): string {
  // The client encodes with btoa, which takes one byte per character.
  if (!/^[\x20-\x7e]+$/.test(name)) throw new TypeError(`object names must be printable ASCII: ${JSON.stringify(name)}`);
  return Buffer.from(name, 'latin1').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/**
 * Store an object in the object store's own layout (ADR-20, as `@nats-io/obj` writes it: 1 MiB chunk
 * messages on `$O.<bucket>.C.<nuid>`, then its info on `$O.<bucket>.M.<name>`, rolling up the one
 * before), so the client, `nats object get` and every stage read it as usual. What differs from the
 * client's `put`, measured in bench:ingest:
 *
 * - up to `OBJECT_PUT_WINDOW` (8) chunks are on their way at once; the client waits for each chunk's ack
 *   before it sends the next, so a large object was a chain of round trips;
 * - the pieces are copied once into each chunk (a piece of a whole chunk or more is sent as it is);
 *   the client packs them into a zero-filled buffer and copies the rest again;
 * - the lookup of an object the name already has (to purge its chunks once the new one is live) runs
 *   beside the chunks instead of before them.
 *
 * The pieces come from `source` as they arrive; nothing else of it is held. On a failure the chunks
 * sent so far are purged and the error is thrown; an earlier object of the name stays as it was.
 */
export async function putObject(
  store: ObjectStore,
  name: string,
  source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<StoredObject> {
  return (await sendObject(store, name, source)).stored;
}

/** An object whose bytes are all sent: `stored` settles once the server has them all and its info. */
export interface SentObject {
  stored: Promise<StoredObject>;
}

/**
 * putObject in two steps: resolves once `source` is read to its end and every chunk is handed to
 * the client, so the caller can read the next upload entry while the last acks (up to 8 MiB), the
 * name lookup and the info publish are under way (about 11 ms per object: a 30 MB entry's put
 * waited for them before its upload could go on). A failure while reading rejects this promise; a
 * later one rejects `stored`. Either way the chunks sent are purged.
 */
export async function sendObject(
  store: ObjectStore,
  name: string,
  source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<SentObject> {
  const { js, jsm, stream, name: bucket } = partsOf(store);
  const timeout = js.getOptions().timeout;
  const id = nuid.next();
  const chunkSubject = `$O.${bucket}.C.${id}`;
  const infoSubject = `$O.${bucket}.M.${encodeName(name)}`;
  const previous = jsm.streams.getMessage(stream, { last_by_subj: infoSubject });
  previous.catch(() => undefined);

  const hash = createHash('sha256');
  let size = 0;
  let chunks = 0;
  const acks: Promise<unknown>[] = [];
  const purge = async () => {
    // Chunks still on their way would land after the purge.
    await Promise.allSettled(acks);
    await jsm.streams.purge(stream, { filter: chunkSubject }).catch(() => undefined);
  };
  // `own` is a chunk buffer of ours (from takeChunk), reused once its publish is acknowledged.
  const send = async (payload: Uint8Array, own?: Buffer) => {
    chunks++;
    const ack = js.publish(chunkSubject, payload, { timeout });
    if (own) ack.then(() => giveBack(own), () => undefined);
    else ack.catch(() => undefined);
    acks.push(ack);
    if (acks.length >= OBJECT_PUT_WINDOW) await acks.shift();
  };
  try {
    let chunk = takeChunk();
    let filled = 0;
    for await (const piece of source) {
      hash.update(piece);
      size += piece.length;
      let at = 0;
      while (at < piece.length) {
        if (filled === 0 && piece.length - at >= OBJECT_CHUNK_BYTES) {
          await send(piece.subarray(at, at + OBJECT_CHUNK_BYTES));
          at += OBJECT_CHUNK_BYTES;
          continue;
        }
        const n = Math.min(OBJECT_CHUNK_BYTES - filled, piece.length - at);
        chunk.set(piece.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === OBJECT_CHUNK_BYTES) {
          await send(chunk, chunk);
          chunk = takeChunk();
          filled = 0;
        }
      }
    }
    if (filled > 0) await send(chunk.subarray(0, filled), chunk);
    else giveBack(chunk);
  } catch (err) {
    await purge();
    throw err;
  }

  const digest = `SHA-256=${hash.digest('base64').replace(/\+/g, '-').replace(/\//g, '_')}`;
  const stored = (async (): Promise<StoredObject> => {
    try {
      await Promise.all(acks);
      const info = {
        bucket,
        nuid: id,
        size,
        chunks,
        name,
        description: '',
        options: { max_chunk_size: OBJECT_CHUNK_BYTES },
        mtime: new Date().toISOString(),
        digest,
        deleted: false,
      };
      // Known before this object's info lands, so it is never mistaken for the earlier one.
      const earlier = await previous;
      const h = headers();
      h.set('Nats-Rollup', 'sub');
      await js.publish(infoSubject, JSON.stringify(info), { headers: h, timeout });
      const old = earlier?.json<{ nuid?: string; deleted?: boolean }>();
      if (old?.nuid && !old.deleted) {
        // The new object is live; a failure here leaves only unreachable chunks, as the client does.
        await jsm.streams.purge(stream, { filter: `$O.${bucket}.C.${old.nuid}` }).catch(() => undefined);
      }
      return { name, nuid: id, size, chunks, digest };
    } catch (err) {
      await purge();
      throw err;
    }
  })();
  // Handled by whoever awaits it; marked so a failure before then is not reported as unhandled.
  stored.catch(() => undefined);
  return { stored };
}
