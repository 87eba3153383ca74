import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import { startNatsServer, type NatsServerHandle } from '@mesh/testing';
import { connectNats, digestToHex, provisionMesh, putObject, readObject, sendObject, OBJECT_CHUNK_BYTES } from './index.js';

const MiB = 1024 * 1024;

/** Cut `data` into pieces of the given sizes (the last takes the rest). */
function cut(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    out.push(data.subarray(at, at + n));
    at += n;
  }
  if (at < data.length) out.push(data.subarray(at));
  return out;
}

async function* slowly(pieces: Buffer[]): AsyncGenerator<Buffer> {
  for (const p of pieces) {
    await new Promise((r) => setImmediate(r));
    yield p;
  }
}

describe('putObject (the mesh object writer)', function () {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let store: ObjectStore;

  /** Messages held in the bucket's stream on one subject. */
  const messagesOn = async (subject: string) => {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info('OBJ_b', { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  };

  before(async () => {
    server = await startNatsServer();
    nc = await connectNats(server.url, 'object-writer-test');
    store = await provisionMesh(nc, { bucket: 'b', eventsMaxAgeHours: 1, ackWaitSeconds: 5, maxDeliver: 3 });
  });
  after(async () => {
    await nc?.close();
    await server?.cleanup();
  });

  it('stores pieces of any size as the client reads them back, digest and all', async () => {
    const data = randomBytes(5 * MiB + 12345);
    // Tiny pieces, one that straddles a chunk boundary, one of exactly a chunk, then the rest.
    const pieces = cut(data, [1, 7, 65536, 2 * MiB, OBJECT_CHUNK_BYTES, 3]);
    const stored = await putObject(store, 'job/c0000001/original', slowly(pieces));

    assert.equal(stored.size, data.length);
    assert.equal(stored.chunks, 6);
    assert.equal(digestToHex(stored.digest), createHash('sha256').update(data).digest('hex'));
    const info = await store.info('job/c0000001/original');
    assert.equal(info?.size, data.length);
    assert.equal(info?.chunks, 6);
    assert.equal(info?.digest, stored.digest);
    assert.equal(info?.options?.max_chunk_size, OBJECT_CHUNK_BYTES);
    // The client's get checks the digest over every chunk, in order.
    assert.ok((await readObject(store, 'job/c0000001/original')).equals(data));
  });

  it('stores an empty object and a whole buffer', async () => {
    await putObject(store, 'empty', []);
    assert.equal((await readObject(store, 'empty')).length, 0);
    const whole = randomBytes(3 * MiB);
    await putObject(store, 'whole', [whole]);
    assert.ok((await readObject(store, 'whole')).equals(whole));
  });

  it('replaces an object of the same name and purges the chunks of the one before', async () => {
    const first = await putObject(store, 'again', [randomBytes(2 * MiB)]);
    assert.equal(await messagesOn(`$O.b.C.${first.nuid}`), 2);
    const second = randomBytes(MiB + 1);
    const replaced = await putObject(store, 'again', [second]);

    assert.ok((await readObject(store, 'again')).equals(second));
    assert.equal(await messagesOn(`$O.b.C.${first.nuid}`), 0);
    assert.equal(await messagesOn(`$O.b.C.${replaced.nuid}`), 2);
  });

  it('leaves nothing behind when its source fails, and the earlier object stands', async () => {
    const earlier = randomBytes(1000);
    await putObject(store, 'kept', [earlier]);
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info('OBJ_b')).state.messages;

    async function* breaks(): AsyncGenerator<Buffer> {
      yield randomBytes(3 * MiB);
      throw new Error('upload cut');
    }
    await assert.rejects(putObject(store, 'kept', breaks()), /upload cut/);

    assert.equal((await jsm.streams.info('OBJ_b')).state.messages, before);
    assert.ok((await readObject(store, 'kept')).equals(earlier));
  });

  it('hands back once the bytes are sent; the object is there once `stored` settles', async () => {
    const data = randomBytes(4 * MiB + 1);
    const sent = await sendObject(store, 'sent', slowly(cut(data, [MiB / 2, MiB / 2])));
    const stored = await sent.stored;
    assert.equal(stored.size, data.length);
    assert.ok((await readObject(store, 'sent')).equals(data));
  });

  it('rejects the send itself when the source breaks, not `stored`', async () => {
    async function* breaks(): AsyncGenerator<Buffer> {
      yield randomBytes(MiB + 5);
      throw new Error('entry refused');
    }
    await assert.rejects(sendObject(store, 'refused', breaks()), /entry refused/);
    assert.equal(await store.info('refused'), null);
  });

  it('refuses a name the object store cannot spell', async () => {
    await assert.rejects(putObject(store, 'café/c1/original', [Buffer.from('x')]), TypeError);
  });
});
