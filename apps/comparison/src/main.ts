import { loadConfig } from '@mesh/config';
import { durables } from '@mesh/contracts';
import { runStage } from '@mesh/nats';
import { createComparisonHandler } from './handler.js';

/** Start the comparison stage: consume chunk.matted, write comparison images, publish chunk.compared. */
async function main(): Promise<void> {
  const config = loadConfig();
  await runStage({
    name: 'comparison',
    config,
    durable: durables.comparison,
    concurrency: config.COMPARISON_CONCURRENCY,
    stage: 'comparison',
    createHandler: ({ store, publisher }) => createComparisonHandler({ store, publisher }),
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
