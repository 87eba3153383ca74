import { z } from 'zod';
import { JobId, Timestamp } from '../ids.js';

/**
 * The cut-out's file format, chosen per job: PNG (the default) or lossless WebP (about a quarter of
 * the PNG's size; every visible pixel is the original's).
 */
export const CutoutFormat = z.enum(['png', 'webp']);
export type CutoutFormat = z.infer<typeof CutoutFormat>;

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
  /** Format of the job's cut-outs; absent means PNG. */
  cutout_format: CutoutFormat.optional(),
});
export type JobCreated = z.infer<typeof JobCreated>;
