import { z } from 'zod';
import { ChunkId, JobId, Timestamp } from '../ids.js';
import { Stage } from './stage.js';

/**
 * A chunk's event was given up on by a stage (terminated, or out of deliveries) and copied into the
 * DEAD stream, from where an operator or the user can replay it.
 */
export const ChunkDeadLettered = z.object({
  type: z.literal('chunk.dead_lettered'),
  job_id: JobId,
  chunk_id: ChunkId,
  stage: Stage,
  /** The last error, worded for the user. */
  reason: z.string(),
  deliveries: z.number().int().nonnegative(),
  /** Where the copy lies: subject and sequence in the DEAD stream. */
  dead_subject: z.string(),
  dead_seq: z.number().int().positive(),
  /** Sequence of the original event in the events stream. */
  original_seq: z.number().int().positive(),
  dead_lettered_at: Timestamp,
});
export type ChunkDeadLettered = z.infer<typeof ChunkDeadLettered>;
