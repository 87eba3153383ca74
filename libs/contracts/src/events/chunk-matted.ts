import { z } from 'zod';
import { ChunkId, JobId, Timestamp } from '../ids.js';

/** The matting model produced an alpha matte and a cut-out for one chunk. */
export const ChunkMatted = z.object({
  type: z.literal('chunk.matted'),
  job_id: JobId,
  chunk_id: ChunkId,
  name: z.string().min(1),
  /** Object-store name of the original, carried so the next stage needs no lookup. */
  original_object: z.string().min(1),
  /** 8-bit single-channel PNG at the original's (EXIF-oriented) size. */
  matte_object: z.string().min(1),
  /** RGBA PNG: the original's pixels with the matte as alpha. */
  cutout_object: z.string().min(1),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  inference_ms: z.number().nonnegative(),
  model: z.string(),
  matted_at: Timestamp,
});
export type ChunkMatted = z.infer<typeof ChunkMatted>;
