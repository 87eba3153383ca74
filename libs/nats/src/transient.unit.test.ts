import assert from 'node:assert/strict';
import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import { ObjectMissingError } from '@mesh/contracts';
import { isTransientNatsError, retryTransient } from './transient.js';

describe('transient NATS failures', () => {
  it('tells what a later try can get past from what it cannot', () => {
    const apiError = (code: number, err_code: number) => new JetStreamApiError({ code, err_code, description: `api ${code}` });
    const transient = [
      new TimeoutError(),
      new RequestError('no responders', { cause: new NoRespondersError('$JS.API.STREAM.MSG.GET.X') }),
      new RequestError('timeout', { cause: new TimeoutError() }),
      apiError(503, 10039),
      new Error('put failed', { cause: new TimeoutError() }),
    ];
    const lasting = [
      new ObjectMissingError('job/c1/original'),
      new Error('anything else'),
      apiError(404, 10059),
      new RequestError('permissions'),
      'a string',
    ];
    assert.deepEqual(transient.map(isTransientNatsError), transient.map(() => true));
    assert.deepEqual(lasting.map(isTransientNatsError), lasting.map(() => false));
  });

  it('tries a transient failure again, and gives up on a lasting one at once', async () => {
    let calls = 0;
    const value = await retryTransient(
      async () => {
        if (++calls < 3) throw new TimeoutError();
        return 'stored';
      },
      { baseMs: 1 },
    );
    assert.deepEqual([value, calls], ['stored', 3]);

    calls = 0;
    await assert.rejects(
      retryTransient(async () => {
        calls++;
        throw new ObjectMissingError('x');
      }),
      ObjectMissingError,
    );
    assert.equal(calls, 1);

    calls = 0;
    await assert.rejects(
      retryTransient(
        async () => {
          calls++;
          throw new TimeoutError();
        },
        { attempts: 4, baseMs: 1 },
      ),
      TimeoutError,
    );
    assert.equal(calls, 4);
  });
});
