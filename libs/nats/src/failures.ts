import type { JsMsg } from '@nats-io/jetstream';
import { ChunkAttemptFailed, parseChunkSubject, subjects, type Stage } from '@mesh/contracts';
import type { AttemptFailure } from './consumer-loop.js';
import type { EventPublisher } from './publish.js';

/** Wording a user reads: the error's message without internal prefixes. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * The `onAttemptFailed` of a chunk stage: publishes `chunk.attempt_failed` for the chunk the message
 * names. The ids come from the subject (`chunk.<event>.<job>.<chunk>`), so even a body that failed
 * its schema is reported against the right chunk.
 */
export function chunkAttemptReporter(publisher: EventPublisher, stage: Stage) {
  return async (msg: JsMsg, err: unknown, failure: AttemptFailure): Promise<void> => {
    const ids = parseChunkSubject(msg.subject);
    if (!ids) return;
    await publisher.publish(
      ChunkAttemptFailed,
      subjects.chunkAttemptFailed(ids.jobId, ids.chunkId),
      {
        type: 'chunk.attempt_failed',
        job_id: ids.jobId,
        chunk_id: ids.chunkId,
        stage,
        delivery: failure.delivery,
        permanent: failure.permanent,
        error: reasonOf(err),
        failed_at: new Date().toISOString(),
      },
      // The stream sequence keeps a replayed message's attempts apart from the original's.
      `attempt:${stage}:${msg.seq}:${failure.delivery}`,
    );
  };
}
