import { ChunkCompared, ChunkMatted, messageId, objects, parseEvent, subjects } from '@mesh/contracts';
import { readObject, writeObject, type StageContext } from '@mesh/nats';
import { composeComparison, type ComparisonInputs, type Comparison } from './compose.js';
import { matteFigures } from './figures.js';
import { measureAgainstGroundTruth, type GroundTruthOutcome } from './ground-truth.js';

/** What the handler reads of a JetStream message; a `JsMsg` fits. */
export interface EventMessage {
  readonly subject: string;
  readonly data: Uint8Array;
}

export interface ComparisonHandlerDeps {
  store: StageContext['store'];
  publisher: StageContext['publisher'];
  /** Image composition; replaceable so the handler can be tested without sharp. */
  compose?: (inputs: ComparisonInputs) => Promise<Comparison>;
  /** Ground-truth measurement; replaceable for the same reason. */
  measure?: (gt: Buffer, alpha: Uint8Array, width: number, height: number) => Promise<GroundTruthOutcome>;
  /** Clock for `compared_at`. */
  now?: () => Date;
}

/**
 * Handle one `chunk.matted`: read the original, matte and cut-out (and the ground-truth matte at
 * `objects.groundTruth(job, chunk)` if the upload carried one), write the comparison JPEG and its
 * thumbnail, and publish `chunk.compared` with the matte's figures and any ground-truth metrics.
 * Throws InvalidEventError, ObjectMissingError or UnsupportedImageError (all permanent) for input
 * no retry can fix; anything else is left to the consumer loop to retry.
 */
export function createComparisonHandler(deps: ComparisonHandlerDeps): (msg: EventMessage) => Promise<void> {
  const { store, publisher } = deps;
  const compose = deps.compose ?? composeComparison;
  const measure = deps.measure ?? measureAgainstGroundTruth;
  const now = deps.now ?? (() => new Date());
  return async (msg) => {
    const event = parseEvent(ChunkMatted, msg.data, msg.subject);
    const { job_id: job, chunk_id: chunk } = event;
    const [original, matte, cutout, gt] = await Promise.all([
      readObject(store, event.original_object),
      readObject(store, event.matte_object),
      readObject(store, event.cutout_object),
      // The gateway stores a ground truth before it publishes the chunk: absent means none.
      store.getBlob(objects.groundTruth(job, chunk)),
    ]);
    const comparison = await compose({ original, matte, cutout });
    const figures = matteFigures(comparison.alpha, comparison.matteWidth, comparison.matteHeight);
    const measured =
      gt === null
        ? undefined
        : await measure(Buffer.from(gt.buffer, gt.byteOffset, gt.byteLength), comparison.alpha, comparison.matteWidth, comparison.matteHeight);
    const name = objects.comparison(job, chunk);
    const thumbnail = objects.thumbnail(job, chunk);
    // Written before the event, so whoever reads chunk.compared finds the objects.
    await Promise.all([writeObject(store, name, comparison.jpeg), writeObject(store, thumbnail, comparison.thumbnail)]);
    await publisher.publish(
      ChunkCompared,
      subjects.chunkCompared(job, chunk),
      {
        type: 'chunk.compared',
        job_id: job,
        chunk_id: chunk,
        name: event.name,
        comparison_object: name,
        thumbnail_object: thumbnail,
        figures,
        ...(measured && 'metrics' in measured ? { ground_truth: measured.metrics } : {}),
        ...(measured && 'error' in measured ? { ground_truth_error: measured.error } : {}),
        compared_at: now().toISOString(),
      },
      messageId('chunk.compared', job, chunk),
    );
  };
}
