import assert from 'node:assert/strict';
import { run, usage } from './commands.js';

describe('mesh CLI', () => {
  it('prints its usage and exits 2 for an unknown command or missing arguments', async () => {
    assert.deepEqual(await run([], 'http://127.0.0.1:9'), { out: usage, code: 2 });
    assert.deepEqual(await run(['replay'], 'http://127.0.0.1:9'), { out: usage, code: 2 });
  });

  it('says clearly when the gateway cannot be reached', async () => {
    const r = await run(['status', 'job'], 'http://127.0.0.1:9');
    assert.equal(r.code, 1);
    assert.match(r.out, /^mesh: /);
  });
});
