import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { EVENTS, Server } from '@tus/server';
import type { ObjectStore } from '@nats-io/obj';
import { JobCreated, JobProgress, subjects } from '@mesh/contracts';
import type { EventPublisher } from '@mesh/nats';
import type { IngestLimits } from './ingest-file.js';
import { ingestFile } from './ingest-file.js';
import { finishIngest } from './ingest-outcome.js';
import { createIngestSession } from './ingest.js';

export interface TusDeps {
  store: ObjectStore;
  publisher: EventPublisher;
  limits: IngestLimits & { maxUploadSize: number };
  /** Where partial uploads wait for their next PATCH (under DATA_DIR). */
  directory: string;
  log: (line: string) => void;
}

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
      const filename = upload.metadata?.filename ?? 'upload';
      await createIngestSession(deps.store, deps.publisher, [filename], callback ?? undefined, upload.id).start();
      return { metadata: upload.metadata ?? {} };
    },
    onUploadFinish: async (_req, upload) => {
      const filename = upload.metadata?.filename ?? 'upload';
      const file = path.join(deps.directory, upload.id);
      const session = createIngestSession(deps.store, deps.publisher, [filename], undefined, upload.id, true);
      // Cutting 100 GB takes a while: the client is answered now and follows the job's status.
      void finishIngest(session, () => ingestFile(session, filename, createReadStream(file, { highWaterMark: 1 << 20 }), deps.limits), deps.log)
        .catch((err: unknown) => deps.log(`gateway: tus upload ${upload.id} failed: ${String(err)}`))
        .finally(() => rm(file, { force: true }).then(() => rm(`${file}.json`, { force: true })));
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
