import assert from 'node:assert/strict';
import { RetryableError } from '@mesh/contracts';
import { classifyInferenceError } from './failures.js';
import { parseFaultInjection } from './fault-injection.js';

describe('matting fault injection', () => {
  it('fails the named image N times with an error classified as a retryable out-of-memory', () => {
    const inject = parseFaultInjection('photos/a.png=2,b.jpg=1')!;
    const outcome = (name: string) => {
      try {
        inject(name);
        return 'ok';
      } catch (err) {
        return classifyInferenceError(err) instanceof RetryableError ? 'oom' : 'other';
      }
    };
    assert.deepEqual(['photos/a.png', 'photos/a.png', 'photos/a.png', 'b.jpg', 'b.jpg', 'c.jpg'].map(outcome), [
      'oom', 'oom', 'ok', 'oom', 'ok', 'ok',
    ]);
  });

  it('injects nothing when unset and refuses a malformed setting', () => {
    assert.equal(parseFaultInjection(undefined), undefined);
    assert.equal(parseFaultInjection(''), undefined);
    assert.throws(() => parseFaultInjection('a.png'), /name=N/);
  });
});
