import assert from 'node:assert/strict';
import sharp from 'sharp';
import { ChunkIngested, ChunkMatted, UnsupportedImageError, encodeEvent, subjects } from '@mesh/contracts';
import type { StageContext } from '@mesh/nats';
import { createMattingHandler } from './handler.js';
import { MODEL_SIZE } from './isnet.js';

type Msg = Parameters<ReturnType<typeof createMattingHandler>>[0];

/** An object store that holds blobs in a map: the handler only reads and writes whole objects. */
function memoryStore(blobs: Map<string, Uint8Array>): StageContext['store'] {
  return {
    getBlob: async (name: string) => blobs.get(name) ?? null,
    putBlob: async (meta: { name: string }, data: Uint8Array) => void blobs.set(meta.name, data),
  } as unknown as StageContext['store'];
}

function ingested(chunk: string): ChunkIngested {
  return {
    type: 'chunk.ingested',
    job_id: 'job1',
    chunk_id: chunk,
    name: `holiday/${chunk}.png`,
    object: `job1/${chunk}/original`,
    content_type: 'image/png',
    bytes: 1,
    sha256: '0'.repeat(64),
    ingested_at: new Date().toISOString(),
  };
}

function message(event: ChunkIngested): Msg {
  const subject = subjects.chunkIngested(event.job_id, event.chunk_id);
  return { subject, data: encodeEvent(ChunkIngested, event) } as unknown as Msg;
}

describe('matting handler', () => {
  const published: { subject: string; event: unknown; msgId: string }[] = [];
  const publisher: StageContext['publisher'] = {
    publish: async (_schema, subject, event, msgId) => {
      published.push({ subject, event, msgId });
      return published.length;
    },
  };
  const model = { name: 'fake.onnx', infer: async () => new Float32Array(MODEL_SIZE * MODEL_SIZE).fill(1) };
  beforeEach(() => (published.length = 0));

  it('stores a matte and a cut-out and publishes chunk.matted with their names', async () => {
    const blobs = new Map<string, Uint8Array>();
    const original = sharp({ create: { width: 30, height: 20, channels: 3, background: '#336699' } });
    blobs.set('job1/c1/original', await original.png().toBuffer());
    const handle = createMattingHandler({ store: memoryStore(blobs), publisher, model });
    await handle(message(ingested('c1')));

    assert.equal(published.length, 1);
    const [p] = published;
    assert.equal(p?.subject, 'chunk.matted.job1.c1');
    assert.equal(p?.msgId, 'chunk.matted:job1:c1');
    const e = ChunkMatted.parse(p?.event);
    assert.deepEqual(
      [e.name, e.original_object, e.matte_object, e.cutout_object, e.width, e.height, e.model],
      ['holiday/c1.png', 'job1/c1/original', 'job1/c1/matte.png', 'job1/c1/cutout.png', 30, 20, 'fake.onnx'],
    );
    const matte = await sharp(blobs.get(e.matte_object)).metadata();
    assert.deepEqual([matte.width, matte.height, matte.channels], [30, 20, 1]);
    const cutout = await sharp(blobs.get(e.cutout_object)).metadata();
    assert.deepEqual([cutout.width, cutout.height, cutout.channels], [30, 20, 4]);
  });

  it('fails a corrupt original with UnsupportedImageError and publishes nothing', async () => {
    const blobs = new Map<string, Uint8Array>([['job1/bad/original', Buffer.from('GIF89a but not really')]]);
    const handle = createMattingHandler({ store: memoryStore(blobs), publisher, model });
    await assert.rejects(handle(message(ingested('bad'))), UnsupportedImageError);
    assert.equal(published.length, 0);
    assert.deepEqual([...blobs.keys()], ['job1/bad/original']);
  });
});
