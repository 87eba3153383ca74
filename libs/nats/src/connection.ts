import { connect, type NatsConnection } from '@nats-io/transport-node';

/**
 * Connect with reconnects forever: a restarted or failed-over server is waited for, not fatal.
 * `noAsyncTraces`: nats.js otherwise builds an Error (a captured stack) for every request in case
 * it times out; at one request per stored chunk and per publish that was 6% of the gateway's CPU.
 * A timeout still says which subject timed out, not which line of ours asked.
 */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  const nc = await connect({
    servers: url.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    noAsyncTraces: true,
  });
  return nc;
}
