import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { EVENTS, Server } from '@tus/server';
import type { ObjectStore } from '@nats-io/obj';
import { CutoutFormat, JobCreated, JobProgress, subjects } from '@mesh/contracts';
import type { EventPublisher } from '@mesh/nats';
import type { IngestLimits } from './ingest-file.js';
import { ingestFile } from './ingest-file.js';
import { finishIngest } from './ingest-outcome.js';
import { createIngestSession } from './ingest.js';
import type { JobState } from './job-state.js';

export interface TusDeps {
  store: ObjectStore;
  publisher: EventPublisher;
  limits: IngestLimits & { maxUploadSize: number };
  /** Where partial uploads wait for their next PATCH (under DATA_DIR). */
  directory: string;
  log: (line: string) => void;
}

/** An upload's tus metadata (Upload-Metadata): filename, callback_url, cutout_format. */
type TusMetadata = Record<string, string | null | undefined>;

/** Remove an upload's bytes and its tus record. */
async function removeUpload(deps: Pick<TusDeps, 'directory'>, id: string): Promise<void> {
  const file = path.join(deps.directory, id);
  await rm(file, { force: true });
  await rm(`${file}.json`, { force: true });
}

/**
 * Cut a finished upload into chunks exactly as a multipart upload is, seal (or fail) its job, then
 * remove the file. Never rejects: the outcome is the job's, and is logged.
 */
async function cutUpload(deps: TusDeps, id: string, metadata: TusMetadata): Promise<void> {
  if (cutting.has(id)) return;
  cutting.add(id);
  const file = path.join(deps.directory, id);
  const filename = metadata.filename ?? 'upload';
  // Validated when the upload was created.
  const cutoutFormat = CutoutFormat.safeParse(metadata.cutout_format).data;
  const session = createIngestSession(deps.store, deps.publisher, [filename], {
    jobId: id,
    alreadyOpened: true,
    ...(cutoutFormat ? { cutoutFormat } : {}),
  });
  await finishIngest(session, () => ingestFile(session, filename, createReadStream(file, { highWaterMark: 1 << 20 }), deps.limits), deps.log)
    .catch((err: unknown) => deps.log(`gateway: tus upload ${id} failed: ${String(err)}`))
    .finally(() => removeUpload(deps, id).finally(() => cutting.delete(id)));
}

/** Uploads being cut by this process. */
const cutting = new Set<string>();

/** A finished upload still uncut this long after its last byte was missed by its finish hook. */
const MISSED_FINISH_MS = 60_000;

/** Route prefix of the resumable uploads. */
export const TUS_PATH = '/files';

/**
 * Resumable uploads (the tus protocol, 1.0.0) beside the multipart route. The tus upload id is the
 * job id: the job opens at creation, so its progress can be watched while bytes arrive, and a cut
 * upload resumes at the offset the server kept. When the last byte is in, the stored file is cut
 * into chunks exactly as a multipart upload is, then removed.
 */
export async function createTusServer(deps: TusDeps): Promise<Server> {
  await mkdir(deps.directory, { recursive: true });
  const server = new Server({
    path: TUS_PATH,
    datastore: new FileStore({ directory: deps.directory }),
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
      // Cutting 100 GB takes a while: the client is answered now and follows the job's status.
      void cutUpload(deps, upload.id, upload.metadata ?? {});
      return { headers: { 'Mesh-Job-Id': upload.id } };
    },
  });
  const progress = (id: string, offset: number) =>
    deps.publisher
      .publish(
        JobProgress,
        subjects.jobProgress(id),
        { type: 'job.progress', job_id: id, bytes_received: offset, chunks_found: 0, at: new Date().toISOString() },
        `progress:${id}:${offset}`,
      )
      .catch(() => undefined);
  server.on(EVENTS.POST_RECEIVE, (_req, upload) => void progress(upload.id, upload.offset));
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
 * `sweepIntervalMs`. An upload whose bytes are all in but whose job is still open (the gateway
 * stopped while cutting it, or before it began) is cut now; chunk ids and message ids are the
 * same as on the first try, so nothing is published twice within the stream's duplicate window,
 * and the projection ignores a repeated chunk. An unfinished upload untouched for `expiryMs`
 * fails its job as `interrupted` and is removed. Files of jobs already ended are removed.
 */
export async function tusHousekeeping(deps: TusDeps, opts: TusHousekeepingOptions): Promise<{ sweep(): Promise<void>; stop(): void }> {
  const datastore = new FileStore({ directory: deps.directory });
  const look = async (id: string, startup: boolean) => {
    const upload = await datastore.getUpload(id).catch(() => undefined);
    if (!upload) return;
    const state = await opts.jobState(id);
    if (state !== 'open') return removeUpload(deps, id);
    const filename = upload.metadata?.filename ?? 'upload';
    const idle = Date.now() - (await stat(path.join(deps.directory, id))).mtimeMs;
    if (upload.size !== undefined && upload.offset === upload.size) {
      // At start-up, every finished upload is one the last process did not get to end; later, one
      // that no finish hook took up within a minute of its last byte.
      if (cutting.has(id) || (!startup && idle < MISSED_FINISH_MS)) return;
      deps.log(`gateway: tus upload ${id} is complete but its job is still open: cutting it now`);
      // In the background, as the finish hook does: a cut may take as long as the upload did.
      void cutUpload(deps, id, upload.metadata ?? {});
      return;
    }
    if (idle < opts.expiryMs) return;
    const hours = Math.round((opts.expiryMs / 3_600_000) * 10) / 10;
    const session = createIngestSession(deps.store, deps.publisher, [filename], { jobId: id, alreadyOpened: true });
    await session.fail(
      `the resumable upload received no bytes for ${hours} hours after ${upload.offset} of ${upload.size ?? '?'} bytes; it was given up`,
      'interrupted',
    );
    deps.log(`gateway: tus upload ${id} given up after ${hours} hours without bytes`);
    await removeUpload(deps, id);
  };
  const sweep = async (startup = false) => {
    const names = await readdir(deps.directory).catch(() => [] as string[]);
    const ids = names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length));
    for (const id of ids) {
      await look(id, startup).catch((err: unknown) => deps.log(`gateway: tus upload ${id}: ${String(err)}`));
    }
  };
  await sweep(true);
  const timer = setInterval(() => void sweep(), opts.sweepIntervalMs);
  timer.unref();
  return { sweep: () => sweep(), stop: () => clearInterval(timer) };
}
