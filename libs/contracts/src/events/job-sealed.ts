import { z } from 'zod';
import { JobId, Timestamp } from '../ids.js';

/** The upload ended: the job will have exactly `total_chunks` chunks. */
export const JobSealed = z.object({
  type: z.literal('job.sealed'),
  job_id: JobId,
  total_chunks: z.number().int().nonnegative(),
  /** Entries of the upload that were not images, with why they were skipped. */
  skipped: z.array(z.object({ name: z.string(), reason: z.string() })).max(10000),
  sealed_at: Timestamp,
  /** The archive was damaged here: the chunks read before the damage are the job. */
  archive_error: z.string().optional(),
});
export type JobSealed = z.infer<typeof JobSealed>;
