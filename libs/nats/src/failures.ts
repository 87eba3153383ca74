import type { JsMsg } from '@nats-io/jetstream';
import { ChunkFailed, messageId, subjects, type Stage } from '@mesh/contracts';
import type { FailureKind } from './consumer-loop.js';
import type { EventPublisher } from './publish.js';

/** Wording a user reads: the error's message without internal prefixes. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * The `onFailure` of a chunk stage: publishes `chunk.failed` for the chunk the message names.
 * The ids come from the subject (`chunk.<event>.<job>.<chunk>`), so even a body that failed its
 * schema is reported against the right chunk.
 */
export function chunkFailureReporter(publisher: EventPublisher, stage: Stage) {
  return async (msg: JsMsg, err: unknown, kind: FailureKind): Promise<void> => {
    const [, , jobId, chunkId] = msg.subject.split('.');
    if (!jobId || !chunkId) return;
    await publisher.publish(
      ChunkFailed,
      subjects.chunkFailed(jobId, chunkId),
      {
        type: 'chunk.failed',
        job_id: jobId,
        chunk_id: chunkId,
        stage,
        reason: reasonOf(err),
        kind,
        deliveries: msg.info.deliveryCount,
        failed_at: new Date().toISOString(),
      },
      messageId(`chunk.failed.${stage}`, jobId, chunkId),
    );
  };
}
