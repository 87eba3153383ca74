import type { PipelineEvent } from '@mesh/contracts';
import { chunkRank, type ChunkRow, type ChunkStatus, type JobRow } from '@mesh/read-model';

const emptyJob = (jobId: string): JobRow => ({
  job_id: jobId,
  created_at: null,
  sealed_at: null,
  failed_at: null,
  total: null,
  skipped: '[]',
  error: null,
  source: '[]',
  callback_url: null,
  bytes_received: 0,
  chunks_found: 0,
  failure_kind: null,
});

const emptyChunk = (jobId: string, chunkId: string): ChunkRow => ({
  job_id: jobId,
  chunk_id: chunkId,
  name: null,
  status: 'ingested',
  bytes: null,
  sha256: null,
  original_object: null,
  matte_object: null,
  cutout_object: null,
  comparison_object: null,
  width: null,
  height: null,
  figures: null,
  failed_stage: null,
  error: null,
  dead_seq: null,
  updated_at: null,
});

/** The later of two states: events may arrive out of order, a chunk never moves backwards. */
function advance(current: ChunkStatus, next: ChunkStatus): ChunkStatus {
  return chunkRank[next] >= chunkRank[current] ? next : current;
}

/** Pure fold of one job-level event into its job row. */
export function evolveJob(row: JobRow | undefined, event: PipelineEvent): JobRow {
  const job = row ?? emptyJob(event.job_id);
  switch (event.type) {
    case 'job.created':
      return {
        ...job,
        created_at: event.created_at,
        source: JSON.stringify(event.source),
        callback_url: event.callback_url ?? null,
      };
    case 'job.sealed':
      return {
        ...job,
        sealed_at: event.sealed_at,
        total: event.total_chunks,
        skipped: JSON.stringify(event.skipped),
        chunks_found: event.total_chunks,
        error: event.archive_error ?? job.error,
      };
    case 'job.failed':
      return { ...job, failed_at: event.failed_at, error: event.reason, failure_kind: event.kind };
    case 'job.progress':
      // Progress events can arrive late: keep the furthest.
      return {
        ...job,
        bytes_received: Math.max(job.bytes_received, event.bytes_received),
        chunks_found: Math.max(job.chunks_found, event.chunks_found),
      };
    case 'chunk.ingested':
    case 'chunk.matted':
    case 'chunk.compared':
    case 'chunk.attempt_failed':
    case 'chunk.dead_lettered':
    case 'chunk.replayed':
      return job;
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

/** Pure fold of one chunk-level event into its chunk row; job events return the row unchanged. */
export function evolveChunk(row: ChunkRow | undefined, event: PipelineEvent): ChunkRow | undefined {
  switch (event.type) {
    case 'job.created':
    case 'job.sealed':
    case 'job.failed':
    case 'job.progress':
      return row;
    case 'chunk.ingested': {
      const c = row ?? emptyChunk(event.job_id, event.chunk_id);
      return {
        ...c,
        status: advance(c.status, 'ingested'),
        name: event.name,
        bytes: event.bytes,
        sha256: event.sha256,
        original_object: event.object,
        updated_at: event.ingested_at,
      };
    }
    case 'chunk.matted': {
      const c = row ?? emptyChunk(event.job_id, event.chunk_id);
      return {
        ...c,
        status: advance(c.status, 'matted'),
        name: c.name ?? event.name,
        original_object: c.original_object ?? event.original_object,
        matte_object: event.matte_object,
        cutout_object: event.cutout_object,
        width: event.width,
        height: event.height,
        updated_at: event.matted_at,
      };
    }
    case 'chunk.compared': {
      const c = row ?? emptyChunk(event.job_id, event.chunk_id);
      return {
        ...c,
        status: advance(c.status, 'completed'),
        name: c.name ?? event.name,
        comparison_object: event.comparison_object,
        // One JSON column for everything measured: the matte's figures, the ground-truth metrics
        // (or why the ground truth was unusable) and the report thumbnail, as read-model's StoredFigures.
        figures: JSON.stringify({
          ...event.figures,
          ...(event.ground_truth ? { ground_truth: event.ground_truth } : {}),
          ...(event.ground_truth_error ? { ground_truth_error: event.ground_truth_error } : {}),
          ...(event.thumbnail_object ? { thumbnail_object: event.thumbnail_object } : {}),
        }),
        // A chunk that completes after a replay no longer carries its old failure.
        failed_stage: null,
        error: null,
        dead_seq: null,
        updated_at: event.compared_at,
      };
    }
    case 'chunk.attempt_failed': {
      // History, not a state change: the chunk is retried; the user sees its last error.
      const c = row ?? emptyChunk(event.job_id, event.chunk_id);
      if (c.status === 'completed') return c;
      return { ...c, failed_stage: event.stage, error: event.error };
    }
    case 'chunk.dead_lettered': {
      const c = row ?? emptyChunk(event.job_id, event.chunk_id);
      const status = advance(c.status, 'permanently_failed');
      if (status !== 'permanently_failed') return c;
      return {
        ...c,
        status,
        failed_stage: event.stage,
        error: event.reason,
        dead_seq: event.dead_seq,
        updated_at: event.dead_lettered_at,
      };
    }
    case 'chunk.replayed': {
      // The one move backwards: a dead chunk sent back to its stage is in flight again.
      const c = row ?? emptyChunk(event.job_id, event.chunk_id);
      if (c.status !== 'permanently_failed') return c;
      return { ...c, status: 'replayed', updated_at: event.replayed_at };
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}
