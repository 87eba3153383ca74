import { loadConfig } from '@mesh/config';
import { ADVISORIES_STREAM, durables } from '@mesh/contracts';
import { runStage, startConsumerLoop, type ConsumerLoop } from '@mesh/nats';
import { openReadModel } from '@mesh/read-model';
import { createDeadLetterHandler } from './dead-letter.js';
import { createProjectorHandler } from './handler.js';
import { startNotifier } from './notifier.js';
import { createProjection } from './projection.js';

const config = loadConfig();
const db = openReadModel(config.SQLITE_PATH);
let deadLetters: ConsumerLoop | undefined;
const notifier = startNotifier(db);

runStage({
  name: 'status-projector',
  config,
  durable: durables.statusProjector,
  // One at a time keeps the fold in stream order; SQLite commits take microseconds.
  concurrency: 1,
  createHandler: ({ nc }) => createProjectorHandler(createProjection(db), nc),
  onAttemptFailed: async (msg, err) => {
    console.error(`status-projector: cannot apply ${msg.subject} (seq ${msg.seq}): ${String(err)}`);
  },
  onStop: async () => {
    await deadLetters?.stop();
    await notifier.stop();
    db.close();
  },
})
  .then(async ({ nc, publisher }) => {
    // The dead-letter handler lives beside the projector: both are bookkeeping of the stream.
    deadLetters = await startConsumerLoop({
      nc,
      stream: ADVISORIES_STREAM,
      durable: durables.deadLetter,
      concurrency: 1,
      maxDeliver: Number.POSITIVE_INFINITY,
      heartbeatMs: Math.max(1000, (config.ACK_WAIT_SECONDS * 1000) / 3),
      backoffMs: config.RETRY_BACKOFF_MS,
      handle: createDeadLetterHandler(nc, publisher),
      onAttemptFailed: async (msg, err) => console.error(`dead-letter: ${msg.subject} failed, will retry: ${String(err)}`),
    });
    console.log(`status-projector: dead-letter handler consuming ${ADVISORIES_STREAM}/${durables.deadLetter}`);
  })
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
