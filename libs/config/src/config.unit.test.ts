import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from './index.js';

describe('config', () => {
  it('runs the whole mesh on one machine with no variables set', () => {
    const c = loadConfig({});
    assert.equal(c.NATS_URL, 'nats://127.0.0.1:4222');
    assert.equal(c.GATEWAY_PORT, 8000);
    assert.equal(c.EXECUTION_PROVIDER, 'cpu');
    assert.equal(c.SQLITE_PATH, 'data/mesh.db');
    assert.equal(c.MODEL_PATH, '.cache/models/isnet-medium.onnx');
    assert.equal(c.MAX_DELIVER, 3);
    assert.ok(Object.isFrozen(c));
  });

  it('reports every bad variable in one error', () => {
    assert.throws(
      () => loadConfig({ GATEWAY_PORT: 'eighty', EXECUTION_PROVIDER: 'tpu' }),
      (err: unknown) =>
        err instanceof ConfigError && /GATEWAY_PORT/.test(err.message) && /EXECUTION_PROVIDER/.test(err.message),
    );
  });

  it('treats an empty variable as unset', () => {
    assert.equal(loadConfig({ GATEWAY_PORT: '' }).GATEWAY_PORT, 8000);
  });
});
