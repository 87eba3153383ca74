import { z } from 'zod';
import { ChunkId, JobId, Timestamp } from '../ids.js';
import { Stage } from './stage.js';

/** A dead-lettered chunk was sent back to its stage; it is in flight again. */
export const ChunkReplayed = z.object({
  type: z.literal('chunk.replayed'),
  job_id: JobId,
  chunk_id: ChunkId,
  stage: Stage,
  dead_seq: z.number().int().positive(),
  replayed_at: Timestamp,
});
export type ChunkReplayed = z.infer<typeof ChunkReplayed>;
