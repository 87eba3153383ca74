import { ChunkIngested, ChunkMatted, messageId, objects, parseEvent, subjects } from '@mesh/contracts';
import { readObject, writeObject, type StageContext, type StageOptions } from '@mesh/nats';
import { classifyInferenceError } from './failures.js';
import { DEFAULT_MAX_PIXELS, prepareInput, renderOutputs, type ImageLimits } from './image.js';
import type { FaultInjector } from './fault-injection.js';
import type { MatteModel } from './model.js';

// nats.js types come through @mesh/nats, so this app does not depend on nats.js directly.
type MessageHandler = Awaited<ReturnType<StageOptions['createHandler']>>;
type JsMsg = Parameters<MessageHandler>[0];

/** What the matting handler needs; the model is passed in so tests can use a fake. */
export interface MattingDeps extends Pick<StageContext, 'store' | 'publisher'> {
  model: Pick<MatteModel, 'name' | 'infer'>;
  /** MATTING_MAX_PIXELS; defaults to the config's default. */
  limits?: ImageLimits;
  /** Test-only: MATTING_FAULT_INJECTION (see fault-injection.ts). */
  injectFault?: FaultInjector;
}

/**
 * Handle one `chunk.ingested`: read the original, run the model, store the matte and the cut-out,
 * publish `chunk.matted`. Throws UnsupportedImageError (permanent, its reason reaches the user) for
 * bytes that are not a supported image or exceed MATTING_MAX_PIXELS; a failed model run becomes a
 * RetryableError (see classifyInferenceError); anything else is left to the consumer loop to retry.
 * Every write is idempotent, so a redelivery after a crash overwrites the same objects and the
 * publish is dropped as a duplicate.
 */
export function createMattingHandler(deps: MattingDeps): (msg: JsMsg) => Promise<void> {
  const { store, publisher, model } = deps;
  const limits = deps.limits ?? { maxPixels: DEFAULT_MAX_PIXELS };
  return async (msg) => {
    const event = parseEvent(ChunkIngested, msg.data, msg.subject);
    const { job_id: jobId, chunk_id: chunkId } = event;
    const original = await readObject(store, event.object);
    const input = await prepareInput(original, limits);
    const started = performance.now();
    const matte = await (async () => {
      deps.injectFault?.(event.name);
      return model.infer(input.tensor);
    })().catch((err: unknown) => {
      throw classifyInferenceError(err);
    });
    const inferenceMs = Math.round(performance.now() - started);
    const cutoutFormat = event.cutout_format ?? 'png';
    const out = await renderOutputs(original, matte, input, limits, cutoutFormat);
    const matteObject = objects.matte(jobId, chunkId);
    const cutoutObject = objects.cutout(jobId, chunkId, cutoutFormat);
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
