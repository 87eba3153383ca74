import type { Database } from 'better-sqlite3';
import type { ChunkRow, ChunkStatus, JobRow } from './rows.js';

/** What a job is doing, as the user sees it. */
export type JobState = 'uploading' | 'processing' | 'completed' | 'completed_with_failures' | 'failed' | 'interrupted';

/** The answer of `GET /status/:job_id` and every SSE event. */
export interface JobStatus {
  job_id: string;
  state: JobState;
  /** Chunks the job has: final once the upload is sealed, the count so far while uploading. */
  total: number;
  sealed: boolean;
  completed: number;
  failed: number;
  /** (completed + failed) / total, 0..1. */
  progress: number;
  done: boolean;
  counts: Partial<Record<ChunkStatus, number>>;
  skipped: { name: string; reason: string }[];
  /** Why the upload itself failed, or where its archive was damaged. */
  error: string | null;
  /** Bytes of the upload received and images found so far (final once sealed). */
  upload: { bytes_received: number; chunks_found: number };
  /** Chunks that failed for good, with their stage and last error (at most 1000). */
  failures: { chunk_id: string; name: string | null; stage: string | null; reason: string | null }[];
}

/** Fold a job row and its chunk counts into the user's view. Null when the job is unknown. */
export function jobStatus(db: Database, jobId: string): JobStatus | null {
  const job = db.prepare('SELECT * FROM jobs WHERE job_id = ?').get(jobId) as JobRow | undefined;
  if (!job) return null;
  const rows = db
    .prepare('SELECT status, COUNT(*) AS n FROM chunks WHERE job_id = ? GROUP BY status')
    .all(jobId) as { status: ChunkStatus; n: number }[];
  const counts: Partial<Record<ChunkStatus, number>> = {};
  let seen = 0;
  for (const r of rows) {
    counts[r.status] = r.n;
    seen += r.n;
  }
  const completed = counts.completed ?? 0;
  const failed = counts.permanently_failed ?? 0;
  const sealed = job.sealed_at !== null;
  const uploadFailed = job.failed_at !== null;
  // A failed upload keeps the chunks it had: they are the job's total.
  const total = sealed && job.total !== null ? job.total : seen;
  const finished = completed + failed;
  const done = (sealed || uploadFailed) && finished >= total;
  let state: JobState;
  if (uploadFailed) state = job.failure_kind === 'interrupted' ? 'interrupted' : 'failed';
  else if (!sealed) state = 'uploading';
  else if (!done) state = 'processing';
  else state = failed > 0 ? 'completed_with_failures' : 'completed';
  const failures = db
    .prepare(
      `SELECT chunk_id, name, failed_stage AS stage, error AS reason FROM chunks
       WHERE job_id = ? AND status = 'permanently_failed' ORDER BY chunk_id LIMIT 1000`,
    )
    .all(jobId) as JobStatus['failures'];
  return {
    job_id: jobId,
    state,
    total,
    sealed,
    completed,
    failed,
    progress: total > 0 ? Math.min(1, finished / total) : done ? 1 : 0,
    done,
    counts,
    skipped: JSON.parse(job.skipped) as JobStatus['skipped'],
    error: job.error,
    upload: { bytes_received: job.bytes_received, chunks_found: job.chunks_found },
    failures,
  };
}

/** Dead-lettered chunks of a job with their DEAD-stream sequence, for replay. */
export function deadChunks(db: Database, jobId: string): { chunk_id: string; dead_seq: number }[] {
  return db
    .prepare(
      `SELECT chunk_id, dead_seq FROM chunks
       WHERE job_id = ? AND status = 'permanently_failed' AND dead_seq IS NOT NULL ORDER BY chunk_id`,
    )
    .all(jobId) as { chunk_id: string; dead_seq: number }[];
}

/** Completed chunks of a job in a stable order, a page at a time (a job can hold 100,000). */
export function* completedChunks(db: Database, jobId: string, pageSize = 500): Generator<ChunkRow> {
  const page = db.prepare(
    `SELECT * FROM chunks WHERE job_id = ? AND status = 'completed' AND chunk_id > ? ORDER BY chunk_id LIMIT ?`,
  );
  let after = '';
  for (;;) {
    const rows = page.all(jobId, after, pageSize) as ChunkRow[];
    for (const r of rows) yield r;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.chunk_id;
  }
}
