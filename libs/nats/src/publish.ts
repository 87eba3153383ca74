import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { z } from 'zod';
import { encodeEvent } from '@mesh/contracts';

/** Publishes validated events to JetStream with a `Nats-Msg-Id` for de-duplication. */
export interface EventPublisher {
  publish<S extends z.ZodType>(schema: S, subject: string, event: z.input<S>, msgId: string): Promise<number>;
}

export function eventPublisher(nc: NatsConnection, js: JetStreamClient = jetstream(nc)): EventPublisher {
  return {
    async publish(schema, subject, event, msgId) {
      const ack = await js.publish(subject, encodeEvent(schema, event), { msgID: msgId });
      return ack.seq;
    },
  };
}
