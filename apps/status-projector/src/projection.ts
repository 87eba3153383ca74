import type { PipelineEvent } from '@mesh/contracts';
import type { ChunkRow, Database, JobRow } from '@mesh/read-model';
import { createCallbackOutbox } from './callbacks.js';
import { evolveChunk, evolveJob } from './evolve.js';

/** Applies events to the SQLite read model, each stream sequence at most once. */
export interface Projection {
  /** True when the event changed the model, false when its sequence was already applied. */
  apply(seq: number, event: PipelineEvent): boolean;
}

const JOB_COLUMNS = [
  'job_id', 'created_at', 'sealed_at', 'failed_at', 'total', 'skipped', 'error', 'source', 'callback_url',
  'bytes_received', 'chunks_found', 'failure_kind',
] as const;
const CHUNK_COLUMNS = [
  'job_id', 'chunk_id', 'name', 'status', 'bytes', 'sha256', 'original_object', 'matte_object', 'cutout_object',
  'comparison_object', 'width', 'height', 'figures', 'failed_stage', 'error', 'dead_seq', 'updated_at',
] as const;

const upsert = (table: string, columns: readonly string[]) =>
  `INSERT OR REPLACE INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => '@' + c).join(', ')})`;

export function createProjection(db: Database): Projection {
  const applied = db.prepare('SELECT 1 FROM applied_events WHERE seq = ?');
  const markApplied = db.prepare('INSERT INTO applied_events (seq) VALUES (?)');
  const getJob = db.prepare('SELECT * FROM jobs WHERE job_id = ?');
  const getChunk = db.prepare('SELECT * FROM chunks WHERE job_id = ? AND chunk_id = ?');
  const putJob = db.prepare(upsert('jobs', JOB_COLUMNS));
  const putChunk = db.prepare(upsert('chunks', CHUNK_COLUMNS));
  const queueCallbacks = createCallbackOutbox(db);

  const apply = db.transaction((seq: number, event: PipelineEvent): boolean => {
    if (applied.get(seq)) return false;
    const job = evolveJob(getJob.get(event.job_id) as JobRow | undefined, event);
    putJob.run(job);
    if ('chunk_id' in event) {
      const row = evolveChunk(getChunk.get(event.job_id, event.chunk_id) as ChunkRow | undefined, event);
      if (row) putChunk.run(row);
    }
    queueCallbacks(job, event);
    markApplied.run(seq);
    return true;
  });
  return { apply: (seq, event) => apply(seq, event) };
}
