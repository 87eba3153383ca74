import assert from 'node:assert/strict';
import { RecentWrites } from './follow-file.js';

const text = (pieces: Buffer[] | undefined) => pieces?.map((p) => p.toString()).join('|');

describe('recent writes (bytes a file follower takes from memory)', () => {
  it('hands out what was written at the follower position, in order, once', () => {
    const recent = new RecentWrites();
    recent.add(0, [Buffer.from('abc'), Buffer.from('de')]);
    recent.add(5, [Buffer.from('fgh')]);
    assert.equal(text(recent.take(0)), 'abc|de');
    assert.equal(text(recent.take(5)), 'fgh');
    assert.equal(recent.take(8), undefined);
  });

  it('cuts a write the follower is partway into, and drops writes it has already read from the file', () => {
    const recent = new RecentWrites();
    recent.add(0, [Buffer.from('abc')]);
    recent.add(3, [Buffer.from('de'), Buffer.from('fgh')]);
    recent.add(8, [Buffer.from('ij')]);
    // The follower read 0..6 from the file: the first write is stale, the second is cut after 'd','e','f'.
    assert.equal(text(recent.take(6)), 'gh');
    assert.equal(text(recent.take(8)), 'ij');
  });

  it('says nothing is held for a position ahead of what it holds (the follower reads the file)', () => {
    const recent = new RecentWrites();
    recent.add(10, [Buffer.from('xyz')]);
    assert.equal(recent.take(4), undefined);
    // Still there for when the follower gets to it.
    assert.equal(text(recent.take(10)), 'xyz');
  });

  it('holds at most its limit, dropping the oldest first', () => {
    const recent = new RecentWrites(6);
    recent.add(0, [Buffer.from('abcd')]);
    recent.add(4, [Buffer.from('efgh')]);
    assert.equal(recent.take(0), undefined);
    assert.equal(text(recent.take(4)), 'efgh');
  });

  it('takes Uint8Array pieces (a web stream hands those) as Buffers without copying them', () => {
    const recent = new RecentWrites();
    const bytes = new Uint8Array([104, 105, 33]);
    recent.add(0, [bytes.subarray(0, 2)]);
    const [piece] = recent.take(0)!;
    assert.ok(Buffer.isBuffer(piece));
    assert.equal(piece!.toString(), 'hi');
    assert.equal(piece!.buffer, bytes.buffer);
  });
});
