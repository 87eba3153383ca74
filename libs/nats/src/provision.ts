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
import { Objm, type ObjectStore } from '@nats-io/obj';
import { EVENTS_STREAM, durables, filters } from '@mesh/contracts';

import type { Config } from '@mesh/config';

export interface ProvisionOptions {
  bucket: string;
  eventsMaxAgeHours: number;
  ackWaitSeconds: number;
  maxDeliver: number;
}

/** The provisioning options a service's configuration implies. */
export function provisionOptions(config: Config): ProvisionOptions {
  return {
    bucket: config.OBJECT_BUCKET,
    eventsMaxAgeHours: config.EVENTS_MAX_AGE_HOURS,
    ackWaitSeconds: config.ACK_WAIT_SECONDS,
    maxDeliver: config.MAX_DELIVER,
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
  await ensureConsumer(jsm, EVENTS_STREAM, worker(durables.matting, filters.chunkIngested));
  await ensureConsumer(jsm, EVENTS_STREAM, worker(durables.comparison, filters.chunkMatted));
  await ensureConsumer(jsm, EVENTS_STREAM, {
    durable_name: durables.statusProjector,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_deliver: opts.maxDeliver,
    ack_wait: nanos(opts.ackWaitSeconds * 1000),
  });
  return new Objm(nc).create(opts.bucket, { storage: StorageType.File });
}
