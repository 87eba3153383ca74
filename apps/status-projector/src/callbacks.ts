import type { PipelineEvent } from '@mesh/contracts';
import { jobStatus, type Database, type JobRow } from '@mesh/read-model';

/** Body of a callback POST. */
export type CallbackBody =
  | { type: 'job.finished'; job_id: string; status: NonNullable<ReturnType<typeof jobStatus>> }
  | { type: 'chunk.permanently_failed'; job_id: string; chunk_id: string; name: string | null; stage: string; reason: string };

/**
 * Writes the callbacks an event causes into the `notifications` outbox. Runs inside the
 * projection's transaction, so a callback is queued exactly when its event is applied; the unique
 * key keeps a redelivered event from queueing it twice.
 */
export function createCallbackOutbox(db: Database) {
  const insert = db.prepare(
    'INSERT OR IGNORE INTO notifications (job_id, key, url, body) VALUES (@job_id, @key, @url, @body)',
  );
  const chunkName = db.prepare('SELECT name FROM chunks WHERE job_id = ? AND chunk_id = ?');
  const queue = (job: JobRow, key: string, body: CallbackBody) =>
    insert.run({ job_id: job.job_id, key, url: job.callback_url, body: JSON.stringify(body) });

  return (job: JobRow, event: PipelineEvent): void => {
    if (!job.callback_url) return;
    if (event.type === 'chunk.dead_lettered') {
      const row = chunkName.get(event.job_id, event.chunk_id) as { name: string | null } | undefined;
      queue(job, `dead:${event.chunk_id}:${event.dead_seq}`, {
        type: 'chunk.permanently_failed',
        job_id: event.job_id,
        chunk_id: event.chunk_id,
        name: row?.name ?? null,
        stage: event.stage,
        reason: event.reason,
      });
    }
    const status = jobStatus(db, job.job_id);
    // Keyed on the final counts: a job that finishes again after a replay is announced again.
    if (status?.done) queue(job, `finished:${status.completed}:${status.failed}`, { type: 'job.finished', job_id: job.job_id, status });
  };
}
