import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import unzipper from 'unzipper';
import { fixturePhotosDir, repoRoot, startNatsServer, tempDir, type NatsServerHandle } from '@mesh/testing';

const run = promisify(execFile);
import { uploadPhotos, waitDone, type Status } from './mesh-client.js';
import { startServices, type RunningMesh } from './services.js';

/** How many `chunk.compared` events each chunk of the job has in the stream. */
async function comparedPerChunk(natsUrl: string, jobId: string): Promise<Map<string, number>> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info('MESH_EVENTS', { subjects_filter: `chunk.compared.${jobId}.*` });
    return new Map(Object.entries(state.subjects ?? {}).map(([s, n]) => [s.split('.')[3]!, n]));
  } finally {
    await nc.close();
  }
}

async function downloadNames(baseUrl: string, jobId: string): Promise<string[]> {
  const res = await fetch(`${baseUrl}/download/${jobId}`);
  assert.equal(res.status, 200);
  const zip = await unzipper.Open.buffer(Buffer.from(await res.arrayBuffer()));
  return zip.files.map((f) => f.path);
}

/** Run the `mesh` CLI against the gateway; its standard output. */
async function mesh_(baseUrl: string, args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [path.join(repoRoot(), 'apps', 'cli', 'dist', 'main.js'), ...args], {
    env: { ...process.env, MESH_URL: baseUrl },
  });
  return stdout.trim();
}

const PHOTOS = ['chelsea.png', 'coffee.png', 'rocket.jpg', 'grace_hopper.jpg', 'astronaut.png'];

describe('failures the mesh survives (real processes, real nats-server)', function () {
  this.timeout(10 * 60_000);
  let nats: NatsServerHandle;
  let data: { dir: string; remove: () => Promise<void> };
  let mesh: RunningMesh | undefined;
  let hook: http.Server | undefined;

  beforeEach(async () => {
    nats = await startNatsServer();
    data = await tempDir('mesh-chaos-');
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && mesh) console.log(mesh.output());
    await mesh?.stop();
    mesh = undefined;
    hook?.close();
    hook = undefined;
    await nats.cleanup();
    await data.remove();
  });

  it('retries injected out-of-memory failures: N=2 completes on the third delivery, N=3 is dead-lettered, replayed, completed', async () => {
    mesh = await startServices(nats.url, data.dir, {
      MATTING_FAULT_INJECTION: 'photos/chelsea.png=2,photos/coffee.png=3',
      RETRY_BACKOFF_MS: '200',
    });
    // The user's endpoint for callback_url: every POST it receives.
    const callbacks: { type: string; chunk_id?: string; reason?: string; status?: Status }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d)).on('end', () => {
        callbacks.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    hook = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/done`;
    const job = await uploadPhotos(mesh.baseUrl, fixturePhotosDir(), ['chelsea.png', 'coffee.png', 'rocket.jpg'], `?callback_url=${encodeURIComponent(hookUrl)}`);
    const first = await waitDone(mesh.baseUrl, job);
    assert.deepEqual([first.state, first.completed, first.failed], ['completed_with_failures', 2, 1]);
    const [dead] = first.failures;
    assert.equal(dead?.name, 'photos/coffee.png');
    assert.equal(dead?.stage, 'matting');
    assert.match(dead?.reason ?? '', /Failed to allocate memory/);

    // The operator's view and replay, through the product's CLI.
    const shown = await mesh_(mesh.baseUrl, ['status', job]);
    assert.match(shown, new RegExp(`${dead!.chunk_id}  photos/coffee.png  \\[matting\\] .*Failed to allocate memory`));
    assert.equal(await mesh_(mesh.baseUrl, ['replay', job]), `replayed 1: ${dead!.chunk_id}`);
    const second = await waitDone(mesh.baseUrl, job);
    assert.deepEqual([second.state, second.completed, second.failed, second.failures], ['completed', 3, 0, []]);
    const names = await downloadNames(mesh.baseUrl, job);
    assert.equal(names.filter((n) => n.startsWith('cutout/')).length, 3);
    assert.ok(names.includes('cutout/photos/coffee.png'));

    // callback_url: the permanent failure, the first finish, and the finish after the replay.
    const deadline = Date.now() + 15_000;
    while (callbacks.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      callbacks.map((c) => (c.type === 'job.finished' ? `${c.type} ${c.status?.state}` : `${c.type} ${c.chunk_id}`)),
      [`chunk.permanently_failed ${dead!.chunk_id}`, 'job.finished completed_with_failures', 'job.finished completed'],
    );
    assert.match(callbacks[0]?.reason ?? '', /Failed to allocate memory/);
  });

  it('loses and doubles nothing when the matting worker is SIGKILLed three times mid-inference', async () => {
    // Short ack wait so a killed worker's message comes back quickly. Three kills can land on the
    // same chunk, so this test allows a fourth delivery; the dead-letter path is proven above.
    mesh = await startServices(nats.url, data.dir, { ACK_WAIT_SECONDS: '4', MAX_DELIVER: '4', MATTING_CONCURRENCY: '1' });
    const job = await uploadPhotos(mesh.baseUrl, fixturePhotosDir(), PHOTOS);
    for (let kill = 0; kill < 3; kill++) {
      // Inference takes seconds on this machine: a second in, the worker is inside one.
      await new Promise((r) => setTimeout(r, 1500));
      await mesh.killAndRestart('matting');
    }
    const final = await waitDone(mesh.baseUrl, job);
    assert.deepEqual([final.state, final.completed, final.failed], ['completed', PHOTOS.length, 0]);
    assert.equal((mesh.output().match(/killed matting with SIGKILL/g) ?? []).length, 3);
    const perChunk = await comparedPerChunk(nats.url, job);
    assert.equal(perChunk.size, PHOTOS.length, 'every chunk compared');
    assert.deepEqual([...new Set(perChunk.values())], [1], 'each exactly once in the stream');
    const cutouts = (await downloadNames(mesh.baseUrl, job)).filter((n) => n.startsWith('cutout/')).sort();
    assert.deepEqual(cutouts, PHOTOS.map((p) => `cutout/photos/${p.replace(/\.[^.]+$/, '')}.png`).sort());
  });

  it('finishes the job when nats-server restarts in the middle of it (file storage kept)', async () => {
    mesh = await startServices(nats.url, data.dir, { ACK_WAIT_SECONDS: '10' });
    const job = await uploadPhotos(mesh.baseUrl, fixturePhotosDir(), PHOTOS);
    await new Promise((r) => setTimeout(r, 2500));
    await nats.restart();
    const final = await waitDone(mesh.baseUrl, job);
    assert.deepEqual([final.state, final.completed, final.failed], ['completed', PHOTOS.length, 0]);
    const status = (await (await fetch(`${mesh.baseUrl}/status/${job}`)).json()) as Status;
    assert.equal(status.completed, PHOTOS.length);
  });
});
