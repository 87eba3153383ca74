import { z } from 'zod';
import { JobId, Timestamp } from '../ids.js';

/** The upload itself failed (bad archive, client gone); chunks already ingested still run. */
export const JobFailed = z.object({
  type: z.literal('job.failed'),
  job_id: JobId,
  reason: z.string(),
  failed_at: Timestamp,
});
export type JobFailed = z.infer<typeof JobFailed>;
