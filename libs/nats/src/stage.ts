import type { NatsConnection } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import { EVENTS_STREAM, type Stage } from '@mesh/contracts';
import type { Config } from '@mesh/config';
import { connectNats } from './connection.js';
import { startConsumerLoop, type AttemptFailure, type ConsumerLoop } from './consumer-loop.js';
import { chunkAttemptReporter } from './failures.js';
import { provisionMesh, provisionOptions } from './provision.js';
import { eventPublisher, type EventPublisher } from './publish.js';

export interface StageContext {
  nc: NatsConnection;
  store: ObjectStore;
  publisher: EventPublisher;
}

export interface StageOptions {
  /** Client name shown by the server, e.g. `matting`. */
  name: string;
  config: Config;
  durable: string;
  concurrency: number;
  /** Stage name for chunk.attempt_failed; omit for consumers that are not a chunk stage. */
  stage?: Stage;
  /** Build the message handler once the connection and store exist. */
  createHandler: (ctx: StageContext) => Promise<(msg: JsMsg) => Promise<void>> | ((msg: JsMsg) => Promise<void>);
  onAttemptFailed?: (msg: JsMsg, err: unknown, failure: AttemptFailure) => Promise<void>;
  /** Called after the loop stopped, before the connection drains (close a model, a database). */
  onStop?: () => Promise<void> | void;
}

export interface RunningStage extends StageContext {
  loop: ConsumerLoop;
  stop(): Promise<void>;
}

/** Connect, provision, and run one durable consumer until SIGTERM/SIGINT; the same for every stage. */
export async function runStage(opts: StageOptions): Promise<RunningStage> {
  const { config } = opts;
  const nc = await connectNats(config.NATS_URL, opts.name);
  const store = await provisionMesh(nc, provisionOptions(config));
  const publisher = eventPublisher(nc);
  const ctx: StageContext = { nc, store, publisher };
  const handle = await opts.createHandler(ctx);
  const onAttemptFailed =
    opts.onAttemptFailed ?? (opts.stage ? chunkAttemptReporter(publisher, opts.stage) : async () => undefined);
  const loop = await startConsumerLoop({
    nc,
    stream: EVENTS_STREAM,
    durable: opts.durable,
    concurrency: opts.concurrency,
    maxDeliver: config.MAX_DELIVER,
    heartbeatMs: Math.max(1000, (config.ACK_WAIT_SECONDS * 1000) / 3),
    backoffMs: config.RETRY_BACKOFF_MS,
    handle,
    onAttemptFailed,
  });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await loop.stop();
      await opts.onStop?.();
      await nc.drain();
    })());
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      console.log(`${opts.name}: ${sig}, finishing in-flight work`);
      stop().then(
        () => process.exit(0),
        (err) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
  console.log(`${opts.name}: consuming ${EVENTS_STREAM}/${opts.durable} with concurrency ${opts.concurrency}`);
  return { ...ctx, loop, stop };
}
