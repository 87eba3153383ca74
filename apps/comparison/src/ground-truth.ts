import sharp from 'sharp';
import type { GroundTruthMetrics } from '@mesh/contracts';
import { groundTruthMetrics } from './metrics.js';

/** Metrics against a ground truth, or why the ground truth could not be used. */
export type GroundTruthOutcome = { metrics: GroundTruthMetrics } | { error: string };

/**
 * Decode a ground-truth matte (its first channel: a greyscale PNG, or RGB with equal channels;
 * EXIF orientation applied) and measure `alpha` against it. A ground truth that cannot be decoded
 * or whose size differs from the matte's is reported, not thrown: the chunk itself is fine.
 */
export async function measureAgainstGroundTruth(
  gt: Buffer,
  alpha: Uint8Array,
  width: number,
  height: number,
): Promise<GroundTruthOutcome> {
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    decoded = await sharp(gt).rotate().extractChannel(0).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    return { error: `the ground-truth matte cannot be decoded: ${err instanceof Error ? err.message : String(err)}` };
  }
  const { width: gw, height: gh } = decoded.info;
  if (gw !== width || gh !== height) {
    return { error: `the ground-truth matte is ${gw}x${gh}, the image is ${width}x${height}` };
  }
  const gtAlpha = new Uint8Array(decoded.data.buffer, decoded.data.byteOffset, decoded.data.byteLength);
  return { metrics: groundTruthMetrics(alpha, gtAlpha, width, height) };
}
