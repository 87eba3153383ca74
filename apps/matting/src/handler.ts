import { ChunkIngested, ChunkMatted, messageId, objects, parseEvent, subjects } from '@mesh/contracts';
import { readObject, writeObject, type StageContext, type StageOptions } from '@mesh/nats';
import { prepareInput, renderOutputs } from './image.js';
import type { MatteModel } from './model.js';

// nats.js types come through @mesh/nats, so this app does not depend on nats.js directly.
type MessageHandler = Awaited<ReturnType<StageOptions['createHandler']>>;
type JsMsg = Parameters<MessageHandler>[0];

/** What the matting handler needs; the model is passed in so tests can use a fake. */
export interface MattingDeps extends Pick<StageContext, 'store' | 'publisher'> {
  model: Pick<MatteModel, 'name' | 'infer'>;
}

/**
 * Handle one `chunk.ingested`: read the original, run the model, store the matte and the cut-out,
 * publish `chunk.matted`. Throws UnsupportedImageError for images that do not decode (permanent);
 * anything else is left to the consumer loop to retry. Every write is idempotent, so a redelivery
 * after a crash overwrites the same objects and the publish is dropped as a duplicate.
 */
export function createMattingHandler(deps: MattingDeps): (msg: JsMsg) => Promise<void> {
  const { store, publisher, model } = deps;
  return async (msg) => {
    const event = parseEvent(ChunkIngested, msg.data, msg.subject);
    const { job_id: jobId, chunk_id: chunkId } = event;
    const original = await readObject(store, event.object);
    const input = await prepareInput(original);
    const started = performance.now();
    const matte = await model.infer(input.tensor);
    const inferenceMs = Math.round(performance.now() - started);
    const out = await renderOutputs(original, matte, input.width, input.height);
    const matteObject = objects.matte(jobId, chunkId);
    const cutoutObject = objects.cutout(jobId, chunkId);
    await writeObject(store, matteObject, out.matte);
    await writeObject(store, cutoutObject, out.cutout);
    await publisher.publish(
      ChunkMatted,
      subjects.chunkMatted(jobId, chunkId),
      {
        type: 'chunk.matted',
        job_id: jobId,
        chunk_id: chunkId,
        name: event.name,
        original_object: event.object,
        matte_object: matteObject,
        cutout_object: cutoutObject,
        width: input.width,
        height: input.height,
        inference_ms: inferenceMs,
        model: model.name,
        matted_at: new Date().toISOString(),
      },
      messageId('chunk.matted', jobId, chunkId),
    );
  };
}
