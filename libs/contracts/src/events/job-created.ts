import { z } from 'zod';
import { JobId, Timestamp } from '../ids.js';

/** A job was opened by an upload; its chunks follow. */
export const JobCreated = z.object({
  type: z.literal('job.created'),
  job_id: JobId,
  created_at: Timestamp,
  /** What the user sent: the names of the multipart files. */
  source: z.array(z.string()).max(1000),
});
export type JobCreated = z.infer<typeof JobCreated>;
