import { connect, type NatsConnection } from '@nats-io/transport-node';

/** Connect with reconnects forever: a restarted or failed-over server is waited for, not fatal. */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  const nc = await connect({
    servers: url.split(',').map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
  });
  return nc;
}
