import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { EVENTS_STREAM, PipelineEvent, parseEvent } from '@mesh/contracts';
import yazl from 'yazl';

/** Build a zip in memory from name -> bytes (tests and benchmarks only). */
export async function makeZip(entries: Record<string, Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of Object.entries(entries)) zip.addBuffer(data, name);
  zip.end();
  const parts: Buffer[] = [];
  for await (const part of zip.outputStream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Gateway limits for tests: small enough to hit. */
export const testLimits = {
  maxUploadSize: 50 * 1024 * 1024,
  maxEntryBytes: 20 * 1024 * 1024,
  maxUnpackedBytes: 40 * 1024 * 1024,
  maxRatio: 100,
  maxPixels: 60_000_000,
};

/** Every event of the mesh's stream, in stream order (tests only). */
export async function storedEvents(nc: NatsConnection, jobId?: string): Promise<PipelineEvent[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(EVENTS_STREAM);
  const out: PipelineEvent[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
    if (!m) continue;
    const event = parseEvent(PipelineEvent, m.data, m.subject);
    if (jobId === undefined || event.job_id === jobId) out.push(event);
  }
  return out;
}
