import { loadConfig } from '@mesh/config';
import { connectNats, eventPublisher, provisionMesh, provisionOptions } from '@mesh/nats';
import { openReadModel } from '@mesh/read-model';
import path from 'node:path';
import { createApp } from './app.js';
import { ingestedChunks, jobState } from './job-state.js';
import { createTusServer, stopCutters, tusHousekeeping } from './tus.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const nc = await connectNats(config.NATS_URL, 'gateway');
  const store = await provisionMesh(nc, provisionOptions(config));
  const db = openReadModel(config.SQLITE_PATH);
  const limits = {
    maxUploadSize: config.MAX_UPLOAD_SIZE,
    maxEntryBytes: config.MAX_ENTRY_BYTES,
    maxUnpackedBytes: config.MAX_UNPACKED_BYTES,
    maxRatio: config.MAX_COMPRESSION_RATIO,
    maxPixels: config.MATTING_MAX_PIXELS,
  };
  const publisher = eventPublisher(nc);
  const tusDeps = {
    store,
    publisher,
    limits,
    directory: path.join(config.DATA_DIR, 'tus'),
    log: console.log,
    knownChunks: (jobId: string) => ingestedChunks(nc, jobId),
  };
  const tus = await createTusServer(tusDeps);
  // Uploads a stopped gateway left complete but uncut are cut now; abandoned ones end as interrupted.
  const housekeeping = await tusHousekeeping(tusDeps, {
    jobState: (id) => jobState(nc, id),
    expiryMs: config.TUS_EXPIRY_HOURS * 3_600_000,
    sweepIntervalMs: 10 * 60_000,
  });
  const app = createApp({
    nc,
    tus,
    store,
    publisher,
    db,
    limits,
  });
  const server = app.listen(config.GATEWAY_PORT, config.GATEWAY_HOST, () =>
    console.log(`gateway: listening on http://${config.GATEWAY_HOST}:${config.GATEWAY_PORT}`),
  );
  // Uploads of 100 GB take hours: no request timeout.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      housekeeping.stop();
      server.close();
      server.closeAllConnections();
      // Resumable uploads being cut stay open: the next gateway cuts on where this one stopped.
      stopCutters()
        .then(() => nc.drain())
        .finally(() => {
          db.close();
          process.exit(0);
        });
    });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
