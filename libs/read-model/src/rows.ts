/**
 * Where one chunk stands. `permanently_failed` chunks sit in the DEAD stream; a replay moves them
 * to `replayed`, and from there on like any other chunk.
 */
export type ChunkStatus = 'replayed' | 'ingested' | 'matted' | 'permanently_failed' | 'completed';

/**
 * Forward order of chunk states; an event never moves a chunk backwards. The one way back is a
 * replay, which only takes a `permanently_failed` chunk to `replayed`.
 */
export const chunkRank: Readonly<Record<ChunkStatus, number>> = {
  replayed: 0,
  ingested: 1,
  matted: 2,
  permanently_failed: 3,
  completed: 4,
};

export interface JobRow {
  job_id: string;
  created_at: string | null;
  sealed_at: string | null;
  failed_at: string | null;
  total: number | null;
  /** JSON array of { name, reason }. */
  skipped: string;
  error: string | null;
  /** JSON array of uploaded file names. */
  source: string;
  /** Where to POST on completion and on permanent failures, if the upload asked. */
  callback_url: string | null;
  /** Upload progress while the bytes arrive. */
  bytes_received: number;
  chunks_found: number;
  /** Why the upload failed: `rejected`, `interrupted` or `too_large`. */
  failure_kind: string | null;
}

export interface ChunkRow {
  job_id: string;
  chunk_id: string;
  name: string | null;
  status: ChunkStatus;
  bytes: number | null;
  sha256: string | null;
  original_object: string | null;
  matte_object: string | null;
  cutout_object: string | null;
  comparison_object: string | null;
  width: number | null;
  height: number | null;
  /** JSON of MatteFigures plus chunk.compared's ground_truth, ground_truth_error and thumbnail_object (see StoredFigures). */
  figures: string | null;
  failed_stage: string | null;
  /** The last error: of the latest failed attempt, or why the chunk was dead-lettered. */
  error: string | null;
  /** Sequence of the chunk's latest dead letter in the DEAD stream. */
  dead_seq: number | null;
  updated_at: string | null;
}
