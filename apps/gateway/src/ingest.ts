import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { ObjectStore } from '@nats-io/obj';
import { ChunkIngested, JobCreated, JobFailed, JobSealed, messageId, objects, subjects } from '@mesh/contracts';
import { digestToHex, type EventPublisher } from '@mesh/nats';

export interface Skipped {
  name: string;
  reason: string;
}

/** One upload being cut into chunks: stores each image, publishes its event, then seals the job. */
export interface IngestSession {
  readonly jobId: string;
  readonly chunks: number;
  readonly skipped: readonly Skipped[];
  addImage(name: string, contentType: string, data: Readable): Promise<void>;
  skip(name: string, reason: string): void;
  seal(): Promise<void>;
  fail(reason: string): Promise<void>;
}

export function chunkIdFor(index: number): string {
  return `c${String(index).padStart(7, '0')}`;
}

/** The job is published lazily, at its first image, so an upload with no image leaves no job. */
export function createIngestSession(store: ObjectStore, publisher: EventPublisher, source: string[]): IngestSession {
  const jobId = randomUUID();
  const skipped: Skipped[] = [];
  let chunks = 0;
  let created: Promise<unknown> | undefined;
  const now = () => new Date().toISOString();

  const ensureCreated = () =>
    (created ??= publisher.publish(
      JobCreated,
      subjects.jobCreated(jobId),
      { type: 'job.created', job_id: jobId, created_at: now(), source },
      messageId('job.created', jobId),
    ));

  return {
    jobId,
    get chunks() {
      return chunks;
    },
    skipped,
    async addImage(name, contentType, data) {
      await ensureCreated();
      const chunkId = chunkIdFor(++chunks);
      const object = objects.original(jobId, chunkId);
      const info = await store.put({ name: object }, Readable.toWeb(data) as ReadableStream<Uint8Array>);
      await publisher.publish(
        ChunkIngested,
        subjects.chunkIngested(jobId, chunkId),
        {
          type: 'chunk.ingested',
          job_id: jobId,
          chunk_id: chunkId,
          name,
          object,
          content_type: contentType,
          bytes: info.size,
          sha256: digestToHex(info.digest),
          ingested_at: now(),
        },
        messageId('chunk.ingested', jobId, chunkId),
      );
    },
    skip(name, reason) {
      skipped.push({ name, reason });
    },
    async seal() {
      await ensureCreated();
      await publisher.publish(
        JobSealed,
        subjects.jobSealed(jobId),
        { type: 'job.sealed', job_id: jobId, total_chunks: chunks, skipped: skipped.slice(0, 10000), sealed_at: now() },
        messageId('job.sealed', jobId),
      );
    },
    async fail(reason) {
      if (!created) return;
      await publisher.publish(
        JobFailed,
        subjects.jobFailed(jobId),
        { type: 'job.failed', job_id: jobId, reason, failed_at: now() },
        messageId('job.failed', jobId),
      );
    },
  };
}
