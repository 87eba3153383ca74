import assert from 'node:assert/strict';
import { labelComponents } from './components.js';
import { FRAGMENTED_MIN_PIECES, matteFigures, speckPixels } from './figures.js';

/** A matte drawn as text: '#' = 255, '+' = 128, '.' = 0, one string per row. */
function draw(rows: string[]): [Uint8Array, number, number] {
  const width = rows[0]!.length;
  const alpha = Uint8Array.from(rows.join('').split(''), (c) => (c === '#' ? 255 : c === '+' ? 128 : 0));
  return [alpha, width, rows.length];
}

describe('matte figures', () => {
  it('reports an all-background matte as empty: no foreground, no box, nothing uncertain', () => {
    assert.deepEqual(matteFigures(new Uint8Array(10), 10, 1), {
      foreground_fraction: 0,
      mean_alpha: 0,
      uncertain_fraction: 0,
      bbox: null,
      components: 0,
      flags: ['empty'],
    });
  });

  it('reports an all-foreground matte as full frame, one piece, boxed to the whole image', () => {
    assert.deepEqual(matteFigures(new Uint8Array(12).fill(255), 4, 3), {
      foreground_fraction: 1,
      mean_alpha: 1,
      uncertain_fraction: 0,
      bbox: { x: 0, y: 0, width: 4, height: 3 },
      components: 1,
      flags: ['full_frame'],
    });
  });

  it('counts 128 as foreground and only 13..242 as uncertain', () => {
    // 127 and 128 straddle the foreground cut; 12/13 and 242/243 straddle the uncertain band.
    const alpha = Uint8Array.from([0, 12, 13, 127, 128, 242, 243, 255]);
    const f = matteFigures(alpha, 8, 1);
    assert.equal(f.foreground_fraction, 4 / 8); // 128, 242, 243, 255
    assert.equal(f.uncertain_fraction, 4 / 8); // 13, 127, 128, 242
    assert.equal(f.mean_alpha, (0 + 12 + 13 + 127 + 128 + 242 + 243 + 255) / (255 * 8));
    assert.deepEqual(f.bbox, { x: 4, y: 0, width: 4, height: 1 });
  });

  it('boxes the subject tightly, half-transparent pixels included', () => {
    const [alpha, w, h] = draw([
      '..........',
      '...##.....',
      '..####+...',
      '...##.....',
      '..........',
    ]);
    const f = matteFigures(alpha, w, h);
    assert.deepEqual(f.bbox, { x: 2, y: 1, width: 5, height: 3 });
    assert.equal(f.foreground_fraction, 9 / 50);
    assert.equal(f.mean_alpha, (8 * 255 + 128) / (255 * 50));
    assert.equal(f.uncertain_fraction, 1 / 50);
  });

  it('ignores specks smaller than 0.05% of the image when counting pieces', () => {
    // 100x100: specks are pieces under 5 px. Two 3x3 blocks and three single pixels.
    assert.equal(speckPixels(100 * 100), 5);
    const alpha = new Uint8Array(100 * 100);
    const block = (x0: number, y0: number) => {
      for (let y = y0; y < y0 + 3; y++) for (let x = x0; x < x0 + 3; x++) alpha[y * 100 + x] = 255;
    };
    block(10, 10);
    block(50, 50);
    for (const i of [0, 9999, 5000]) alpha[i] = 255;
    const f = matteFigures(alpha, 100, 100);
    assert.equal(f.components, 2);
    assert.deepEqual(f.flags, []);
    assert.deepEqual(f.bbox, { x: 0, y: 0, width: 100, height: 100 }, 'the box still holds the specks');
  });

  it(`flags a matte of ${FRAGMENTED_MIN_PIECES} separate pieces as fragmented, and not one fewer`, () => {
    const matte = (pieces: number) => {
      const alpha = new Uint8Array(100 * 100);
      for (let p = 0; p < pieces; p++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) alpha[(10 * p + y) * 100 + 10 * p + x] = 255;
      return matteFigures(alpha, 100, 100);
    };
    assert.deepEqual([matte(FRAGMENTED_MIN_PIECES).components, matte(FRAGMENTED_MIN_PIECES).flags], [FRAGMENTED_MIN_PIECES, ['fragmented']]);
    assert.deepEqual([matte(FRAGMENTED_MIN_PIECES - 1).components, matte(FRAGMENTED_MIN_PIECES - 1).flags], [FRAGMENTED_MIN_PIECES - 1, []]);
  });

  it('joins diagonal neighbours into one piece for the figures', () => {
    const [alpha, w, h] = draw(['#...', '.#..', '..#.', '...#']);
    assert.equal(labelComponents(alpha, w, h, 8).count, 1);
    assert.equal(labelComponents(alpha, w, h, 4).count, 4);
  });

  it('labels a U shape whose arms meet only at the bottom as one piece, with its size', () => {
    const [alpha, w, h] = draw(['#.#', '#.#', '###']);
    const c = labelComponents(alpha, w, h, 4);
    assert.equal(c.count, 1);
    assert.equal(c.sizes[1], 7);
    assert.deepEqual([...c.labels], [1, 0, 1, 1, 0, 1, 1, 1, 1]);
  });

  it('refuses a matte whose size does not match its dimensions', () => {
    assert.throws(() => matteFigures(new Uint8Array(5), 2, 2), RangeError);
  });
});
