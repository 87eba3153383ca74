import { createHash } from 'node:crypto';
import { loadConfig } from '@mesh/config';
import { ChunkIngested, messageId, objects, subjects } from '@mesh/contracts';
import { runStage, writeObject, type RunningStage } from '@mesh/nats';
import { createMattingHandler, type MattingDeps } from './handler.js';

/** The matting stage on a real nats-server, with what a test needs to see of it. */
export interface MattingTestStage {
  stage: RunningStage;
  /** Deliveries handled, by chunk id. */
  attempts: Map<string, number>;
  /** Every error the handler threw, by chunk id, in order. */
  errors: Map<string, unknown[]>;
  /** Every `chunk.*` event the stage published (JetStream publishes reach core subscribers too). */
  events: { subject: string; data: Uint8Array }[];
  /** The server's own word that a message was terminated (not left to redelivery). */
  terminated: { stream_seq: number; deliveries: number }[];
  /** Store `bytes` as chunk `chunk` of job1 and publish its chunk.ingested; the stream sequence. */
  ingest(chunk: string, bytes: Buffer, ext?: 'jpg' | 'png'): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Run the matting stage (runStage and createMattingHandler, as main.ts does) against `natsUrl`,
 * recording attempts, errors, events and terminations. `env` adds to the test configuration.
 */
export async function startMattingTestStage(opts: {
  natsUrl: string;
  bucket: string;
  model: MattingDeps['model'];
  limits?: MattingDeps['limits'];
  concurrency: number;
  env?: Record<string, string>;
}): Promise<MattingTestStage> {
  const config = loadConfig({
    NATS_URL: opts.natsUrl,
    OBJECT_BUCKET: opts.bucket,
    EVENTS_MAX_AGE_HOURS: '1',
    ACK_WAIT_SECONDS: '20',
    MAX_DELIVER: '3',
    RETRY_BACKOFF_MS: '100',
    ...opts.env,
  });
  const attempts = new Map<string, number>();
  const errors = new Map<string, unknown[]>();
  const events: { subject: string; data: Uint8Array }[] = [];
  const terminated: { stream_seq: number; deliveries: number }[] = [];
  const stage = await runStage({
    name: opts.bucket,
    config,
    durable: 'matting',
    concurrency: opts.concurrency,
    stage: 'matting',
    createHandler: ({ store, publisher }) => {
      const handle = createMattingHandler({ store, publisher, model: opts.model, ...(opts.limits ? { limits: opts.limits } : {}) });
      return async (msg) => {
        const chunk = msg.subject.split('.')[3] ?? '';
        attempts.set(chunk, (attempts.get(chunk) ?? 0) + 1);
        await handle(msg).catch((err: unknown) => {
          errors.set(chunk, [...(errors.get(chunk) ?? []), err]);
          throw err;
        });
      };
    },
  });
  const sub = stage.nc.subscribe('chunk.>');
  void (async () => {
    for await (const m of sub) events.push({ subject: m.subject, data: m.data });
  })();
  const adv = stage.nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.>');
  void (async () => {
    for await (const m of adv) terminated.push(m.json());
  })();

  return {
    stage,
    attempts,
    errors,
    events,
    terminated,
    async ingest(chunk, bytes, ext = 'jpg') {
      const object = objects.original('job1', chunk);
      await writeObject(stage.store, object, bytes);
      return stage.publisher.publish(
        ChunkIngested,
        subjects.chunkIngested('job1', chunk),
        {
          type: 'chunk.ingested',
          job_id: 'job1',
          chunk_id: chunk,
          name: `${chunk}.${ext}`,
          object,
          content_type: ext === 'png' ? 'image/png' : 'image/jpeg',
          bytes: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
          ingested_at: new Date().toISOString(),
        },
        messageId('chunk.ingested', 'job1', chunk),
      );
    },
    stop: () => stage.stop(),
  };
}
