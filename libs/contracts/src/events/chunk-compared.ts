import { z } from 'zod';
import { ChunkId, JobId, Timestamp } from '../ids.js';

/** Figures computed from the matte alone. */
export const MatteFigures = z.object({
  foreground_fraction: z.number().min(0).max(1),
  mean_alpha: z.number().min(0).max(1),
  uncertain_fraction: z.number().min(0).max(1),
});
export type MatteFigures = z.infer<typeof MatteFigures>;

/** The comparison image of one chunk is written: the chunk is complete. */
export const ChunkCompared = z.object({
  type: z.literal('chunk.compared'),
  job_id: JobId,
  chunk_id: ChunkId,
  name: z.string().min(1),
  comparison_object: z.string().min(1),
  figures: MatteFigures,
  compared_at: Timestamp,
});
export type ChunkCompared = z.infer<typeof ChunkCompared>;
