import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { z } from 'zod';
import {
  ChunkAttemptFailed,
  ChunkDeadLettered,
  DEAD_STREAM,
  EVENTS_STREAM,
  Stage,
  deadHeaders,
  deadSubject,
  parseChunkSubject,
  parseEvent,
  subjects,
} from '@mesh/contracts';
import type { EventPublisher } from '@mesh/nats';

/** The fields we use of JetStream's `terminated` and `max_deliver` advisories. */
const Advisory = z.object({
  type: z.string(),
  stream: z.string(),
  consumer: z.string(),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int().nonnegative(),
  reason: z.string().optional(),
});

type Attempt = Pick<ChunkAttemptFailed, 'delivery' | 'error' | 'permanent' | 'failed_at'>;

/** Every failed attempt of one chunk at one stage, read back from the events stream. */
async function errorHistory(nc: NatsConnection, jobId: string, chunkId: string, stage: string): Promise<Attempt[]> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(EVENTS_STREAM, {
    filter_subjects: [subjects.chunkAttemptFailed(jobId, chunkId)],
    deliver_policy: DeliverPolicy.All,
  });
  const history: Attempt[] = [];
  if ((await consumer.info(true)).num_pending === 0) return history;
  const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
  for await (const m of batch) {
    const e = parseEvent(ChunkAttemptFailed, m.data, m.subject);
    if (e.stage === stage) history.push({ delivery: e.delivery, error: e.error, permanent: e.permanent, failed_at: e.failed_at });
    if (m.info.pending === 0) break;
  }
  return history;
}

/**
 * Handles one advisory of MESH_ADVISORIES: copies the event a stage gave up on into MESH_DEAD
 * (body and headers byte for byte, its error history in `Mesh-*` headers) under
 * `dead.<stage>.<job>.<chunk>`, then publishes `chunk.dead_lettered`. Idempotent: a copy already
 * made for the same original sequence is reused.
 */
export function createDeadLetterHandler(nc: NatsConnection, publisher: EventPublisher, log = console.log) {
  return async (msg: JsMsg): Promise<void> => {
    const advisory = parseEvent(Advisory, msg.data, msg.subject);
    const stage = Stage.safeParse(advisory.consumer);
    if (advisory.stream !== EVENTS_STREAM || !stage.success) {
      log(`dead-letter: ignoring advisory for ${advisory.stream}/${advisory.consumer} seq ${advisory.stream_seq}`);
      return;
    }
    const jsm = await jetstreamManager(nc);
    const original = await jsm.streams.getMessage(EVENTS_STREAM, { seq: advisory.stream_seq });
    if (!original) {
      log(`dead-letter: ${EVENTS_STREAM} seq ${advisory.stream_seq} is gone (aged out?); nothing to copy`);
      return;
    }
    const ids = parseChunkSubject(original.subject);
    if (!ids) {
      log(`dead-letter: ${original.subject} names no chunk; not copied`);
      return;
    }
    const history = await errorHistory(nc, ids.jobId, ids.chunkId, stage.data);
    const lastError =
      history.at(-1)?.error ??
      advisory.reason ??
      `the ${stage.data} worker did not finish within ${advisory.deliveries} deliveries (it may have crashed)`;
    const subject = deadSubject(stage.data, ids.jobId, ids.chunkId);

    let deadSeq: number | undefined;
    const previous = await jsm.streams.getMessage(DEAD_STREAM, { last_by_subj: subject }).catch(() => null);
    if (previous?.header?.get(deadHeaders.originalSeq) === String(advisory.stream_seq)) deadSeq = previous.seq;
    if (deadSeq === undefined) {
      const h = natsHeaders();
      for (const [key, values] of original.header ?? []) for (const v of values) h.append(key, v);
      h.set(deadHeaders.originalSubject, original.subject);
      h.set(deadHeaders.originalSeq, String(advisory.stream_seq));
      h.set(deadHeaders.stage, stage.data);
      h.set(deadHeaders.deliveries, String(advisory.deliveries));
      h.set(deadHeaders.lastError, lastError.replace(/[\r\n]+/g, ' ').slice(0, 1024));
      h.set(deadHeaders.errorHistory, JSON.stringify(history));
      deadSeq = (await jetstream(nc).publish(subject, original.data, { headers: h })).seq;
    }
    await publisher.publish(
      ChunkDeadLettered,
      subjects.chunkDeadLettered(ids.jobId, ids.chunkId),
      {
        type: 'chunk.dead_lettered',
        job_id: ids.jobId,
        chunk_id: ids.chunkId,
        stage: stage.data,
        reason: lastError,
        deliveries: advisory.deliveries,
        dead_subject: subject,
        dead_seq: deadSeq,
        original_seq: advisory.stream_seq,
        dead_lettered_at: new Date().toISOString(),
      },
      `dead_lettered:${advisory.stream_seq}`,
    );
    log(`dead-letter: ${original.subject} -> ${subject} (seq ${deadSeq}): ${lastError}`);
  };
}
