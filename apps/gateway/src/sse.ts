import { PassThrough } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import { subjects } from '@mesh/contracts';
import type { JobStatus } from '@mesh/read-model';

export interface SseOptions {
  nc: NatsConnection;
  jobId: string;
  read: () => JobStatus | null;
  /** Safety net for a missed core-NATS notification. */
  pollMs?: number;
  heartbeatMs?: number;
}

/**
 * A Server-Sent Events stream of a job's status: one `status` event on every change (the projector
 * announces changes on `status.changed.<job>`), a final `done` event, then the stream ends.
 */
export function statusEventStream(opts: SseOptions): PassThrough {
  const out = new PassThrough();
  const sub = opts.nc.subscribe(subjects.statusChanged(opts.jobId));
  let last = '';
  let closed = false;

  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(poll);
    clearInterval(heartbeat);
    sub.unsubscribe();
    out.end();
  };
  const push = () => {
    if (closed) return;
    const status = opts.read();
    if (!status) return close();
    const json = JSON.stringify(status);
    if (json !== last) {
      last = json;
      out.write(`event: status\ndata: ${json}\n\n`);
    }
    if (status.done) {
      out.write(`event: done\ndata: ${json}\n\n`);
      close();
    }
  };
  const poll = setInterval(push, opts.pollMs ?? 2000);
  const heartbeat = setInterval(() => !closed && out.write(': keep-alive\n\n'), opts.heartbeatMs ?? 15000);
  out.on('close', close);
  (async () => {
    for await (const _ of sub) push();
  })().catch(() => close());
  setImmediate(push);
  return out;
}
