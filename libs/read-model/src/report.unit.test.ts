import assert from 'node:assert/strict';
import { buildReport, summarise, type StoredFigures } from './report.js';
import type { ChunkRow } from './rows.js';
import type { JobStatus } from './status.js';

const status: JobStatus = {
  job_id: 'j',
  state: 'completed_with_failures',
  total: 5,
  sealed: true,
  completed: 4,
  failed: 1,
  progress: 1,
  done: true,
  counts: { completed: 4 },
  skipped: [{ name: 'notes.txt', reason: 'not an image' }],
  error: null,
  upload: { bytes_received: 0, chunks_found: 0 },
  failures: [],
};

function row(id: string, f: StoredFigures | null): ChunkRow {
  return {
    job_id: 'j', chunk_id: id, name: `${id}.jpg`, status: 'completed', bytes: 1, sha256: null, original_object: null,
    matte_object: null, cutout_object: null, comparison_object: `j/${id}/comparison.jpg`, width: 4, height: 3,
    figures: f === null ? null : JSON.stringify(f), failed_stage: null, error: null, updated_at: null,
  } as ChunkRow;
}
const errors = (v: number) => ({ sad: v, mse: v * 10, grad: v / 2, conn: v / 4 });
const figures = (fg: number, uncertain: number, components: number, flags: string[], gt?: number): StoredFigures => ({
  foreground_fraction: fg,
  mean_alpha: fg,
  uncertain_fraction: uncertain,
  bbox: null,
  components,
  flags,
  thumbnail_object: `thumb-${fg}`,
  ...(gt === undefined ? {} : { ground_truth: { whole: errors(gt), unknown: errors(gt * 2), unknown_pixels: 3, band_radius: 1 } }),
});

describe('job report', () => {
  const rows = [
    row('a', figures(0.05, 0.01, 1, [], 4)),
    row('b', figures(0.45, 0.3, 7, ['fragmented'], 1)),
    row('c', figures(1, 0, 1, ['full_frame'])),
    row('d', { ...figures(0, 0, 0, ['empty']), ground_truth_error: 'the ground-truth matte is 2x2, the image is 4x3' }),
    row('e', null),
  ];
  const failed = [{ chunk_id: 'f', name: 'f.jpg', stage: 'matting', reason: 'the original cannot be decoded' }];
  const report = buildReport(status, rows, failed, { worstCount: 2, now: () => new Date(0) });

  it('totals the job: measured, flagged and ground-truth chunks, per flag', () => {
    assert.deepEqual(report.totals, { total: 5, completed: 4, failed: 1, measured: 4, flagged: 3, with_ground_truth: 2, skipped: 1 });
    assert.deepEqual(report.flags, { empty: 1, full_frame: 1, fragmented: 1 });
  });

  it('bins fractions on [0, 1] in ten equal bins, the upper edge in the last', () => {
    const fg = report.distributions.find((d) => d.key === 'foreground_fraction')!;
    // 0 and 0.05 -> bin 0; 0.45 -> bin 4; 1 -> bin 9.
    assert.deepEqual(fg.bins.map((b) => b.count), [2, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    assert.deepEqual([fg.bins[4]!.from, fg.bins[4]!.to], [0.4, 0.5]);
    assert.deepEqual([fg.count, fg.min, fg.max, fg.median], [4, 0, 1, (0.05 + 0.45) / 2]);
    assert.equal(fg.mean, (0.05 + 0.45 + 1 + 0) / 4);
  });

  it('bins open-ended metrics on [0, max] and only over chunks that have them', () => {
    const sad = report.distributions.find((d) => d.key === 'gt.whole.sad')!;
    assert.equal(sad.count, 2);
    assert.deepEqual([sad.bins[0]!.from, sad.bins.at(-1)!.to], [0, 4]);
    assert.deepEqual(sad.bins.map((b) => b.count), [0, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('lists the worst chunks by each metric, worst first, with their thumbnails', () => {
    const byKey = Object.fromEntries(report.worst.map((w) => [w.key, w.chunks.map((c) => [c.chunk_id, c.value, c.thumbnail_object])]));
    assert.deepEqual(byKey['uncertain_fraction'], [['b', 0.3, 'thumb-0.45'], ['a', 0.01, 'thumb-0.05']]);
    assert.deepEqual(byKey['gt.unknown.mse'], [['a', 80, 'thumb-0.05'], ['b', 20, 'thumb-0.45']]);
    assert.equal(byKey['foreground_fraction'], undefined, 'no worse direction, no worst list');
  });

  it('lists every flagged and failed chunk and every unusable ground truth with its reason', () => {
    assert.deepEqual(report.flagged.map((f) => [f.name, f.flags]), [['b.jpg', ['fragmented']], ['c.jpg', ['full_frame']], ['d.jpg', ['empty']]]);
    assert.deepEqual(report.failed, failed);
    assert.deepEqual(report.ground_truth_errors, [{ chunk_id: 'd', name: 'd.jpg', reason: 'the ground-truth matte is 2x2, the image is 4x3' }]);
    assert.deepEqual(report.skipped, status.skipped);
  });

  it('summarises the report for /status: means and flag counts', () => {
    const s = summarise(report);
    assert.equal(s.measured, 4);
    assert.equal(s.with_ground_truth, 2);
    assert.deepEqual(s.flags, { empty: 1, full_frame: 1, fragmented: 1 });
    assert.equal(s.mean['gt.whole.conn'], (1 + 0.25) / 2);
  });

  it('keeps only N worst of a large job', () => {
    const many = Array.from({ length: 1000 }, (_, i) => row(`c${String(i).padStart(4, '0')}`, figures(0.5, (i * 7919) % 1000 / 1000, 1, [])));
    const big = buildReport(status, many, [], { worstCount: 3 });
    const list = big.worst.find((w) => w.key === 'uncertain_fraction')!.chunks.map((c) => c.value);
    assert.deepEqual(list, [0.999, 0.998, 0.997]);
  });
});
