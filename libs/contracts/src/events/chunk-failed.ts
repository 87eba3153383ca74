import { z } from 'zod';
import { ChunkId, JobId, Timestamp } from '../ids.js';

export const Stage = z.enum(['matting', 'comparison']);
export type Stage = z.infer<typeof Stage>;

/** A chunk failed for good at one stage: permanently, or after its last delivery. */
export const ChunkFailed = z.object({
  type: z.literal('chunk.failed'),
  job_id: JobId,
  chunk_id: ChunkId,
  stage: Stage,
  /** What went wrong, worded for the user. */
  reason: z.string(),
  /** `permanent` for bad input, `exhausted` when retries ran out. */
  kind: z.enum(['permanent', 'exhausted']),
  deliveries: z.number().int().positive(),
  failed_at: Timestamp,
});
export type ChunkFailed = z.infer<typeof ChunkFailed>;
