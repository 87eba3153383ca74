import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { ObjectStore } from '@nats-io/obj';
import { ChunkIngested, JobCreated, JobFailed, JobProgress, JobSealed, messageId, objects, subjects, type CutoutFormat } from '@mesh/contracts';
import { digestToHex, putObject, retryTransient, sendObject, writeObject, type EventPublisher, type StoredObject } from '@mesh/nats';
import { groundTruthKey } from './image-names.js';

export interface Skipped {
  name: string;
  reason: string;
}

/** One upload being cut into chunks: stores each image, publishes its event, then seals the job. */
export interface IngestSession {
  readonly jobId: string;
  readonly chunks: number;
  readonly skipped: readonly Skipped[];
  /**
   * Store an image as the next chunk. `checkHead` sees its first bytes (up to 256 KiB) before the
   * chunk exists: whatever it throws refuses the image (the rest of its bytes are read and dropped).
   */
  addImage(name: string, contentType: string, data: Readable, checkHead?: (head: Buffer) => Promise<void>): Promise<void>;
  /**
   * A ground-truth matte for the image whose `groundTruthKey` is `key`. It is held until that image
   * arrives and stored as `objects.groundTruth(job, chunk)` before the image's `chunk.ingested`.
   */
  addGroundTruth(name: string, key: string, data: Readable): Promise<void>;
  skip(name: string, reason: string): void;
  /** Open the job (job.created), so it can be watched while the bytes arrive. */
  start(): Promise<void>;
  /** How far the upload got; published at most once a second, unless `final`. */
  progress(bytesReceived: number, final?: boolean): void;
  /** The upload ended: the job has exactly the chunks so far. `archiveError` says where an archive broke. */
  seal(archiveError?: string): Promise<void>;
  /** The upload failed; `too_large` also removes what was stored. */
  fail(reason: string, kind?: 'rejected' | 'interrupted' | 'too_large'): Promise<void>;
}

/** Ground-truth bytes held in memory at once while they wait for their images. */
export const MAX_PENDING_GROUND_TRUTH_BYTES = 256 * 1024 * 1024;

/** Why a ground-truth entry was not used, as listed in the upload's `skipped`. */
export const groundTruthReasons = {
  late: 'ground truth after its image (put gt/ folders before the images in the archive)',
  orphan: 'ground truth with no image of the same name',
  duplicate: 'second ground truth for the same image',
  tooMuch: 'too much ground truth waiting for its images (put each gt/ folder just before its images)',
} as const;

async function collect(data: Readable, limit: number): Promise<Buffer | null> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of data) {
    size += (part as Buffer).length;
    // Past the limit the rest is still read, so the upload goes on, but not kept.
    if (size <= limit) parts.push(part as Buffer);
  }
  return size <= limit ? Buffer.concat(parts) : null;
}

/** Entries up to this size are read whole and stored in the background; larger ones stream through. */
const SMALL_OBJECT_BYTES = 16 * 1024 * 1024;
/** Bytes of an image's start that its header check is given. */
const HEAD_BYTES = 256 * 1024;

/** An entry's first bytes, as they arrived, and an iterator over the rest if there is more. */
interface EntryStart {
  parts: Buffer[];
  size: number;
  rest?: AsyncIterator<Buffer>;
}

/**
 * Read an entry up to `limit` bytes: all of it (most photos), or its head and an iterator over the
 * rest, so memory stays bounded for any size. The pieces are kept as they came, not copied into one.
 */
async function readUpTo(data: Readable, limit: number): Promise<EntryStart> {
  const it = data[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const parts: Buffer[] = [];
  let size = 0;
  while (size < limit) {
    const next = await it.next();
    if (next.done) return { parts, size };
    parts.push(next.value);
    size += next.value.length;
  }
  return { parts, size, rest: it };
}

/** The first `n` bytes of an entry's pieces, in one buffer (a view when the first piece suffices). */
function firstBytes(entry: EntryStart, n: number): Buffer {
  const first = entry.parts[0];
  if (first && first.length >= Math.min(n, entry.size)) return first.subarray(0, n);
  return Buffer.concat(entry.parts, Math.min(n, entry.size)).subarray(0, n);
}

/** Read an iterator to its end without keeping anything. */
async function skipRest(rest: AsyncIterator<Buffer> | undefined): Promise<void> {
  if (rest) for (let n = await rest.next(); !n.done; n = await rest.next());
}

/** An entry's pieces for the object store: those already read, as they came, then the rest as it arrives. */
async function* entryPieces(entry: EntryStart): AsyncGenerator<Buffer> {
  yield* entry.parts;
  if (entry.rest) for (let n = await entry.rest.next(); !n.done; n = await entry.rest.next()) yield n.value;
}

export function chunkIdFor(index: number): string {
  return `c${String(index).padStart(7, '0')}`;
}

/** The job an upload feeds, and what the user chose for it. */
export interface IngestJob {
  /** A job opened earlier (POST /jobs, a tus creation); a new id when absent. */
  jobId?: string;
  /** The job was opened earlier: do not announce it again. */
  alreadyOpened?: boolean;
  callbackUrl?: string;
  /** Carried on every chunk.ingested (and in job.created); PNG when absent. */
  cutoutFormat?: CutoutFormat;
  /**
   * Chunk ids this job already has (an earlier cut of the same upload, stopped by a restart): the
   * entries that get these ids are read and counted but neither stored nor published again.
   */
  knownChunks?: ReadonlySet<string>;
}

/** One upload's job: opened by `start()` (or the first image), then sealed or failed. */
export function createIngestSession(
  store: ObjectStore,
  publisher: EventPublisher,
  source: string[],
  job: IngestJob = {},
): IngestSession {
  const { callbackUrl, cutoutFormat, alreadyOpened = false } = job;
  const jobId = job.jobId ?? randomUUID();
  const skipped: Skipped[] = [];
  let chunks = 0;
  let lastId = 0;
  // Ground truth waiting for its image, by key, and the keys of images already published.
  const pending = new Map<string, { name: string; data: Buffer }>();
  let pendingBytes = 0;
  const published = new Set<string>();
  const dropPending = () => {
    for (const gt of pending.values()) skipped.push({ name: gt.name, reason: groundTruthReasons.orphan });
    pending.clear();
    pendingBytes = 0;
  };
  let created: Promise<unknown> | undefined = alreadyOpened ? Promise.resolve() : undefined;
  let lastProgress = 0;
  // Stores and publishes still under way; bounded in count and bytes so a slow server slows the
  // upload down instead of filling memory.
  const inflight = new Set<Promise<void>>();
  let inflightBytes = 0;
  let publishError: unknown;
  const MAX_INFLIGHT = 8;
  const MAX_INFLIGHT_BYTES = 64 * 1024 * 1024;
  const track = async (p: Promise<unknown>, bytes: number) => {
    if (publishError) throw publishError;
    inflightBytes += bytes;
    const tracked: Promise<void> = p.then(
      (): void => {
        inflight.delete(tracked);
        inflightBytes -= bytes;
      },
      (err: unknown): void => {
        inflight.delete(tracked);
        inflightBytes -= bytes;
        publishError ??= err;
      },
    );
    inflight.add(tracked);
    while (inflight.size >= MAX_INFLIGHT || inflightBytes > MAX_INFLIGHT_BYTES) await Promise.race(inflight);
    if (publishError) throw publishError;
  };
  const settled = async () => {
    await Promise.all(inflight);
    if (publishError) throw publishError;
  };
  const now = () => new Date().toISOString();

  const ensureCreated = () =>
    (created ??= publisher.publish(
      JobCreated,
      subjects.jobCreated(jobId),
      {
        type: 'job.created',
        job_id: jobId,
        created_at: now(),
        source,
        ...(callbackUrl ? { callback_url: callbackUrl } : {}),
        ...(cutoutFormat ? { cutout_format: cutoutFormat } : {}),
      },
      messageId('job.created', jobId),
    ));

  return {
    jobId,
    get chunks() {
      return chunks;
    },
    skipped,
    async addImage(name, contentType, data, checkHead) {
      await ensureCreated();
      // Read (and check) the bytes before the chunk gets its id: a refused entry leaves no gap.
      const whole = await readUpTo(data, SMALL_OBJECT_BYTES);
      try {
        await checkHead?.(firstBytes(whole, HEAD_BYTES));
      } catch (err) {
        await skipRest(whole.rest);
        throw err;
      }
      const chunkId = chunkIdFor(++lastId);
      const object = objects.original(jobId, chunkId);
      const key = groundTruthKey(name);
      const gt = pending.get(key);
      if (gt) {
        pending.delete(key);
        pendingBytes -= gt.data.length;
      }
      published.add(key);
      if (job.knownChunks?.has(chunkId)) {
        // Stored and announced by an earlier cut of this same upload: counted, not repeated.
        await skipRest(whole.rest);
        chunks++;
        return;
      }
      const publish = async (info: StoredObject) => {
        // Stored before chunk.ingested: the comparison stage reads "no object" as "no ground truth".
        if (gt) await writeObject(store, objects.groundTruth(jobId, chunkId), gt.data);
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
            ...(cutoutFormat ? { cutout_format: cutoutFormat } : {}),
          },
          messageId('chunk.ingested', jobId, chunkId),
        );
      };
      // A photo that fits in memory is read now and stored in the background, a few at a time, so
      // the next entry's bytes arrive while this one's round trips to the server are under way.
      // Its event follows its object; acks are awaited (and a failure surfaces) before the seal.
      if (whole.rest === undefined) {
        chunks++;
        // Held in memory, so a transient NATS failure can be tried again from the start.
        await track(retryTransient(() => putObject(store, object, whole.parts)).then(publish), whole.size);
      } else {
        // A large one streams through now; if it is refused midway, it is not a chunk. Once its
        // bytes are sent, the next entry is read while its last acks come back.
        const sent = await sendObject(store, object, entryPieces(whole));
        chunks++;
        await track(sent.stored.then(publish), 0);
      }
    },
    async addGroundTruth(name, key, data) {
      const reason = published.has(key)
        ? groundTruthReasons.late
        : pending.has(key)
          ? groundTruthReasons.duplicate
          : undefined;
      const bytes = await collect(data, reason ? 0 : MAX_PENDING_GROUND_TRUTH_BYTES - pendingBytes);
      if (reason || bytes === null) {
        skipped.push({ name, reason: reason ?? groundTruthReasons.tooMuch });
        return;
      }
      pending.set(key, { name, data: bytes });
      pendingBytes += bytes.length;
    },
    skip(name, reason) {
      skipped.push({ name, reason });
    },
    async start() {
      await ensureCreated();
    },
    progress(bytesReceived, final = false) {
      if (!created || (!final && Date.now() - lastProgress < 1000)) return;
      lastProgress = Date.now();
      publisher
        .publish(
          JobProgress,
          subjects.jobProgress(jobId),
          { type: 'job.progress', job_id: jobId, bytes_received: bytesReceived, chunks_found: chunks, at: now() },
          `progress:${jobId}:${bytesReceived}`,
        )
        .catch(() => undefined);
    },
    async seal(archiveError) {
      dropPending();
      await ensureCreated();
      await settled();
      await publisher.publish(
        JobSealed,
        subjects.jobSealed(jobId),
        {
          type: 'job.sealed',
          job_id: jobId,
          total_chunks: chunks,
          skipped: skipped.slice(0, 10000),
          sealed_at: now(),
          ...(archiveError ? { archive_error: archiveError } : {}),
        },
        messageId('job.sealed', jobId),
      );
    },
    async fail(reason, kind = 'rejected') {
      dropPending();
      if (!created) return;
      await Promise.allSettled([...inflight]);
      if (kind === 'too_large') {
        // Nothing of an upload refused for its size is kept.
        for (let i = 1; i <= lastId; i++) {
          await store.delete(objects.original(jobId, chunkIdFor(i))).catch(() => undefined);
          await store.delete(objects.groundTruth(jobId, chunkIdFor(i))).catch(() => undefined);
        }
      }
      await publisher.publish(
        JobFailed,
        subjects.jobFailed(jobId),
        { type: 'job.failed', job_id: jobId, reason, kind, failed_at: now() },
        messageId('job.failed', jobId),
      );
    },
  };
}
