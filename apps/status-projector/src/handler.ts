import type { JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { PipelineEvent, parseEvent, subjects } from '@mesh/contracts';
import type { Projection } from './projection.js';

/** Folds one stored event into the read model, then tells gateways watching the job. */
export function createProjectorHandler(projection: Projection, nc: NatsConnection) {
  return async (msg: JsMsg): Promise<void> => {
    const event = parseEvent(PipelineEvent, msg.data, msg.subject);
    if (projection.apply(msg.seq, event)) nc.publish(subjects.statusChanged(event.job_id));
  };
}
