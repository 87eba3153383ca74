import assert from 'node:assert/strict';
import { RecentWrites } from './recent-writes.js';

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

  describe('pacing the writer', () => {
    /** Whether `p` has settled after the pending callbacks ran. */
    const settled = async (p: Promise<void>) => {
      let done = false;
      void p.then(() => (done = true));
      await new Promise((r) => setImmediate(r));
      return done;
    };

    it('lets the writer on while it is at most half of what is held ahead of the follower', async () => {
      const recent = new RecentWrites(8);
      recent.add(0, [Buffer.from('abcd')]);
      assert.equal(await settled(recent.paced(4)), true);
    });

    it('holds the writer further ahead until the follower takes the bytes, then lets it on', async () => {
      const recent = new RecentWrites(8);
      recent.add(0, [Buffer.from('abcd')]);
      recent.add(4, [Buffer.from('efgh')]);
      const waiting = recent.paced(8);
      assert.equal(await settled(waiting), false);
      assert.equal(text(recent.take(0)), 'abcd');
      // The follower asks at 4: 8 - 4 is half of the 8 held, so the writer goes on.
      assert.equal(recent.take(4)?.length, 1);
      assert.equal(await settled(waiting), true);
    });

    it('lets the writer on after half a second if the follower does not move, and no longer waits for it', async () => {
      const recent = new RecentWrites(8);
      recent.add(0, [Buffer.from('abcdefgh')]);
      const t0 = Date.now();
      await recent.paced(8);
      const waited = Date.now() - t0;
      assert.ok(waited >= 450 && waited < 2000, `waited ${waited} ms`);
      recent.add(8, [Buffer.from('ijklmnop')]);
      assert.equal(await settled(recent.paced(16)), true);
    });

    it('lets every waiting writer on when the follower ends, and holds nothing after', async () => {
      const recent = new RecentWrites(8);
      recent.add(0, [Buffer.from('abcdefgh')]);
      const waiting = recent.paced(8);
      recent.end();
      assert.equal(await settled(waiting), true);
      recent.add(8, [Buffer.from('ij')]);
      assert.equal(recent.take(8), undefined);
    });

    it('says when the follower has caught up with the writer, until the writer has been quiet for a second', async () => {
      const recent = new RecentWrites(8);
      assert.equal(recent.writerAt(0), false, 'nothing written through it yet: the file is read');
      recent.add(0, [Buffer.from('abcde')]);
      assert.equal(recent.writerAt(5), true);
      assert.equal(recent.writerAt(3), false);
      await new Promise((r) => setTimeout(r, 1050));
      assert.equal(recent.writerAt(5), false);
    });

    it('does not hold the writer for a follower that reads the file for a long while yet (a restarted cut)', async () => {
      const recent = new RecentWrites(8, 64);
      recent.take(0); // the follower starts over from the first byte
      recent.add(1000, [Buffer.from('abcdefgh')]);
      assert.equal(await settled(recent.paced(1008)), true);
      // Within reach of the writer it is held back again.
      recent.take(990);
      recent.add(1008, [Buffer.from('ijklmnop')]);
      assert.equal(await settled(recent.paced(1016)), false);
      recent.end();
    });
  });
});
