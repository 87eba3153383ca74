import sharp from 'sharp';
import { loadConfig } from '@mesh/config';
import { durables } from '@mesh/contracts';
import { runStage } from '@mesh/nats';
import { createMattingHandler } from './handler.js';
import { parseFaultInjection } from './fault-injection.js';
import { createMatteModel } from './model.js';

/** Load the model once, then consume `chunk.ingested` until SIGTERM. */
async function main(): Promise<void> {
  const config = loadConfig();
  // Every chunk is a different image: libvips' operation cache would only hold memory.
  sharp.cache(false);
  const injectFault = parseFaultInjection(config.MATTING_FAULT_INJECTION);
  if (injectFault) console.warn(`matting: MATTING_FAULT_INJECTION is set (${config.MATTING_FAULT_INJECTION}): for tests only`);
  const model = await createMatteModel({
    modelPath: config.MODEL_PATH,
    executionProvider: config.EXECUTION_PROVIDER,
    intraOpThreads: config.INTRA_OP_THREADS,
    spinning: config.INTRA_OP_SPINNING === 'on',
  });
  console.log(`matting: model ${model.name} on ${model.provider}`);
  await runStage({
    name: 'matting',
    config,
    durable: durables.matting,
    concurrency: config.MATTING_CONCURRENCY,
    stage: 'matting',
    createHandler: ({ store, publisher }) =>
      createMattingHandler({ store, publisher, model, injectFault, limits: { maxPixels: config.MATTING_MAX_PIXELS } }),
    onStop: () => model.close(),
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
