import assert from 'node:assert/strict';
import { ChunkIngested, InvalidEventError, PermanentError, PipelineEvent, encodeEvent, parseEvent, subjects } from './index.js';

const ingested = {
  type: 'chunk.ingested',
  job_id: 'job-1',
  chunk_id: 'c000001',
  name: 'shoot/a.jpg',
  object: 'job-1/c000001/original',
  content_type: 'image/jpeg',
  bytes: 10,
  sha256: 'a'.repeat(64),
  ingested_at: new Date(0).toISOString(),
} as const;

describe('contracts', () => {
  it('round-trips a valid event through encode and parse', () => {
    const bytes = encodeEvent(ChunkIngested, ingested);
    assert.deepEqual(parseEvent(PipelineEvent, bytes, 'chunk.ingested.job-1.c000001'), ingested);
  });

  it('rejects a message that is not JSON as a permanent InvalidEventError', () => {
    assert.throws(
      () => parseEvent(PipelineEvent, new TextEncoder().encode('{nope'), 'x'),
      (err: unknown) => err instanceof InvalidEventError && err instanceof PermanentError && /not JSON/.test(err.message),
    );
  });

  it('names the offending field when a message breaks its schema', () => {
    const bad = new TextEncoder().encode(JSON.stringify({ ...ingested, sha256: 'xyz' }));
    assert.throws(() => parseEvent(ChunkIngested, bad, 's'), /sha256/);
  });

  it('refuses ids that would break a subject', () => {
    assert.throws(() => encodeEvent(ChunkIngested, { ...ingested, chunk_id: 'a.b' }));
    assert.equal(subjects.chunkMatted('j', 'c'), 'chunk.matted.j.c');
  });
});
