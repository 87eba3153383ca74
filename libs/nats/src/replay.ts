import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { ChunkReplayed, DEAD_STREAM, Stage, deadHeaders, parseChunkSubject, subjects } from '@mesh/contracts';
import type { EventPublisher } from './publish.js';

/** A dead letter that cannot be replayed (gone from MESH_DEAD, or not written by the mesh). */
export class DeadLetterNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeadLetterNotFoundError';
  }
}

/**
 * Send one dead letter back to its stage, exactly as an operator does with the nats CLI: get it
 * from MESH_DEAD by sequence, publish its body and original headers to `Mesh-Original-Subject`
 * with a fresh `Nats-Msg-Id` (`replay:<dead seq>`, so a double replay is stored once). First
 * `chunk.replayed` tells the read model the chunk is in flight again.
 */
export async function replayDeadLetter(nc: NatsConnection, publisher: EventPublisher, deadSeq: number): Promise<string> {
  const jsm = await jetstreamManager(nc);
  const dead = await jsm.streams.getMessage(DEAD_STREAM, { seq: deadSeq }).catch(() => null);
  const subject = dead?.header?.get(deadHeaders.originalSubject);
  const stage = Stage.safeParse(dead?.header?.get(deadHeaders.stage));
  const ids = subject ? parseChunkSubject(subject) : null;
  if (!dead || !subject || !ids || !stage.success) throw new DeadLetterNotFoundError(`no dead letter at ${DEAD_STREAM} seq ${deadSeq}`);

  const h = natsHeaders();
  for (const [key, values] of dead.header ?? []) {
    if (key.startsWith('Mesh-') || key === 'Nats-Msg-Id') continue;
    for (const v of values) h.append(key, v);
  }
  await publisher.publish(
    ChunkReplayed,
    subjects.chunkReplayed(ids.jobId, ids.chunkId),
    {
      type: 'chunk.replayed',
      job_id: ids.jobId,
      chunk_id: ids.chunkId,
      stage: stage.data,
      dead_seq: deadSeq,
      replayed_at: new Date().toISOString(),
    },
    `replayed:${deadSeq}`,
  );
  // After chunk.replayed, so the read model has the chunk in flight when its event comes back.
  await jetstream(nc).publish(subject, dead.data, { headers: h, msgID: `replay:${deadSeq}` });
  return ids.chunkId;
}
