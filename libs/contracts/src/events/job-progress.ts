import { z } from 'zod';
import { JobId, Timestamp } from '../ids.js';

/** While an upload streams in: how far it got. Published about once a second by the gateway. */
export const JobProgress = z.object({
  type: z.literal('job.progress'),
  job_id: JobId,
  bytes_received: z.number().int().nonnegative(),
  chunks_found: z.number().int().nonnegative(),
  at: Timestamp,
});
export type JobProgress = z.infer<typeof JobProgress>;
