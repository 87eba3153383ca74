import { z } from 'zod';
import { ChunkId, JobId, Timestamp } from '../ids.js';
import { Stage } from './stage.js';

/**
 * One delivery of a chunk failed at a stage. These events are the chunk's error history: the
 * dead-letter handler copies them next to the dead letter, and the user sees the last one.
 */
export const ChunkAttemptFailed = z.object({
  type: z.literal('chunk.attempt_failed'),
  job_id: JobId,
  chunk_id: ChunkId,
  stage: Stage,
  /** Delivery number that failed (1-based). */
  delivery: z.number().int().positive(),
  /** `true` when no retry can help (corrupt image, invalid event): dead-lettered at once. */
  permanent: z.boolean(),
  /** What went wrong, worded for the user. */
  error: z.string(),
  failed_at: Timestamp,
});
export type ChunkAttemptFailed = z.infer<typeof ChunkAttemptFailed>;
