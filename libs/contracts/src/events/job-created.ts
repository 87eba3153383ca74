import { z } from 'zod';
import { JobId, Timestamp } from '../ids.js';

/** A job was opened by an upload; its chunks follow. */
export const JobCreated = z.object({
  type: z.literal('job.created'),
  job_id: JobId,
  created_at: Timestamp,
  /** What the user sent: the names of the multipart files. */
  source: z.array(z.string()).max(1000),
  /** Where to POST when the job finishes and when one of its chunks fails for good. */
  callback_url: z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .optional(),
});
export type JobCreated = z.infer<typeof JobCreated>;
