import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from './index.js';

describe('test nats-server', () => {
  it('starts a JetStream server of version 2.10 or newer on a free port and stops it', async () => {
    const server = await startNatsServer();
    try {
      const nc = await connect({ servers: server.url });
      const version = nc.info?.version ?? '';
      assert.ok(nc.info?.jetstream, 'JetStream enabled');
      const [major, minor] = version.split('.').map(Number);
      assert.ok((major ?? 0) > 2 || ((major ?? 0) === 2 && (minor ?? 0) >= 10), `version ${version}`);
      await nc.close();
    } finally {
      await server.cleanup();
    }
    await assert.rejects(connect({ servers: server.url, reconnect: false, timeout: 500 }));
  });
});
