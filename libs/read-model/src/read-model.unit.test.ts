import assert from 'node:assert/strict';
import { completedChunks, jobStatus, openReadModel } from './index.js';

function seed(chunks: { id: string; status: string }[], job: { sealed?: number; failed?: string } = {}) {
  const db = openReadModel(':memory:');
  db.prepare(`INSERT INTO jobs (job_id, created_at, sealed_at, failed_at, total, error) VALUES ('j', 'x', ?, ?, ?, ?)`).run(
    job.sealed === undefined ? null : 'x',
    job.failed === undefined ? null : 'x',
    job.sealed ?? null,
    job.failed ?? null,
  );
  const put = db.prepare(`INSERT INTO chunks (job_id, chunk_id, name, status) VALUES ('j', ?, ?, ?)`);
  for (const c of chunks) put.run(c.id, `${c.id}.jpg`, c.status);
  return db;
}

describe('read model', () => {
  it('pages through every completed chunk of a large job in order, and only those', () => {
    const chunks = Array.from({ length: 1203 }, (_, i) => ({
      id: `c${String(i).padStart(7, '0')}`,
      status: i % 10 === 0 ? 'permanently_failed' : 'completed',
    }));
    const db = seed(chunks, { sealed: 1203 });
    const ids = [...completedChunks(db, 'j', 100)].map((c) => c.chunk_id);
    assert.deepEqual(ids, chunks.filter((c) => c.status === 'completed').map((c) => c.id));
  });

  it('says a job whose upload failed is failed once its chunks have finished, with the reason', () => {
    const db = seed([{ id: 'a', status: 'completed' }, { id: 'b', status: 'matted' }], { failed: 'the zip archive is damaged' });
    assert.deepEqual([jobStatus(db, 'j')?.state, jobStatus(db, 'j')?.done], ['failed', false]);
    db.prepare(`UPDATE chunks SET status = 'completed' WHERE chunk_id = 'b'`).run();
    const s = jobStatus(db, 'j');
    assert.deepEqual([s?.state, s?.done, s?.total, s?.error], ['failed', true, 2, 'the zip archive is damaged']);
  });

  it('keeps a sealed job processing until every chunk is completed or failed', () => {
    const db = seed([{ id: 'a', status: 'completed' }, { id: 'b', status: 'ingested' }], { sealed: 2 });
    const s = jobStatus(db, 'j');
    assert.deepEqual([s?.state, s?.progress, s?.counts], ['processing', 0.5, { completed: 1, ingested: 1 }]);
  });
});
