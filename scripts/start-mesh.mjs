#!/usr/bin/env node
// Runs nats-server and the four services on one machine, with the defaults of libs/config:
// JetStream store and SQLite under ./data, CPU inference, gateway on port 8000.
// Set NATS_URL to use a NATS server of your own instead of starting one.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = path.resolve(root, process.env.DATA_DIR ?? 'data');
const children = [];
let stopping = false;

function run(name, cmd, args, env = {}) {
  const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (stream, out) => {
    let rest = '';
    stream.on('data', (d) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop();
      for (const line of lines) out.write(`[${name}] ${line}\n`);
    });
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`[mesh] ${name} exited (${signal ?? code}); stopping the mesh`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

function waitForPort(port, host = '127.0.0.1', ms = 20000) {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, host, () => (s.end(), resolve()));
      s.on('error', () => (Date.now() > deadline ? reject(new Error(`nothing on ${host}:${port}`)) : setTimeout(attempt, 100)));
    };
    attempt();
  });
}

async function stop(code = 0) {
  stopping = true;
  const services = children.filter((c) => c.spawnargs[0] !== natsBin);
  for (const c of services) c.kill('SIGTERM');
  await Promise.all(services.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  for (const c of children) c.kill('SIGTERM');
  process.exit(code);
}

const natsBin = path.join(root, '.tools', 'bin', 'nats-server');
let natsUrl = process.env.NATS_URL;
if (!natsUrl) {
  const storeDir = path.join(dataDir, 'nats');
  mkdirSync(storeDir, { recursive: true });
  run('nats', natsBin, ['-c', path.join(root, 'deploy', 'nats.conf')], {
    NATS_SERVER_NAME: 'mesh-local',
    NATS_LISTEN: '127.0.0.1:4222',
    NATS_HTTP_LISTEN: '127.0.0.1:8222',
    NATS_STORE_DIR: storeDir,
  });
  await waitForPort(4222);
  natsUrl = 'nats://127.0.0.1:4222';
}

// A service's node flags, if it has any: apps/<app>/node-flags (one line; the Dockerfile reads it too).
function nodeFlags(app) {
  const file = path.join(root, 'apps', app, 'node-flags');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean) : [];
}

const env = { NATS_URL: natsUrl, DATA_DIR: dataDir };
for (const app of ['status-projector', 'matting', 'comparison', 'gateway']) {
  run(app, process.execPath, [...nodeFlags(app), path.join(root, 'apps', app, 'dist', 'main.js')], env);
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
console.log(`[mesh] starting; gateway on http://localhost:${process.env.GATEWAY_PORT ?? 8000} (Ctrl-C stops everything)`);
