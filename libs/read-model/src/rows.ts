/** Where one chunk stands. `failed` may still move to `completed` when a replay succeeds. */
export type ChunkStatus = 'ingested' | 'matted' | 'failed' | 'completed';

/** Forward order of chunk states; an event never moves a chunk backwards. */
export const chunkRank: Readonly<Record<ChunkStatus, number>> = { ingested: 1, matted: 2, failed: 3, completed: 4 };

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
  /** JSON of MatteFigures. */
  figures: string | null;
  failed_stage: string | null;
  error: string | null;
  updated_at: string | null;
}
