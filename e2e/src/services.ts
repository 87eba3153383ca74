import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, repoRoot } from '@mesh/testing';

/** The four services of the mesh, each a separate node process, as `npm start` runs them. */
export const SERVICES = ['status-projector', 'matting', 'comparison', 'gateway'] as const;

export type ServiceName = (typeof SERVICES)[number];

/**
 * The node flags a service runs with: `apps/<name>/node-flags`, one line, read by every launcher
 * (the Dockerfile, `npm start`, these tests, the benches). Only the gateway has one.
 */
export function nodeFlags(name: string): string[] {
  const file = path.join(repoRoot(), 'apps', name, 'node-flags');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean) : [];
}

export interface RunningMesh {
  baseUrl: string;
  /** SIGKILL one service (no chance to finish or ack), then start it again. */
  killAndRestart(name: ServiceName): Promise<void>;
  /** Each service's current process id. */
  pids(): Record<ServiceName, number>;
  /** Everything the services printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export async function startServices(natsUrl: string, dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<RunningMesh> {
  const root = repoRoot();
  const port = await freePort();
  let log = '';
  const spawnService = (name: ServiceName): ChildProcess => {
    const child = spawn(process.execPath, [...nodeFlags(name), path.join(root, 'apps', name, 'dist', 'main.js')], {
      cwd: root,
      env: {
        ...process.env,
        NATS_URL: natsUrl,
        DATA_DIR: dataDir,
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tag = (d: Buffer) => (log += d.toString().replace(/^(?=.)/gm, `[${name}] `));
    child.stdout?.on('data', tag);
    child.stderr?.on('data', tag);
    return child;
  };
  const running = new Map<ServiceName, ChildProcess>(SERVICES.map((name) => [name, spawnService(name)]));
  const children = () => [...running.values()];
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${baseUrl}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    const dead = children().find((c) => c.exitCode !== null);
    if (dead || Date.now() > deadline) throw new Error(`mesh did not come up:\n${log}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    baseUrl,
    output: () => log,
    pids: () => Object.fromEntries([...running].map(([name, c]) => [name, c.pid!])) as Record<ServiceName, number>,
    killAndRestart: async (name) => {
      const child = running.get(name)!;
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
      log += `[test] killed ${name} with SIGKILL\n`;
      running.set(name, spawnService(name));
    },
    stop: async () => {
      await Promise.all(
        children().map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGTERM');
              setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
            }),
        ),
      );
    },
  };
}
