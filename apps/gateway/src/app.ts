import Koa from 'koa';
import Router from '@koa/router';
import type { NatsConnection } from '@nats-io/transport-node';
import type { ObjectStore } from '@nats-io/obj';
import { CutoutFormat, JobCreated, JobId, UploadRejectedError } from '@mesh/contracts';
import { replayDeadLetter, type EventPublisher } from '@mesh/nats';
import { deadChunks, jobReport, jobStatus, summarise, type Database, type JobStatus, type JobSummary } from '@mesh/read-model';
import { z } from 'zod';
import { downloadZip } from './download.js';
import { readJsonBody } from './json-body.js';
import { reportWithHtml } from './report.js';
import { createIngestSession, type IngestJob } from './ingest.js';
import { jobRecord } from './job-state.js';
import { statusEventStream } from './sse.js';
import type { IngestLimits } from './ingest-file.js';
import { finishIngest } from './ingest-outcome.js';
import { checkUploadRequest, receiveUpload } from './upload.js';
import { TUS_PATH } from './tus.js';
import { requestBody } from './tus-body.js';
import { NodeRequest, sendNodeResponse } from 'srvx/node';
import type { Server as TusServer } from '@tus/server';

export interface GatewayDeps {
  nc: NatsConnection;
  store: ObjectStore;
  publisher: EventPublisher;
  db: Database;
  limits: IngestLimits & { maxUploadSize: number };
  /** The resumable-upload (tus) server, mounted at /files. */
  tus?: TusServer;
  log?: (line: string) => void;
}

/** Thrown for a job id that the read model does not know. */
export class JobNotFoundError extends Error {
  constructor(jobId: string) {
    super(`no job ${jobId}`);
    this.name = 'JobNotFoundError';
  }
}

export function createApp(deps: GatewayDeps): Koa {
  const log = deps.log ?? ((line: string) => console.log(line));
  const app = new Koa();
  const router = new Router();

  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof UploadRejectedError) {
        ctx.status = err.status;
        ctx.body = { error: err.message };
      } else if (err instanceof JobNotFoundError) {
        ctx.status = 404;
        ctx.body = { error: err.message };
      } else {
        log(`gateway: ${ctx.method} ${ctx.path} failed: ${(err as Error)?.stack ?? String(err)}`);
        ctx.status = 500;
        ctx.body = { error: 'internal error' };
      }
    }
  });

  // The summary reads every chunk's figures: computed once the job is done (the SSE stream ends
  // then, so once per client), null before.
  function withSummary(status: JobStatus): JobStatus & { summary: JobSummary | null };
  function withSummary(status: JobStatus | null): (JobStatus & { summary: JobSummary | null }) | null;
  function withSummary(status: JobStatus | null) {
    if (!status) return null;
    const report = status.done ? jobReport(deps.db, status.job_id) : null;
    return { ...status, summary: report ? summarise(report) : null };
  }

  // tus speaks raw HTTP (HEAD, PATCH, its own headers): hand it the request untouched, as
  // @tus/server's own `handle` does, with the body in pieces of up to 1 MiB (tus-body.ts).
  app.use(async (ctx, next) => {
    if (!deps.tus || (ctx.path !== TUS_PATH && !ctx.path.startsWith(`${TUS_PATH}/`))) return next();
    ctx.respond = false;
    const request = new NodeRequest({ req: ctx.req, res: ctx.res });
    if (ctx.method === 'PATCH' || ctx.method === 'POST') {
      let body: ReadableStream<Uint8Array> | undefined;
      // Read only if @tus/server asks for it, as srvx's own body is.
      Object.defineProperty(request, 'body', { get: () => (body ??= requestBody(ctx.req)), configurable: true });
    }
    await sendNodeResponse(ctx.res, await deps.tus.handleWeb(request));
  });

  const statusOf = (id: string) => {
    if (!JobId.safeParse(id).success) throw new JobNotFoundError(id);
    const status = jobStatus(deps.db, id);
    if (!status) throw new JobNotFoundError(id);
    return status;
  };

  const callbackOf = (ctx: Koa.Context): string | undefined => {
    const callback = ctx.query.callback_url;
    if (callback !== undefined && (typeof callback !== 'string' || !JobCreated.shape.callback_url.safeParse(callback).success)) {
      throw new UploadRejectedError('callback_url must be one http(s) URL');
    }
    return callback;
  };

  const cutoutFormatOf = (ctx: Koa.Context): CutoutFormat | undefined => {
    const format = ctx.query.cutout_format;
    if (format === undefined) return undefined;
    const parsed = CutoutFormat.safeParse(format);
    if (!parsed.success) throw new UploadRejectedError(`cutout_format must be one of ${CutoutFormat.options.join(', ')}`);
    return parsed.data;
  };

  /** What the user chose for a new job, from the query string. */
  const newJobOf = (ctx: Koa.Context): IngestJob => {
    const callbackUrl = callbackOf(ctx);
    const cutoutFormat = cutoutFormatOf(ctx);
    return { ...(callbackUrl ? { callbackUrl } : {}), ...(cutoutFormat ? { cutoutFormat } : {}) };
  };

  // Open a job before its bytes arrive, so progress can be watched from the first byte.
  router.post('/jobs', async (ctx) => {
    const session = createIngestSession(deps.store, deps.publisher, [], newJobOf(ctx));
    await session.start();
    ctx.status = 201;
    ctx.body = { job_id: session.jobId };
  });

  /** The job opened by POST /jobs that an upload names: open, with what was chosen when it was opened. */
  const openedJob = async (ctx: Koa.Context, id: string): Promise<IngestJob> => {
    if (!JobId.safeParse(id).success) throw new JobNotFoundError(id);
    if (ctx.query.callback_url !== undefined || ctx.query.cutout_format !== undefined) {
      throw new UploadRejectedError('callback_url and cutout_format belong to POST /jobs, which opened this job');
    }
    const record = await jobRecord(deps.nc, id);
    if (record.state === 'missing') throw new JobNotFoundError(id);
    if (record.state === 'closed') throw new UploadRejectedError(`job ${id} already has its upload`, 409);
    const created = record.created!;
    return {
      jobId: id,
      alreadyOpened: true,
      ...(created.callback_url ? { callbackUrl: created.callback_url } : {}),
      ...(created.cutout_format ? { cutoutFormat: created.cutout_format } : {}),
    };
  };

  router.post('/upload', async (ctx) => {
    checkUploadRequest(ctx.req, deps.limits);
    const existing = ctx.query.job_id;
    if (existing !== undefined && typeof existing !== 'string') throw new UploadRejectedError('job_id must be one job id');
    const job = existing !== undefined ? await openedJob(ctx, existing) : newJobOf(ctx);
    const session = createIngestSession(deps.store, deps.publisher, [], job);
    await session.start();
    const outcome = await finishIngest(session, () => receiveUpload(ctx.req, session, deps.limits), log);
    ctx.status = outcome.status;
    ctx.body = outcome.body;
  });

  router.get('/status/:job_id', (ctx) => {
    ctx.body = withSummary(statusOf(ctx.params.job_id!));
  });

  router.get('/jobs/:job_id/report', (ctx) => {
    statusOf(ctx.params.job_id!);
    ctx.body = jobReport(deps.db, ctx.params.job_id!);
  });

  router.get('/jobs/:job_id/report.html', async (ctx) => {
    statusOf(ctx.params.job_id!);
    const built = await reportWithHtml(deps.db, deps.store, ctx.params.job_id!);
    if (!built) throw new JobNotFoundError(ctx.params.job_id!);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = built.html;
  });

  router.get('/status/:job_id/events', (ctx) => {
    const id = ctx.params.job_id!;
    statusOf(id);
    ctx.req.socket.setTimeout(0);
    ctx.set({ 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    ctx.type = 'text/event-stream';
    ctx.body = statusEventStream({ nc: deps.nc, jobId: id, read: () => withSummary(jobStatus(deps.db, id)) });
  });

  router.get('/download/:job_id', async (ctx) => {
    const id = ctx.params.job_id!;
    const status = withSummary(statusOf(id));
    const built = await reportWithHtml(deps.db, deps.store, id);
    const extras = built
      ? [
          { name: 'report.json', data: Buffer.from(JSON.stringify(built.report, null, 2)) },
          { name: 'report.html', data: Buffer.from(built.html) },
        ]
      : [];
    ctx.type = 'application/zip';
    ctx.attachment(`${id}.zip`);
    ctx.body = downloadZip(deps.db, deps.store, id, status, extras);
  });

  const ReplayRequest = z.object({ chunks: z.array(z.string()).max(100_000).optional() });

  router.post('/jobs/:job_id/replay', async (ctx) => {
    const id = ctx.params.job_id!;
    statusOf(id);
    const body = ReplayRequest.safeParse(await readJsonBody(ctx.req));
    if (!body.success) throw new UploadRejectedError('expected {"chunks": ["<chunk id>", ...]} or an empty body');
    const dead = deadChunks(deps.db, id);
    const wanted = body.data.chunks ? new Set(body.data.chunks) : undefined;
    const notDead = wanted ? [...wanted].filter((c) => !dead.some((d) => d.chunk_id === c)) : [];
    if (notDead.length > 0) {
      throw new UploadRejectedError(`these chunks are not dead-lettered: ${notDead.slice(0, 20).join(', ')}`);
    }
    const replayed: string[] = [];
    for (const d of dead) if (!wanted || wanted.has(d.chunk_id)) replayed.push(await replayDeadLetter(deps.nc, deps.publisher, d.dead_seq));
    log(`gateway: job ${id}: replayed ${replayed.length} dead-lettered chunks`);
    ctx.status = 202;
    ctx.body = { job_id: id, replayed };
  });

  router.get('/healthz', (ctx) => {
    ctx.status = deps.nc.isClosed() ? 503 : 200;
    ctx.body = { nats: deps.nc.isClosed() ? 'closed' : 'connected' };
  });

  app.use(router.routes()).use(router.allowedMethods());
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = { error: `no route ${ctx.method} ${ctx.path}` };
  });
  return app;
}
