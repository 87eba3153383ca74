export { startNatsServer, freePort, natsServerBinary } from './nats-server.js';
export type { NatsServerHandle } from './nats-server.js';
export { repoRoot, fixturePhotosDir } from './repo.js';
export { tempDir } from './temp.js';
export { waitFor } from './wait.js';
