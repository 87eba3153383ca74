import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from './repo.js';

/** A real nats-server with JetStream on a free port and a temporary store. */
export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The running process's id (for CPU and memory figures in benchmarks); undefined while stopped. */
  readonly pid: number | undefined;
  /** Stop the process; the store is kept so a restart finds its streams. */
  stop(): Promise<void>;
  /** Start it again on the same port and store. */
  restart(): Promise<void>;
  /** Stop and delete the store. */
  cleanup(): Promise<void>;
}

export function natsServerBinary(): string {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  const local = path.join(repoRoot(), '.tools', 'bin', 'nats-server');
  return existsSync(local) ? local : 'nats-server';
}

/** Ask the kernel for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}:\n${log()}`);
    if (/Server is ready/.test(log())) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not start on ${port}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Start nats-server -js on 127.0.0.1 with a fresh temporary store, as nats.js's own tests do. */
export async function startNatsServer(): Promise<NatsServerHandle> {
  const storeDir = await mkdtemp(path.join(os.tmpdir(), 'mesh-nats-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async () => {
    let out = '';
    const proc = spawn(natsServerBinary(), ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child = proc;
    await waitForPort(port, proc, () => out);
  };

  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    });
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get pid() {
      return child?.pid;
    },
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    cleanup: async () => {
      await stop();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
