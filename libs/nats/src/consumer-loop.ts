import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JsMsg } from '@nats-io/jetstream';
import { PermanentError } from '@mesh/contracts';

/** One failed delivery, as the loop saw it. */
export interface AttemptFailure {
  /** No retry can help: the message is terminated now. */
  permanent: boolean;
  /** 1-based delivery number that failed. */
  delivery: number;
  /** This was the last delivery the consumer allows: the message is terminated now. */
  last: boolean;
}

export interface ConsumerLoopOptions {
  nc: NatsConnection;
  stream: string;
  durable: string;
  /** Messages handled at once by this process. */
  concurrency: number;
  /** Deliveries before a retryable failure is given up (the consumer's max_deliver). */
  maxDeliver: number;
  /** Interval for `working()` heartbeats; below the consumer's ack_wait. */
  heartbeatMs: number;
  /** Base of the exponential back-off for naks. */
  backoffMs?: number;
  /** Does the work; resolves on success, throws PermanentError or anything retryable. */
  handle: (msg: JsMsg) => Promise<void>;
  /**
   * Records a failed delivery (publishes chunk.attempt_failed, the chunk's error history) before the
   * message is nak'ed or terminated. Terminated messages reach the dead-letter handler through
   * JetStream's advisories, as do messages whose worker died on their last delivery.
   */
  onAttemptFailed: (msg: JsMsg, err: unknown, failure: AttemptFailure) => Promise<void>;
  log?: (line: string) => void;
}

export interface ConsumerLoop {
  /** Resolves when the loop has stopped and in-flight messages are settled. */
  readonly done: Promise<void>;
  /** Stop pulling, let in-flight messages finish. */
  stop(): Promise<void>;
}

/** Delay before redelivery number `delivery + 1`. */
export function backoff(delivery: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, delivery - 1), 60_000);
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * The one loop that turns outcomes into acks: success -> ack; PermanentError -> record, term;
 * anything else -> nak with back-off, or record and term on the last delivery.
 */
export async function startConsumerLoop(opts: ConsumerLoopOptions): Promise<ConsumerLoop> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const js = jetstream(opts.nc);
  const consumer = await js.consumers.get(opts.stream, opts.durable);
  const messages = await consumer.consume({ max_messages: opts.concurrency });
  const inflight = new Set<Promise<void>>();
  let free = opts.concurrency;
  let wake: (() => void) | undefined;

  const settle = async (msg: JsMsg) => {
    const heartbeat = setInterval(() => msg.working(), opts.heartbeatMs);
    try {
      await opts.handle(msg);
      await msg.ackAck().catch(() => msg.ack());
    } catch (err) {
      const delivery = msg.info.deliveryCount;
      const permanent = err instanceof PermanentError;
      const last = permanent || delivery >= opts.maxDeliver;
      log(`${opts.durable}: ${msg.subject} failed (delivery ${delivery}${permanent ? ', permanent' : ''}): ${describe(err)}`);
      try {
        await opts.onAttemptFailed(msg, err, { permanent, delivery, last });
      } catch (reportErr) {
        // The failure could not be recorded: leave the message to redelivery rather than lose it.
        log(`${opts.durable}: could not record failure of ${msg.subject}: ${describe(reportErr)}`);
        msg.nak(backoff(delivery, opts.backoffMs ?? 1000));
        return;
      }
      // Terminating (rather than a last nak) makes the server announce it at once, with the reason.
      if (last) msg.term(describe(err).slice(0, 256));
      else msg.nak(backoff(delivery, opts.backoffMs ?? 1000));
    } finally {
      clearInterval(heartbeat);
    }
  };

  const done = (async () => {
    for await (const msg of messages) {
      while (free === 0) await new Promise<void>((r) => (wake = r));
      free--;
      const p = settle(msg).finally(() => {
        inflight.delete(p);
        free++;
        wake?.();
        wake = undefined;
      });
      inflight.add(p);
    }
    await Promise.allSettled([...inflight]);
  })();

  return {
    done,
    stop: async () => {
      await messages.close();
      await done;
    },
  };
}
