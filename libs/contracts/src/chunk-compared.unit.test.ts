import assert from 'node:assert/strict';
import { ChunkCompared, PipelineEvent, encodeEvent, parseEvent } from './index.js';

const first = {
  type: 'chunk.compared',
  job_id: 'j',
  chunk_id: 'c1',
  name: 'a.jpg',
  comparison_object: 'j/c1/comparison.jpg',
  figures: { foreground_fraction: 0.5, mean_alpha: 0.5, uncertain_fraction: 0.1 },
  compared_at: new Date(0).toISOString(),
} as const;

describe('chunk.compared', () => {
  it('still parses an event of the first version, with three figures and no metrics', () => {
    assert.deepEqual(parseEvent(PipelineEvent, new TextEncoder().encode(JSON.stringify(first)), 's'), first);
  });

  it('carries flags, box, pieces and ground-truth metrics, and refuses an unknown flag', () => {
    const errors = { sad: 1, mse: 2, grad: 3, conn: 4 };
    const full = {
      ...first,
      thumbnail_object: 'j/c1/thumbnail.jpg',
      figures: { ...first.figures, bbox: { x: 0, y: 0, width: 2, height: 2 }, components: 1, flags: ['full_frame' as const] },
      ground_truth: { whole: errors, unknown: errors, unknown_pixels: 4, band_radius: 1 },
    };
    assert.deepEqual(parseEvent(ChunkCompared, encodeEvent(ChunkCompared, full), 's'), full);
    const bad = { ...full, figures: { ...full.figures, flags: ['blurry'] } };
    assert.throws(() => parseEvent(ChunkCompared, new TextEncoder().encode(JSON.stringify(bad)), 's'), /flags/);
  });
});
