import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { EVENTS_STREAM, subjects } from '@mesh/contracts';

/** Where a job stands by the event stream itself (the read model may lag behind it). */
export type JobState = 'missing' | 'open' | 'closed';

/** Whether a job was opened (job.created) and whether it has ended (job.sealed or job.failed). */
export async function jobState(nc: NatsConnection, jobId: string): Promise<JobState> {
  const jsm = await jetstreamManager(nc);
  const last = (subject: string) => jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: subject }).catch(() => null);
  if (!(await last(subjects.jobCreated(jobId)))) return 'missing';
  return (await last(subjects.jobSealed(jobId))) || (await last(subjects.jobFailed(jobId))) ? 'closed' : 'open';
}
