import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { Upload } from '@tus/utils';
import { tempDir } from '@mesh/testing';
import { RecentWrites } from './recent-writes.js';
import { BatchingFileStore } from './tus-store.js';

const KiB = 1024;

/** `data` as a stream of 64 KiB pieces (as a request arrives), failing after `failAfter` pieces if given. */
function pieces(data: Buffer, failAfter?: number): Readable {
  return Readable.from(
    (async function* () {
      for (let at = 0, n = 0; at < data.length; at += 64 * KiB, n++) {
        if (n === failAfter) throw new Error('connection reset');
        yield data.subarray(at, at + 64 * KiB);
      }
    })(),
  );
}

describe('tus file store (batched writes)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let store: BatchingFileStore;
  const create = (id: string, size: number) => store.create(new Upload({ id, size, offset: 0 }));

  beforeEach(async () => {
    dir = await tempDir('mesh-tus-store-');
    store = new BatchingFileStore({ directory: dir.dir });
  });
  afterEach(() => dir.remove());

  it('writes every byte in order across PATCHes, and the offset is what the file holds', async () => {
    const data = randomBytes(3 * 1024 * KiB + 12345);
    await create('u1', data.length);
    const half = 1536 * KiB + 7;
    assert.equal(await store.write(pieces(data.subarray(0, half)), 'u1', 0), half);
    assert.equal(await store.write(pieces(data.subarray(half)), 'u1', half), data.length);

    assert.ok((await readFile(`${dir.dir}/u1`)).equals(data));
    assert.equal((await store.getUpload('u1')).offset, data.length);
  });

  it('tells of each batch as it goes to the file, with its position and bytes', async () => {
    const told: { position: number; bytes: Buffer }[] = [];
    store = new BatchingFileStore({
      directory: dir.dir,
      onBatch: (id, position, written) => {
        assert.equal(id, 'u3');
        told.push({ position, bytes: Buffer.concat(written) });
      },
    });
    const data = randomBytes(2 * 1024 * KiB + 100);
    await create('u3', data.length);
    await store.write(pieces(data), 'u3', 0);

    assert.deepEqual(
      told.map((t) => [t.position, t.bytes.length]),
      [
        [0, 1024 * KiB],
        [1024 * KiB, 1024 * KiB],
        [2048 * KiB, 100],
      ],
    );
    assert.ok(Buffer.concat(told.map((t) => t.bytes)).equals(data));
  });

  it('keeps the bytes that arrived before a request broke off, so the client resumes there', async () => {
    const data = randomBytes(2 * 1024 * KiB);
    await create('u2', data.length);
    // 20 pieces of 64 KiB arrive: more than one batch, and a partial one still gathered at the break.
    await assert.rejects(store.write(pieces(data, 20), 'u2', 0), (err: { status_code?: number }) => err.status_code === 500);

    const kept = await readFile(`${dir.dir}/u2`);
    assert.equal(kept.length, 20 * 64 * KiB);
    assert.ok(kept.equals(data.subarray(0, kept.length)));
    assert.equal((await store.getUpload('u2')).offset, kept.length);
  });

  it('holds the request while the cut has not caught up (what onBatch answers), then takes the rest', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const told: number[] = [];
    store = new BatchingFileStore({
      directory: dir.dir,
      onBatch: (_id, position) => {
        told.push(position);
        return told.length === 1 ? gate : undefined;
      },
    });
    const data = randomBytes(3 * 1024 * KiB);
    await create('u4', data.length);
    const writing = store.write(pieces(data), 'u4', 0);
    await new Promise((r) => setTimeout(r, 100));
    // The first batch waits for its cut: the request is not read on meanwhile.
    assert.deepEqual(told, [0]);
    release();
    assert.equal(await writing, data.length);
    assert.deepEqual(told, [0, 1024 * KiB, 2048 * KiB]);
    assert.ok((await readFile(`${dir.dir}/u4`)).equals(data));
  });

  it('takes every byte into the file when the cut does not move (NATS away): held half a second, then at full pace', async () => {
    // The cut's memory, as tus.ts wires it, with a cut that never takes anything.
    const recent = new RecentWrites();
    store = new BatchingFileStore({
      directory: dir.dir,
      onBatch: (_id, position, batch) => {
        recent.add(position, batch);
        return recent.paced(position + batch.reduce((n, p) => n + p.length, 0));
      },
    });
    const data = randomBytes(24 * 1024 * KiB);
    await create('u5', data.length);
    const t0 = Date.now();
    assert.equal(await store.write(pieces(data), 'u5', 0), data.length);
    const took = Date.now() - t0;
    assert.ok(took >= 450 && took < 5_000, `held for the stall only, not per batch (${took} ms)`);
    assert.ok((await readFile(`${dir.dir}/u5`)).equals(data));
  });
});

