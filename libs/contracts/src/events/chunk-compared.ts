import { z } from 'zod';
import { ChunkId, JobId, Timestamp } from '../ids.js';

/** Flags a reviewer filters on, all computed from the matte alone. */
export const MatteFlag = z.enum(['empty', 'full_frame', 'fragmented']);
export type MatteFlag = z.infer<typeof MatteFlag>;

/** The subject's bounding box in matte pixels (the EXIF-oriented original's frame). */
export const BoundingBox = z.object({
  x: z.number().int().nonnegative(),
  y: z.number().int().nonnegative(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});
export type BoundingBox = z.infer<typeof BoundingBox>;

/**
 * Figures computed from the matte alone. The first three were in the first version of the event;
 * the rest are optional so events stored before them still parse.
 */
export const MatteFigures = z.object({
  foreground_fraction: z.number().min(0).max(1),
  mean_alpha: z.number().min(0).max(1),
  uncertain_fraction: z.number().min(0).max(1),
  /** Box around every pixel with alpha >= 128; null when there is none. */
  bbox: BoundingBox.nullable().optional(),
  /** Connected pieces (8-connected, alpha >= 128) larger than a speck. */
  components: z.number().int().nonnegative().optional(),
  flags: z.array(MatteFlag).optional(),
});
export type MatteFigures = z.infer<typeof MatteFigures>;

/**
 * The standard matting errors with the scalings of Deep Image Matting (Xu et al., 2017) and
 * AIM-500: SAD / 1000, MSE x 1e3, gradient error / 1000, connectivity error / 1000.
 */
export const MattingErrors = z.object({
  sad: z.number().nonnegative(),
  mse: z.number().nonnegative(),
  grad: z.number().nonnegative(),
  conn: z.number().nonnegative(),
});
export type MattingErrors = z.infer<typeof MattingErrors>;

/** The matte measured against a ground-truth matte the upload carried. */
export const GroundTruthMetrics = z.object({
  /** Every pixel of the image. */
  whole: MattingErrors,
  /** The unknown band: pixels near the ground truth's edge or partial alpha (a trimap's grey). */
  unknown: MattingErrors,
  unknown_pixels: z.number().int().nonnegative(),
  /** Half-width in pixels of the band around the ground truth's edge. */
  band_radius: z.number().int().nonnegative(),
});
export type GroundTruthMetrics = z.infer<typeof GroundTruthMetrics>;

/** The comparison image of one chunk is written: the chunk is complete. */
export const ChunkCompared = z.object({
  type: z.literal('chunk.compared'),
  job_id: JobId,
  chunk_id: ChunkId,
  name: z.string().min(1),
  comparison_object: z.string().min(1),
  /** A small JPEG of the comparison for reports (absent in events older than reports). */
  thumbnail_object: z.string().min(1).optional(),
  figures: MatteFigures,
  /** Present when the upload carried a usable ground-truth matte for this image. */
  ground_truth: GroundTruthMetrics.optional(),
  /** Why a ground-truth matte that was present could not be used (wrong size, undecodable). */
  ground_truth_error: z.string().optional(),
  compared_at: Timestamp,
});
export type ChunkCompared = z.infer<typeof ChunkCompared>;
