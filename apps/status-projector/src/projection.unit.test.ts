import assert from 'node:assert/strict';
import type { PipelineEvent } from '@mesh/contracts';
import { deadChunks, jobStatus, openReadModel } from '@mesh/read-model';
import { createProjection } from './projection.js';

const at = new Date(0).toISOString();
const ingested = (c: string): PipelineEvent => ({
  type: 'chunk.ingested', job_id: 'j', chunk_id: c, name: `${c}.jpg`, object: `j/${c}/original`,
  content_type: 'image/jpeg', bytes: 5, sha256: 'f'.repeat(64), ingested_at: at,
});
const matted = (c: string): PipelineEvent => ({
  type: 'chunk.matted', job_id: 'j', chunk_id: c, name: `${c}.jpg`, original_object: `j/${c}/original`,
  matte_object: `j/${c}/matte.png`, cutout_object: `j/${c}/cutout.png`, width: 4, height: 3,
  inference_ms: 1, model: 'm', matted_at: at,
});
const compared = (c: string): PipelineEvent => ({
  type: 'chunk.compared', job_id: 'j', chunk_id: c, name: `${c}.jpg`, comparison_object: `j/${c}/comparison.jpg`,
  figures: { foreground_fraction: 0.5, mean_alpha: 0.5, uncertain_fraction: 0 }, compared_at: at,
});
const attemptFailed = (c: string): PipelineEvent => ({
  type: 'chunk.attempt_failed', job_id: 'j', chunk_id: c, stage: 'matting', delivery: 1, permanent: true,
  error: 'cannot decode image', failed_at: at,
});
const deadLettered = (c: string, deadSeq = 7): PipelineEvent => ({
  type: 'chunk.dead_lettered', job_id: 'j', chunk_id: c, stage: 'matting', reason: 'cannot decode image',
  deliveries: 1, dead_subject: `dead.matting.j.${c}`, dead_seq: deadSeq, original_seq: 4, dead_lettered_at: at,
});
const replayed = (c: string): PipelineEvent => ({
  type: 'chunk.replayed', job_id: 'j', chunk_id: c, stage: 'matting', dead_seq: 7, replayed_at: at,
});
const history: PipelineEvent[] = [
  { type: 'job.created', job_id: 'j', created_at: at, source: ['photos.zip'] },
  ingested('a'), ingested('b'), ingested('c'),
  { type: 'job.sealed', job_id: 'j', total_chunks: 3, skipped: [{ name: 'notes.txt', reason: 'not an image' }], sealed_at: at },
  matted('a'), matted('b'), attemptFailed('c'), deadLettered('c'), compared('a'), compared('b'),
];

function dump(db: ReturnType<typeof openReadModel>) {
  return {
    jobs: db.prepare('SELECT * FROM jobs ORDER BY job_id').all(),
    chunks: db.prepare('SELECT * FROM chunks ORDER BY job_id, chunk_id').all(),
  };
}

describe('status projection', () => {
  it('folds a job to completed_with_failures with the failure reason', () => {
    const db = openReadModel(':memory:');
    const p = createProjection(db);
    history.forEach((e, i) => p.apply(i + 1, e));
    const s = jobStatus(db, 'j');
    assert.deepEqual(
      { state: s?.state, total: s?.total, completed: s?.completed, failed: s?.failed, progress: s?.progress, done: s?.done },
      { state: 'completed_with_failures', total: 3, completed: 2, failed: 1, progress: 1, done: true },
    );
    assert.deepEqual(s?.failures, [{ chunk_id: 'c', name: 'c.jpg', stage: 'matting', reason: 'cannot decode image' }]);
    assert.deepEqual(s?.skipped, [{ name: 'notes.txt', reason: 'not an image' }]);
  });

  it('should be idempotent if run twice', () => {
    const once = openReadModel(':memory:');
    const twice = openReadModel(':memory:');
    const p1 = createProjection(once);
    const p2 = createProjection(twice);
    history.forEach((e, i) => p1.apply(i + 1, e));
    history.forEach((e, i) => p2.apply(i + 1, e));
    const applied = history.map((e, i) => p2.apply(i + 1, e));
    assert.ok(applied.every((a) => a === false));
    assert.deepEqual(dump(twice), dump(once));
  });

  it('gives the same tables whatever order the chunk events arrive in', () => {
    const inOrder = openReadModel(':memory:');
    const reversed = openReadModel(':memory:');
    const a = createProjection(inOrder);
    const b = createProjection(reversed);
    history.forEach((e, i) => a.apply(i + 1, e));
    [...history].reverse().forEach((e, i) => b.apply(100 + i, e));
    assert.deepEqual(dump(reversed).chunks, dump(inOrder).chunks);
  });

  it('moves a dead-lettered chunk back in flight on replay, then to completed; counts stay right', () => {
    const db = openReadModel(':memory:');
    const p = createProjection(db);
    history.forEach((e, i) => p.apply(i + 1, e));
    assert.deepEqual(deadChunks(db, 'j'), [{ chunk_id: 'c', dead_seq: 7 }]);
    p.apply(50, replayed('c'));
    let s = jobStatus(db, 'j');
    assert.deepEqual([s?.state, s?.completed, s?.failed, s?.counts.replayed, s?.done], ['processing', 2, 0, 1, false]);
    p.apply(51, matted('c'));
    p.apply(52, compared('c'));
    s = jobStatus(db, 'j');
    assert.equal(s?.state, 'completed');
    assert.deepEqual([s?.completed, s?.failed, s?.failures.length], [3, 0, 0]);
    assert.deepEqual(deadChunks(db, 'j'), []);
  });

  it('dead-letters a replayed chunk again when it fails again', () => {
    const db = openReadModel(':memory:');
    const p = createProjection(db);
    history.forEach((e, i) => p.apply(i + 1, e));
    p.apply(50, replayed('c'));
    p.apply(51, deadLettered('c', 9));
    const s = jobStatus(db, 'j');
    assert.deepEqual([s?.state, s?.failed], ['completed_with_failures', 1]);
    assert.deepEqual(deadChunks(db, 'j'), [{ chunk_id: 'c', dead_seq: 9 }]);
  });

  it('ignores a replay of a chunk that is not dead', () => {
    const db = openReadModel(':memory:');
    const p = createProjection(db);
    history.forEach((e, i) => p.apply(i + 1, e));
    p.apply(50, replayed('a'));
    assert.equal(jobStatus(db, 'j')?.counts.completed, 2);
  });

  it('reports an unknown job as null and an unsealed one as uploading', () => {
    const db = openReadModel(':memory:');
    const p = createProjection(db);
    p.apply(1, history[0]!);
    p.apply(2, history[1]!);
    assert.equal(jobStatus(db, 'nope'), null);
    const s = jobStatus(db, 'j');
    assert.deepEqual([s?.state, s?.total, s?.done, s?.progress], ['uploading', 1, false, 0]);
  });
});
