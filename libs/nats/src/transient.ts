import { ConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';

/**
 * A NATS failure that a later try can get past: a request that timed out or found no responder
 * (the server restarting, a stream leader moving in a cluster), a connection being re-established,
 * JetStream answering 503 (temporarily unavailable). Anything else (a missing object, a permission
 * error, a bad argument) is not. Follows `cause` chains.
 */
export function isTransientNatsError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof TimeoutError || e instanceof NoRespondersError || e instanceof ConnectionError) return true;
    if (e instanceof RequestError && (e.isNoResponders() || e.cause instanceof TimeoutError)) return true;
    if (e instanceof JetStreamApiError && e.status === 503) return true;
  }
  return false;
}

export interface NatsRetryOptions {
  /** Tries in all, the first included. */
  attempts?: number;
  /** Wait before the second try; doubled for each further one. */
  baseMs?: number;
}

/**
 * Run a NATS operation, trying it again after a transient failure (see isTransientNatsError): a
 * stage rides out a server restart or a leader election inside one delivery of its message,
 * instead of spending one of its `max_deliver` deliveries on it. The default (8 tries, 250 ms
 * doubling) waits up to about 30 s in all. The operation must be safe to repeat: object writes
 * replace the object, publishes carry a Nats-Msg-Id.
 */
export async function retryTransient<T>(op: () => Promise<T>, opts: NatsRetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 8;
  const baseMs = opts.baseMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (attempt >= attempts || !isTransientNatsError(err)) throw err;
      await new Promise((r) => setTimeout(r, baseMs * 2 ** (attempt - 1)));
    }
  }
}
