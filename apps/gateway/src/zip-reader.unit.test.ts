import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import yazl from 'yazl';
import { ArchiveDamagedError, EntryRejectedError, readZip, type ArchiveLimits } from './zip-reader.js';

type Input = { name: string; data: Buffer; stream?: boolean; compress?: boolean };

async function zip(entries: Input[], end: { forceZip64Format?: boolean; comment?: string } = {}, zip64 = false): Promise<Buffer> {
  const z = new yazl.ZipFile();
  for (const e of entries) {
    const opts = { compress: e.compress ?? true, forceZip64Format: zip64 };
    // addReadStream writes sizes after the data (a data descriptor); addBuffer writes them first.
    if (e.stream) z.addReadStream(Readable.from([e.data]), e.name, opts);
    else z.addBuffer(e.data, e.name, opts);
  }
  z.end({ comment: '', forceZip64Format: end.forceZip64Format ?? false });
  const parts: Buffer[] = [];
  for await (const p of z.outputStream) parts.push(p as Buffer);
  return Buffer.concat(parts);
}

const limits: ArchiveLimits = { maxEntryBytes: 64 * 1024 * 1024, maxRatio: 100 };

/** Feed the archive in small pieces, as a network would. */
function pieces(buf: Buffer, size = 777): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
  })();
}

async function read(buf: Buffer, l = limits, input: AsyncIterable<Uint8Array> = pieces(buf)) {
  const got: Record<string, string> = {};
  const skipped: Record<string, string> = {};
  let error: unknown;
  try {
    await readZip(input, l, {
      onSkip: (name, reason) => (skipped[name] = reason),
      onEntry: async (entry) => {
        const parts: Buffer[] = [];
        try {
          for await (const p of entry.stream) parts.push(p as Buffer);
          got[entry.name] = Buffer.concat(parts).toString('latin1');
        } catch (err) {
          if (!(err instanceof EntryRejectedError)) throw err;
          skipped[entry.name] = err.message;
        }
      },
    });
  } catch (err) {
    error = err;
  }
  return { got, skipped, error };
}

const photo = (n: number) => Buffer.from(`${'jpeg-bytes-'.repeat(50)}${n}`.repeat(20));

describe('streaming zip reader', () => {
  it('reads stored and deflated entries, with sizes before or after the data, keeping nested names', async () => {
    const entries: Input[] = [
      { name: 'a.jpg', data: photo(1), stream: true, compress: true },
      { name: 'shoot/day 1/b.jpg', data: photo(2), stream: true, compress: false },
      { name: 'c.png', data: photo(3), stream: false, compress: true },
      { name: 'd.png', data: photo(4), stream: false, compress: false },
      { name: 'empty.txt', data: Buffer.alloc(0), stream: true },
    ];
    const { got, error } = await read(await zip(entries));
    assert.equal(error, undefined);
    assert.deepEqual(Object.keys(got), entries.map((e) => e.name));
    for (const e of entries) assert.equal(got[e.name], e.data.toString('latin1'), e.name);
  });

  it('finds a data descriptor wherever the network cuts the bytes, also after a look-alike in the data', async () => {
    // Stored entries with sizes after the data: only the descriptor says where each one ends. The
    // first one's bytes hold a descriptor signature that is not one, and end in its first bytes.
    const tricky = Buffer.concat([photo(1), Buffer.from('PK\x07\x08 not a descriptor PK\x07', 'latin1')]);
    const entries: Input[] = [
      { name: 'a.jpg', data: tricky, stream: true, compress: false },
      { name: 'b.jpg', data: photo(2), stream: true, compress: true },
    ];
    const buf = await zip(entries);
    const descriptor = buf.indexOf(Buffer.from('PK\x07\x08 not', 'latin1')) + tricky.length - photo(1).length - 4;
    const real = buf.indexOf(Buffer.from([0x50, 0x4b, 0x07, 0x08]), descriptor);
    assert.ok(real > 0);
    for (let cut = real - 40; cut <= real + 40; cut++) {
      const twoPieces = (async function* () {
        yield buf.subarray(0, cut);
        yield buf.subarray(cut);
      })();
      const { got, error } = await read(buf, limits, twoPieces);
      assert.equal(error, undefined, `cut at ${cut}`);
      assert.deepEqual(
        Object.entries(got),
        entries.map((e) => [e.name, e.data.toString('latin1')]),
        `cut at ${cut}`,
      );
    }
  });

  it('reads ZIP64 archives with 64-bit data descriptors', async () => {
    const entries: Input[] = [1, 2, 3].map((n) => ({ name: `p${n}.jpg`, data: photo(n), stream: true, compress: n !== 2 }));
    const { got, error } = await read(await zip(entries, { forceZip64Format: true }, true));
    assert.equal(error, undefined);
    assert.deepEqual(Object.values(got), entries.map((e) => e.data.toString('latin1')));
  });

  it('reads more than 65,535 entries', async () => {
    const entries: Input[] = Array.from({ length: 66_000 }, (_, i) => ({ name: `n/${i}.txt`, data: Buffer.from(String(i)), compress: false }));
    let count = 0;
    await readZip(pieces(await zip(entries), 1 << 16), limits, {
      onSkip: () => undefined,
      onEntry: async (e) => {
        for await (const _ of e.stream) void _;
        count++;
      },
    });
    assert.equal(count, 66_000);
  });

  it('keeps the entries before a truncation and says where the archive broke', async () => {
    const buf = await zip([1, 2, 3].map((n) => ({ name: `p${n}.jpg`, data: photo(n), stream: true, compress: false })));
    const second = buf.indexOf(Buffer.from('p2.jpg'));
    const { got, error } = await read(buf.subarray(0, second + 300));
    assert.deepEqual(Object.keys(got), ['p1.jpg']);
    assert.ok(error instanceof ArchiveDamagedError);
    assert.match((error as Error).message, /after entry 'p2\.jpg'.*truncated/);
  });

  it('says an archive cut after its last entry lacks its central directory, and keeps every entry', async () => {
    const buf = await zip([1, 2].map((n) => ({ name: `p${n}.jpg`, data: photo(n), stream: true })));
    const { got, error } = await read(buf.subarray(0, buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))));
    assert.deepEqual(Object.keys(got), ['p1.jpg', 'p2.jpg']);
    assert.match((error as Error).message, /without its central directory/);
  });

  it('refuses bytes that are not a zip archive', async () => {
    const { error } = await read(Buffer.from('hello, this is a text file and not an archive'));
    assert.ok(error instanceof ArchiveDamagedError);
    assert.match((error as Error).message, /not a zip archive/);
  });

  it('skips a corrupt entry (bad checksum) and reads on', async () => {
    const buf = await zip([1, 2].map((n) => ({ name: `p${n}.jpg`, data: photo(n), stream: false, compress: false })));
    const at = buf.indexOf(Buffer.from('jpeg-bytes'));
    buf[at] = 0x58;
    const { got, skipped, error } = await read(buf);
    assert.equal(error, undefined);
    assert.deepEqual(Object.keys(got), ['p2.jpg']);
    assert.match(skipped['p1.jpg'] ?? '', /corrupt/);
  });

  it('stops a zip bomb by compression ratio and by size per entry, and reads on', async () => {
    const zeros = Buffer.alloc(40 * 1024 * 1024);
    const buf = await zip([
      { name: 'bomb.jpg', data: zeros, stream: true },
      { name: 'ok.jpg', data: photo(9), stream: true },
    ]);
    const ratio = await read(buf);
    assert.match(ratio.skipped['bomb.jpg'] ?? '', /compression ratio above 100:1/);
    assert.deepEqual(Object.keys(ratio.got), ['ok.jpg']);

    const stored = await zip([{ name: 'big.jpg', data: Buffer.alloc(3 * 1024 * 1024, 1), compress: false }, { name: 'ok.jpg', data: photo(9) }]);
    const size = await read(stored, { maxEntryBytes: 2 * 1024 * 1024, maxRatio: 100 });
    assert.match(size.skipped['big.jpg'] ?? '', /more than 2097152 bytes/);
    assert.deepEqual(Object.keys(size.got), ['ok.jpg']);
  });

  it('skips encrypted entries with a reason', async () => {
    const buf = await zip([{ name: 'secret.jpg', data: photo(1), compress: false }, { name: 'ok.jpg', data: photo(2) }]);
    buf.writeUInt16LE(buf.readUInt16LE(6) | 1, 6);
    const { got, skipped } = await read(buf);
    assert.match(skipped['secret.jpg'] ?? '', /encrypted/);
    assert.deepEqual(Object.keys(got), ['ok.jpg']);
  });

  it('has zlib crc32 (Node 20.15+)', () => {
    assert.equal(zlib.crc32('hello'), 907060870);
  });
});
