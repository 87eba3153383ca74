import { ChunkCompared, ChunkMatted, messageId, objects, parseEvent, subjects } from '@mesh/contracts';
import { readObject, writeObject, type StageContext } from '@mesh/nats';
import { composeComparison, type ComparisonInputs, type Comparison } from './compose.js';
import { matteFigures } from './figures.js';

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
  /** Clock for `compared_at`. */
  now?: () => Date;
}

/**
 * Handle one `chunk.matted`: read the original, matte and cut-out, write the comparison JPEG to
 * `objects.comparison(job, chunk)` and publish `chunk.compared` with the matte's figures.
 * Throws InvalidEventError, ObjectMissingError or UnsupportedImageError (all permanent) for input
 * no retry can fix; anything else is left to the consumer loop to retry.
 */
export function createComparisonHandler(deps: ComparisonHandlerDeps): (msg: EventMessage) => Promise<void> {
  const { store, publisher } = deps;
  const compose = deps.compose ?? composeComparison;
  const now = deps.now ?? (() => new Date());
  return async (msg) => {
    const event = parseEvent(ChunkMatted, msg.data, msg.subject);
    const { job_id: job, chunk_id: chunk } = event;
    const [original, matte, cutout] = await Promise.all([
      readObject(store, event.original_object),
      readObject(store, event.matte_object),
      readObject(store, event.cutout_object),
    ]);
    const comparison = await compose({ original, matte, cutout });
    const name = objects.comparison(job, chunk);
    // Written before the event, so whoever reads chunk.compared finds the object.
    await writeObject(store, name, comparison.jpeg);
    await publisher.publish(
      ChunkCompared,
      subjects.chunkCompared(job, chunk),
      {
        type: 'chunk.compared',
        job_id: job,
        chunk_id: chunk,
        name: event.name,
        comparison_object: name,
        figures: matteFigures(comparison.alpha),
        compared_at: now().toISOString(),
      },
      messageId('chunk.compared', job, chunk),
    );
  };
}
