import { loadConfig } from '@mesh/config';
import { durables } from '@mesh/contracts';
import { runStage } from '@mesh/nats';
import { openReadModel } from '@mesh/read-model';
import { createProjectorHandler } from './handler.js';
import { createProjection } from './projection.js';

const config = loadConfig();
const db = openReadModel(config.SQLITE_PATH);

runStage({
  name: 'status-projector',
  config,
  durable: durables.statusProjector,
  // One at a time keeps the fold in stream order; SQLite commits take microseconds.
  concurrency: 1,
  createHandler: ({ nc }) => createProjectorHandler(createProjection(db), nc),
  onFailure: async (msg, err) => {
    console.error(`status-projector: dropping ${msg.subject} (seq ${msg.seq}): ${String(err)}`);
  },
  onStop: () => {
    db.close();
  },
}).catch((err) => {
  console.error(err);
  process.exit(1);
});
