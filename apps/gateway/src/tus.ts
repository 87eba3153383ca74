import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { EVENTS, Server } from '@tus/server';
import type { ObjectStore } from '@nats-io/obj';
import { CutoutFormat, JobCreated, JobProgress, subjects } from '@mesh/contracts';
import { retryTransient, type EventPublisher } from '@mesh/nats';
import type { IngestLimits } from './ingest-file.js';
import { ingestFile } from './ingest-file.js';
import { finishIngest, IngestStoppedError } from './ingest-outcome.js';
import { followFile } from './follow-file.js';
import { RecentWrites } from './recent-writes.js';
import { BatchingFileStore } from './tus-store.js';
import { UploadInterruptedError } from './upload.js';
import { createIngestSession, type IngestSession } from './ingest.js';
import type { JobState } from './job-state.js';

export interface TusDeps {
  store: ObjectStore;
  publisher: EventPublisher;
  limits: IngestLimits & { maxUploadSize: number };
  /** Where partial uploads wait for their next PATCH (under DATA_DIR). */
  directory: string;
  log: (line: string) => void;
  /** Chunk ids already published for a job (a restarted gateway does not publish them again). */
  knownChunks?: (jobId: string) => Promise<Set<string>>;
}

/** An upload's tus metadata (Upload-Metadata): filename, callback_url, cutout_format. */
type TusMetadata = Record<string, string | null | undefined>;

/** Remove an upload's bytes and its tus record. */
async function removeUpload(deps: Pick<TusDeps, 'directory'>, id: string): Promise<void> {
  const file = path.join(deps.directory, id);
  await rm(file, { force: true });
  await rm(`${file}.json`, { force: true });
}

/** A resumable upload given up by the gateway (no bytes for TUS_EXPIRY_HOURS, or deleted by its client). */
export class UploadAbandonedError extends UploadInterruptedError {
  constructor(message: string, bytes: number) {
    super(bytes);
    this.message = message;
    this.name = 'UploadAbandonedError';
  }
}

/**
 * Stop every cut under way without ending their jobs (on SIGTERM): the uploads stay on disk and
 * the next gateway's housekeeping cuts them on, skipping the chunks already published.
 */
export async function stopCutters(): Promise<void> {
  const running = [...cutters.values()];
  for (const cutter of running) cutter.abort(new IngestStoppedError());
  await Promise.allSettled(running.map((c) => c.done));
}

/** One upload being cut while its bytes arrive. */
interface Cutter {
  /** The file may have grown. */
  notify(): void;
  /**
   * These bytes arrived for `position` and are going to the file (the cut takes them from memory);
   * resolves when the next may follow (the cut is close enough behind, or has stopped).
   */
  received(position: number, pieces: readonly Uint8Array[]): Promise<void>;
  /** Chunks found so far. */
  chunks(): number;
  /** Stop: the job fails as interrupted with an UploadAbandonedError; an IngestStoppedError leaves it open. */
  abort(reason: UploadAbandonedError | IngestStoppedError): void;
  readonly done: Promise<void>;
}

/** Uploads being cut by this process, by file path. */
const cutters = new Map<string, Cutter>();

/** The cutter following upload `id`, if one runs. */
const cutterOf = (deps: TusDeps, id: string): Cutter | undefined => cutters.get(path.join(deps.directory, id));

/**
 * Cut an upload into chunks as its bytes land in the file, exactly as a multipart upload is cut,
 * then seal (or fail) its job and remove the file; started when the upload is created (or found
 * by a restarted gateway). A pause in the upload only makes the cutter wait; the tus offset and
 * the cutter's position are independent. Chunks that a previous gateway already published for
 * this job (`knownChunks`) are counted, not stored or published again.
 */
function startCutter(
  deps: TusDeps,
  id: string,
  size: number,
  metadata: TusMetadata,
  /** The upload may have been cut before (by a gateway that stopped): look up its known chunks. */
  resumed: boolean,
): Cutter {
  const file = path.join(deps.directory, id);
  const running = cutters.get(file);
  if (running) return running;
  const controller = new AbortController();
  let wake: (() => void) | undefined;
  const grown = () => new Promise<void>((resolve) => (wake = resolve));
  const recent = new RecentWrites();
  const filename = metadata.filename ?? 'upload';
  // Validated when the upload was created.
  const cutoutFormat = CutoutFormat.safeParse(metadata.cutout_format).data;
  let session: IngestSession | undefined;
  const done = (async () => {
    const known = resumed && deps.knownChunks ? await retryTransient(() => deps.knownChunks!(id)) : new Set<string>();
    session = createIngestSession(deps.store, deps.publisher, [filename], {
      jobId: id,
      alreadyOpened: true,
      ...(cutoutFormat ? { cutoutFormat } : {}),
      ...(known.size > 0 ? { knownChunks: known } : {}),
    });
    const cut = session;
    const stream = followFile(file, { size, signal: controller.signal, grown, recent });
    await finishIngest(cut, () => ingestFile(cut, filename, stream, deps.limits), deps.log);
  })()
    .then(
      // The job is sealed or failed: the file has served.
      () => removeUpload(deps, id),
      (err: unknown) => {
        // Stopped, or something failed before the job could be ended (NATS out of reach for
        // longer than the retries): the file stays, and the next sweep cuts it on, or removes it
        // if its job did end after all.
        if (!(err instanceof IngestStoppedError)) deps.log(`gateway: tus upload ${id}: ${String(err)}; it will be tried again`);
      },
    )
    .finally(() => {
      recent.end();
      cutters.delete(file);
    });
  const cutter: Cutter = {
    notify: () => wake?.(),
    received: (position, pieces) => {
      const end = recent.add(position, pieces);
      wake?.();
      return recent.paced(end);
    },
    chunks: () => session?.chunks ?? 0,
    abort: (reason) => controller.abort(reason),
    done,
  };
  cutters.set(file, cutter);
  return cutter;
}

/** Route prefix of the resumable uploads. */
export const TUS_PATH = '/files';

/**
 * Resumable uploads (the tus protocol, 1.0.0) beside the multipart route. The tus upload id is the
 * job id: the job opens at creation, so its progress can be watched while bytes arrive, and a cut
 * upload resumes at the offset the server kept. The stored file is cut into chunks while it grows,
 * exactly as a multipart upload is (see startCutter), and removed once its job is sealed.
 */
export async function createTusServer(deps: TusDeps): Promise<Server> {
  await mkdir(deps.directory, { recursive: true });
  const server = new Server({
    path: TUS_PATH,
    datastore: new BatchingFileStore({
      directory: deps.directory,
      onBatch: (id, position, pieces) => cutterOf(deps, id)?.received(position, pieces),
    }),
    maxSize: deps.limits.maxUploadSize,
    relativeLocation: true,
    postReceiveInterval: 1000,
    namingFunction: () => randomUUID(),
    onUploadCreate: async (_req, upload) => {
      const callback = upload.metadata?.callback_url ?? undefined;
      if (callback && !JobCreated.shape.callback_url.safeParse(callback).success) {
        throw { status_code: 400, body: 'callback_url must be one http(s) URL\n' };
      }
      const format = upload.metadata?.cutout_format ?? undefined;
      const cutoutFormat = CutoutFormat.safeParse(format ?? 'png');
      if (!cutoutFormat.success) {
        throw { status_code: 400, body: `cutout_format must be one of ${CutoutFormat.options.join(', ')}\n` };
      }
      const filename = upload.metadata?.filename ?? 'upload';
      await createIngestSession(deps.store, deps.publisher, [filename], {
        jobId: upload.id,
        ...(callback ? { callbackUrl: callback } : {}),
        ...(format ? { cutoutFormat: cutoutFormat.data } : {}),
      }).start();
      return { metadata: upload.metadata ?? {} };
    },
    onUploadFinish: async (_req, upload) => {
      // The cutter has been reading since the upload was created (or since this gateway started);
      // it ends by itself at the last byte. The client is answered now and follows the job's status.
      const cutter = startCutter(deps, upload.id, upload.size ?? upload.offset, upload.metadata ?? {}, true);
      cutter.notify();
      return { headers: { 'Mesh-Job-Id': upload.id } };
    },
  });
  // The file exists once the upload is created: cut it from its first bytes.
  server.on(EVENTS.POST_CREATE, (_req, upload) => {
    if (upload.size !== undefined) startCutter(deps, upload.id, upload.size, upload.metadata ?? {}, false);
  });
  server.on(EVENTS.POST_TERMINATE, (_req, _res, id) => {
    cutterOf(deps, id)?.abort(new UploadAbandonedError('the resumable upload was deleted by its client', 0));
  });
  const progress = (id: string, offset: number) =>
    deps.publisher
      .publish(
        JobProgress,
        subjects.jobProgress(id),
        {
          type: 'job.progress',
          job_id: id,
          bytes_received: offset,
          // What the cutter, which follows the bytes as they land, has found so far.
          chunks_found: cutterOf(deps, id)?.chunks() ?? 0,
          at: new Date().toISOString(),
        },
        `progress:${id}:${offset}`,
      )
      .catch(() => undefined);
  server.on(EVENTS.POST_RECEIVE, (_req, upload) => {
    cutterOf(deps, upload.id)?.notify();
    void progress(upload.id, upload.offset);
  });
  server.on(EVENTS.POST_FINISH, (_req, _res, upload) => void progress(upload.id, upload.offset));
  return server;
}

export interface TusHousekeepingOptions {
  /** Where a job stands by the event stream (see job-state.ts). */
  jobState: (jobId: string) => Promise<JobState>;
  /** An unfinished upload that received no bytes for this long is given up (TUS_EXPIRY_HOURS). */
  expiryMs: number;
  /** How often unfinished uploads are looked at. */
  sweepIntervalMs: number;
}

/**
 * What a restart or an absent client must not leave behind: run once at start-up, then every
 * `sweepIntervalMs`. An upload with an open job and no cutter (the last gateway stopped or died,
 * or a cut failed before it could end its job) gets one: it cuts from the first byte, skipping the
 * chunks the stream already has, and waits for the rest if the upload is unfinished. An upload
 * whose cutter has had no new byte for `expiryMs` is given up: its job fails as `interrupted`, its
 * file is removed. Files of jobs already ended are removed.
 */
export async function tusHousekeeping(deps: TusDeps, opts: TusHousekeepingOptions): Promise<{ sweep(): Promise<void>; stop(): void }> {
  const datastore = new FileStore({ directory: deps.directory });
  const look = async (id: string) => {
    const upload = await datastore.getUpload(id).catch(() => undefined);
    if (!upload) return;
    const file = path.join(deps.directory, id);
    if (cutters.has(file)) {
      // Being cut: only an upload that stopped receiving bytes long ago is given up.
      const idle = Date.now() - (await stat(file)).mtimeMs;
      if (upload.offset === upload.size || idle < opts.expiryMs) return;
      const hours = Math.round((opts.expiryMs / 3_600_000) * 10) / 10;
      deps.log(`gateway: tus upload ${id} given up after ${hours} hours without bytes`);
      cutters.get(file)?.abort(
        new UploadAbandonedError(
          `the resumable upload received no bytes for ${hours} hours after ${upload.offset} of ${upload.size ?? '?'} bytes; it was given up`,
          upload.offset,
        ),
      );
      return;
    }
    const state = await opts.jobState(id);
    if (state !== 'open' || upload.size === undefined) return removeUpload(deps, id);
    // An open job whose upload no cutter follows: the last gateway process stopped while (or
    // before) cutting it. Cut it from the start; the chunks it already published are skipped.
    deps.log(`gateway: tus upload ${id} (${upload.offset} of ${upload.size} bytes) has an open job: cutting it`);
    startCutter(deps, id, upload.size, upload.metadata ?? {}, true);
  };
  const sweep = async () => {
    const names = await readdir(deps.directory).catch(() => [] as string[]);
    const ids = names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length));
    for (const id of ids) {
      await look(id).catch((err: unknown) => deps.log(`gateway: tus upload ${id}: ${String(err)}`));
    }
  };
  await sweep();
  const timer = setInterval(() => void sweep(), opts.sweepIntervalMs);
  timer.unref();
  return { sweep: () => sweep(), stop: () => clearInterval(timer) };
}
