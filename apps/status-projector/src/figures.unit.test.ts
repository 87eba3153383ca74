import assert from 'node:assert/strict';
import type { PipelineEvent } from '@mesh/contracts';
import { jobReport, openReadModel } from '@mesh/read-model';
import { createProjection } from './projection.js';

const at = new Date(0).toISOString();
const errors = { sad: 1.5, mse: 2, grad: 0.5, conn: 1 };
const history: PipelineEvent[] = [
  { type: 'job.created', job_id: 'j', created_at: at, source: ['shoot.zip'] },
  {
    type: 'chunk.ingested', job_id: 'j', chunk_id: 'a', name: 'a.jpg', object: 'j/a/original',
    content_type: 'image/jpeg', bytes: 5, sha256: 'f'.repeat(64), ingested_at: at,
  },
  { type: 'job.sealed', job_id: 'j', total_chunks: 1, skipped: [], sealed_at: at },
  {
    type: 'chunk.compared', job_id: 'j', chunk_id: 'a', name: 'a.jpg', comparison_object: 'j/a/comparison.jpg',
    thumbnail_object: 'j/a/thumbnail.jpg',
    figures: {
      foreground_fraction: 0.3, mean_alpha: 0.31, uncertain_fraction: 0.02,
      bbox: { x: 1, y: 2, width: 3, height: 4 }, components: 7, flags: ['fragmented'],
    },
    ground_truth: { whole: errors, unknown: errors, unknown_pixels: 12, band_radius: 1 },
    compared_at: at,
  },
];

describe('status projection of figures', () => {
  it('stores the figures, ground-truth metrics and thumbnail of chunk.compared for the report', () => {
    const db = openReadModel(':memory:');
    const p = createProjection(db);
    history.forEach((e, i) => p.apply(i + 1, e));
    const report = jobReport(db, 'j');
    assert.deepEqual(report?.flagged, [
      { chunk_id: 'a', name: 'a.jpg', comparison_object: 'j/a/comparison.jpg', thumbnail_object: 'j/a/thumbnail.jpg', flags: ['fragmented'] },
    ]);
    assert.equal(report?.totals.with_ground_truth, 1);
    assert.deepEqual(report?.worst.find((w) => w.key === 'gt.whole.sad')?.chunks.map((c) => c.value), [1.5]);
    assert.deepEqual(report?.worst.find((w) => w.key === 'components')?.chunks.map((c) => c.value), [7]);
  });

  it('still folds a chunk.compared of the first version, with three figures only', () => {
    const db = openReadModel(':memory:');
    const p = createProjection(db);
    const old = { ...history[3]!, figures: { foreground_fraction: 0.5, mean_alpha: 0.5, uncertain_fraction: 0 } } as PipelineEvent;
    delete (old as { thumbnail_object?: string }).thumbnail_object;
    delete (old as { ground_truth?: unknown }).ground_truth;
    [...history.slice(0, 3), old].forEach((e, i) => p.apply(i + 1, e));
    const report = jobReport(db, 'j');
    assert.deepEqual([report?.totals.measured, report?.totals.flagged, report?.totals.with_ground_truth], [1, 0, 0]);
    assert.equal(report?.distributions.find((d) => d.key === 'components'), undefined);
  });
});
