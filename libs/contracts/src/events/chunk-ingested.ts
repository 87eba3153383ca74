import { z } from 'zod';
import { ChunkId, JobId, Timestamp } from '../ids.js';
import { CutoutFormat } from './job-created.js';

/** One image of an upload is stored in the object store and waits for matting. */
export const ChunkIngested = z.object({
  type: z.literal('chunk.ingested'),
  job_id: JobId,
  chunk_id: ChunkId,
  /** Relative path of the image inside the upload, as the user named it. */
  name: z.string().min(1).max(4096),
  /** Object-store name of the original bytes. */
  object: z.string().min(1),
  content_type: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  /** Hex SHA-256 of the original bytes. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  ingested_at: Timestamp,
  /** The job's cut-out format, carried on each chunk so the matting worker needs no lookup; absent means PNG. */
  cutout_format: CutoutFormat.optional(),
});
export type ChunkIngested = z.infer<typeof ChunkIngested>;
