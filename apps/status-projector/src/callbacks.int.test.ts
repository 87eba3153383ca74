import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { PipelineEvent } from '@mesh/contracts';
import { openReadModel } from '@mesh/read-model';
import { tempDir } from '@mesh/testing';
import { startNotifier } from './notifier.js';
import { createProjection } from './projection.js';

const at = new Date(0).toISOString();

describe('job callbacks', function () {
  this.timeout(30_000);

  it('POSTs each permanent failure and the finished job once to the callback_url, retrying a failed POST', async () => {
    const received: { type: string; [k: string]: unknown }[] = [];
    let requests = 0;
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        requests++;
        // The user's endpoint is down for the first call.
        if (requests === 1) return res.writeHead(503).end();
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const dir = await tempDir();
    const db = openReadModel(path.join(dir.dir, 'mesh.db'));
    try {
      const p = createProjection(db);
      const events: PipelineEvent[] = [
        { type: 'job.created', job_id: 'j', created_at: at, source: [], callback_url: url },
        ...['c1', 'c2'].map((c): PipelineEvent => ({
          type: 'chunk.ingested', job_id: 'j', chunk_id: c, name: `${c}.jpg`, object: `j/${c}/original`,
          content_type: 'image/jpeg', bytes: 1, sha256: 'b'.repeat(64), ingested_at: at,
        })),
        { type: 'job.sealed', job_id: 'j', total_chunks: 2, skipped: [], sealed_at: at },
        {
          type: 'chunk.dead_lettered', job_id: 'j', chunk_id: 'c2', stage: 'matting', reason: 'cannot decode image',
          deliveries: 1, dead_subject: 'dead.matting.j.c2', dead_seq: 3, original_seq: 3, dead_lettered_at: at,
        },
        {
          type: 'chunk.compared', job_id: 'j', chunk_id: 'c1', name: 'c1.jpg', comparison_object: 'j/c1/comparison.jpg',
          figures: { foreground_fraction: 0.5, mean_alpha: 0.5, uncertain_fraction: 0 }, compared_at: at,
        },
      ];
      events.forEach((e, i) => p.apply(i + 1, e));
      // Redelivered, and the same dead letter announced again under another sequence.
      events.forEach((e, i) => p.apply(i + 1, e));
      p.apply(100, events[4]!);

      const notifier = startNotifier(db, { intervalMs: 50, log: () => undefined });
      const deadline = Date.now() + 20_000;
      while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      await notifier.stop();

      assert.equal(received.length, 2, JSON.stringify(received));
      const failure = received.find((r) => r.type === 'chunk.permanently_failed');
      assert.deepEqual(failure, {
        type: 'chunk.permanently_failed', job_id: 'j', chunk_id: 'c2', name: 'c2.jpg', stage: 'matting', reason: 'cannot decode image',
      });
      const finished = received.find((r) => r.type === 'job.finished') as unknown as { status: { state: string; completed: number; failed: number } };
      assert.deepEqual([finished.status.state, finished.status.completed, finished.status.failed], ['completed_with_failures', 1, 1]);
      assert.equal(requests, 3, 'one refused POST, retried, plus the second callback');
    } finally {
      db.close();
      server.close();
      await dir.remove();
    }
  });

  it('queues nothing for a job without a callback_url', () => {
    const db = openReadModel(':memory:');
    const p = createProjection(db);
    p.apply(1, { type: 'job.created', job_id: 'j', created_at: at, source: [] });
    p.apply(2, { type: 'job.sealed', job_id: 'j', total_chunks: 0, skipped: [], sealed_at: at });
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM notifications').get() as { n: number }).n, 0);
  });
});
