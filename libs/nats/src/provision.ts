import { nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstreamManager,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Objm, setSha256Backend, type ObjectStore } from '@nats-io/obj';
import { ADVISORIES_STREAM, DEAD_STREAM, EVENTS_STREAM, durables, filters } from '@mesh/contracts';

import type { Config } from '@mesh/config';

export interface ProvisionOptions {
  bucket: string;
  eventsMaxAgeHours: number;
  ackWaitSeconds: number;
  maxDeliver: number;
  /** max_ack_pending of the matting consumer (JetStream's default is 1000); unset keeps the server's default. */
  mattingMaxAckPending?: number;
}

/** The provisioning options a service's configuration implies. */
export function provisionOptions(config: Config): ProvisionOptions {
  return {
    bucket: config.OBJECT_BUCKET,
    eventsMaxAgeHours: config.EVENTS_MAX_AGE_HOURS,
    ackWaitSeconds: config.ACK_WAIT_SECONDS,
    maxDeliver: config.MAX_DELIVER,
    mattingMaxAckPending: config.MATTING_MAX_ACK_PENDING,
  };
}

const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
    await jsm.streams.update(cfg.name, cfg);
  } catch (err) {
    if (!isApiError(err, STREAM_NOT_FOUND)) throw err;
    await jsm.streams.add(cfg);
  }
}

async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  cfg: Partial<ConsumerConfig> & { durable_name: string },
): Promise<void> {
  try {
    await jsm.consumers.info(stream, cfg.durable_name);
    // deliver_policy and filters of an existing durable cannot all change; update what may.
    const { deliver_policy: _d, ...updatable } = cfg;
    await jsm.consumers.update(stream, cfg.durable_name, updatable);
  } catch (err) {
    if (!isApiError(err, CONSUMER_NOT_FOUND)) throw err;
    await jsm.consumers.add(stream, cfg);
  }
}

/**
 * Create or update the mesh's stream, durable consumers and object-store bucket. Idempotent: every
 * service calls it at start-up, so any one of them can come up first.
 */
export async function provisionMesh(nc: NatsConnection, opts: ProvisionOptions): Promise<ObjectStore> {
  const jsm = await jetstreamManager(nc);
  // The advisories stream exists before any consumer does, so no dead letter can go unrecorded.
  await ensureStream(jsm, {
    name: ADVISORIES_STREAM,
    subjects: [
      `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${EVENTS_STREAM}.*`,
      `$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.${EVENTS_STREAM}.*`,
    ],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(opts.eventsMaxAgeHours * 3600 * 1000),
  });
  await ensureStream(jsm, {
    name: DEAD_STREAM,
    subjects: ['dead.>'],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    // Dead letters wait for an operator: keep them longer than the events they copy.
    max_age: nanos(opts.eventsMaxAgeHours * 4 * 3600 * 1000),
    duplicate_window: nanos(2 * 60 * 1000),
  });
  await ensureConsumer(jsm, ADVISORIES_STREAM, {
    durable_name: durables.deadLetter,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // A dead letter must never be dropped: retry until its copy is stored.
    max_deliver: -1,
    ack_wait: nanos(opts.ackWaitSeconds * 1000),
  });
  await ensureStream(jsm, {
    name: EVENTS_STREAM,
    subjects: [...filters.allEvents],
    // Limits retention keeps every event for replay and projector rebuilds; the stages' durable
    // consumers track their own progress.
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(opts.eventsMaxAgeHours * 3600 * 1000),
    duplicate_window: nanos(2 * 60 * 1000),
  });
  const worker = (durable: string, filter: string): Partial<ConsumerConfig> & { durable_name: string } => ({
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: filter,
    max_deliver: opts.maxDeliver,
    ack_wait: nanos(opts.ackWaitSeconds * 1000),
  });
  await ensureConsumer(jsm, EVENTS_STREAM, {
    ...worker(durables.matting, filters.chunkIngested),
    ...(opts.mattingMaxAckPending ? { max_ack_pending: opts.mattingMaxAckPending } : {}),
  });
  await ensureConsumer(jsm, EVENTS_STREAM, worker(durables.comparison, filters.chunkMatted));
  await ensureConsumer(jsm, EVENTS_STREAM, {
    durable_name: durables.statusProjector,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // The read model must see every event: a busy or full disk is waited out, never dropped.
    // Only an event that fails its schema is terminated (and then ignored by the dead-letter handler).
    max_deliver: -1,
    ack_wait: nanos(opts.ackWaitSeconds * 1000),
  });
  // Node's own SHA-256 for object digests: the client's pure-JS default costs a core at 40 MB/s.
  setSha256Backend('native');
  return new Objm(nc).create(opts.bucket, { storage: StorageType.File });
}
