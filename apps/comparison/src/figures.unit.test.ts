import assert from 'node:assert/strict';
import { matteFigures } from './figures.js';

describe('matte figures', () => {
  it('reports an all-background matte as no foreground and nothing uncertain', () => {
    assert.deepEqual(matteFigures(new Uint8Array(10)), { foreground_fraction: 0, mean_alpha: 0, uncertain_fraction: 0 });
  });

  it('reports an all-foreground matte as full foreground with mean alpha 1', () => {
    assert.deepEqual(matteFigures(new Uint8Array(10).fill(255)), {
      foreground_fraction: 1,
      mean_alpha: 1,
      uncertain_fraction: 0,
    });
  });

  it('counts 128 as foreground and only 13..242 as uncertain', () => {
    // 127 and 128 straddle the foreground cut; 12/13 and 242/243 straddle the uncertain band.
    const alpha = Uint8Array.from([0, 12, 13, 127, 128, 242, 243, 255]);
    const f = matteFigures(alpha);
    assert.equal(f.foreground_fraction, 4 / 8); // 128, 242, 243, 255
    assert.equal(f.uncertain_fraction, 4 / 8); // 13, 127, 128, 242
    assert.equal(f.mean_alpha, (0 + 12 + 13 + 127 + 128 + 242 + 243 + 255) / (255 * 8));
  });

  it('gives zeros rather than NaN for an empty matte', () => {
    assert.deepEqual(matteFigures(new Uint8Array(0)), { foreground_fraction: 0, mean_alpha: 0, uncertain_fraction: 0 });
  });
});
