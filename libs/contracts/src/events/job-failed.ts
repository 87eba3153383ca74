import { z } from 'zod';
import { JobId, Timestamp } from '../ids.js';

/** The upload itself failed (bad archive, client gone); chunks already ingested still run. */
export const JobFailed = z.object({
  type: z.literal('job.failed'),
  job_id: JobId,
  reason: z.string(),
  /** `interrupted`: the client went away; `too_large`: past MAX_UPLOAD_SIZE (its chunks removed). */
  kind: z.enum(['rejected', 'interrupted', 'too_large']).default('rejected'),
  failed_at: Timestamp,
});
export type JobFailed = z.infer<typeof JobFailed>;
