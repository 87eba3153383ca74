import { loadConfig } from '@mesh/config';
import { durables } from '@mesh/contracts';
import { runStage } from '@mesh/nats';
import { createMattingHandler } from './handler.js';
import { createMatteModel } from './model.js';

/** Load the model once, then consume `chunk.ingested` until SIGTERM. */
async function main(): Promise<void> {
  const config = loadConfig();
  const model = await createMatteModel({
    modelPath: config.MODEL_PATH,
    executionProvider: config.EXECUTION_PROVIDER,
    intraOpThreads: config.INTRA_OP_THREADS,
  });
  console.log(`matting: model ${model.name} on ${model.provider}`);
  await runStage({
    name: 'matting',
    config,
    durable: durables.matting,
    concurrency: config.MATTING_CONCURRENCY,
    stage: 'matting',
    createHandler: ({ store, publisher }) => createMattingHandler({ store, publisher, model }),
    onStop: () => model.close(),
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
