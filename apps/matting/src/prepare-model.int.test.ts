import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { tempDir } from '@mesh/testing';
import { ModelPreparationError, cachedModelPath, prepareModel } from './prepare-model.js';

describe('prepare-model', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('mesh-model-')));
  afterEach(() => remove());

  it('reassembles the small ISNet from its packaged chunks once, then reuses it', async () => {
    const cache = path.join(dir, 'models');
    const config = {
      MODEL_CACHE_DIR: cache,
      MODEL_VARIANT: 'small' as const,
      MODEL_PATH: cachedModelPath(cache, 'small'),
    };
    const first = await prepareModel(config);
    assert.deepEqual([first.action, first.path], ['assembled', path.join(cache, 'isnet-small.onnx')]);
    assert.equal((await stat(first.path)).size, first.bytes);
    assert.equal(first.bytes, 44_342_436);
    assert.equal((await prepareModel(config)).action, 'cached');
  });

  it('only checks a MODEL_PATH the user chose, and says clearly when it is missing', async () => {
    const config = { MODEL_CACHE_DIR: dir, MODEL_VARIANT: 'medium' as const, MODEL_PATH: path.join(dir, 'mine.onnx') };
    await assert.rejects(prepareModel(config), (err: unknown) => {
      assert.ok(err instanceof ModelPreparationError);
      assert.match(err.message, /MODEL_PATH .*mine\.onnx does not exist/);
      return true;
    });
  });
});
