import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { EVENTS_STREAM, JobCreated, parseEvent, subjects } from '@mesh/contracts';

/** Where a job stands by the event stream itself (the read model may lag behind it). */
export type JobState = 'missing' | 'open' | 'closed';

/** A job's state and, once it exists, the job.created that opened it (what the user chose). */
export interface JobRecord {
  state: JobState;
  created?: JobCreated;
}

/** Whether a job was opened (job.created) and whether it has ended (job.sealed or job.failed). */
export async function jobRecord(nc: NatsConnection, jobId: string): Promise<JobRecord> {
  const jsm = await jetstreamManager(nc);
  const last = (subject: string) => jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: subject }).catch(() => null);
  const opened = await last(subjects.jobCreated(jobId));
  if (!opened) return { state: 'missing' };
  const created = parseEvent(JobCreated, opened.data, opened.subject);
  const ended = (await last(subjects.jobSealed(jobId))) || (await last(subjects.jobFailed(jobId)));
  return { state: ended ? 'closed' : 'open', created };
}

export async function jobState(nc: NatsConnection, jobId: string): Promise<JobState> {
  return (await jobRecord(nc, jobId)).state;
}

/** Chunk ids of a job that have a chunk.ingested in the stream. */
export async function ingestedChunks(nc: NatsConnection, jobId: string): Promise<Set<string>> {
  const jsm = await jetstreamManager(nc);
  const filter = subjects.chunkIngested(jobId, '*');
  const info = await jsm.streams.info(EVENTS_STREAM, { subjects_filter: filter });
  return new Set(Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(subject.lastIndexOf('.') + 1)));
}
