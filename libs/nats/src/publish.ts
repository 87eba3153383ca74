import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { z } from 'zod';
import { encodeEvent } from '@mesh/contracts';
import { retryTransient } from './transient.js';

/**
 * Publishes validated events to JetStream with a `Nats-Msg-Id` for de-duplication; a publish that
 * fails transiently (no ack in time, no responders) is sent again with the same id (see retryTransient).
 */
export interface EventPublisher {
  publish<S extends z.ZodType>(schema: S, subject: string, event: z.input<S>, msgId: string): Promise<number>;
}

export function eventPublisher(nc: NatsConnection, js: JetStreamClient = jetstream(nc)): EventPublisher {
  return {
    async publish(schema, subject, event, msgId) {
      const data = encodeEvent(schema, event);
      const ack = await retryTransient(() => js.publish(subject, data, { msgID: msgId }));
      return ack.seq;
    },
  };
}
