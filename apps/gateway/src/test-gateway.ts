import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ObjectStore } from '@nats-io/obj';
import type { Server as TusServer } from '@tus/server';
import { connectNats, eventPublisher, provisionMesh, type EventPublisher } from '@mesh/nats';
import { openReadModel, type Database } from '@mesh/read-model';
import { startNatsServer, tempDir } from '@mesh/testing';
import { createApp } from './app.js';
import { testLimits } from './test-zip.js';

/** A gateway app on a free port, with its own nats-server, bucket, read model and data directory. */
export interface TestGateway {
  nc: NatsConnection;
  store: ObjectStore;
  publisher: EventPublisher;
  db: Database;
  /** The data directory (removed by stop). */
  dir: string;
  /** `http://127.0.0.1:<port>` */
  base: string;
  stop(): Promise<void>;
}

/**
 * Start the gateway app (createApp, as main.ts wires it) for an integration suite. `tus` builds the
 * resumable-upload server from the same parts when the suite needs one.
 */
export async function startTestGateway(
  name: string,
  tus?: (parts: { nc: NatsConnection; store: ObjectStore; publisher: EventPublisher; dir: string }) => Promise<TusServer>,
): Promise<TestGateway> {
  const server = await startNatsServer();
  const data = await tempDir();
  const nc = await connectNats(server.url, name);
  const store = await provisionMesh(nc, { bucket: 'chunks', eventsMaxAgeHours: 1, ackWaitSeconds: 30, maxDeliver: 3 });
  const publisher = eventPublisher(nc);
  const db = openReadModel(path.join(data.dir, 'mesh.db'));
  const tusServer = tus ? await tus({ nc, store, publisher, dir: data.dir }) : undefined;
  const http: Server = createApp({
    nc,
    store,
    publisher,
    db,
    limits: testLimits,
    log: () => undefined,
    ...(tusServer ? { tus: tusServer } : {}),
  }).listen(0, '127.0.0.1');
  await new Promise((r) => http.once('listening', r));
  return {
    nc,
    store,
    publisher,
    db,
    dir: data.dir,
    base: `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
    stop: async () => {
      http.close();
      db.close();
      await nc.close();
      await server.cleanup();
      await data.remove();
    },
  };
}
