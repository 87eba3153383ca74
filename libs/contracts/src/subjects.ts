/** Every subject the mesh publishes, built in one place. Ids are single subject tokens. */
export const subjects = {
  jobCreated: (jobId: string) => `job.created.${jobId}` as const,
  jobSealed: (jobId: string) => `job.sealed.${jobId}` as const,
  jobFailed: (jobId: string) => `job.failed.${jobId}` as const,
  chunkIngested: (jobId: string, chunkId: string) => `chunk.ingested.${jobId}.${chunkId}` as const,
  chunkMatted: (jobId: string, chunkId: string) => `chunk.matted.${jobId}.${chunkId}` as const,
  chunkCompared: (jobId: string, chunkId: string) => `chunk.compared.${jobId}.${chunkId}` as const,
  chunkFailed: (jobId: string, chunkId: string) => `chunk.failed.${jobId}.${chunkId}` as const,
  /** Core NATS (not stored): the read model of a job changed. */
  statusChanged: (jobId: string) => `status.changed.${jobId}` as const,
} as const;

/** Subject filters the consumers are bound to. */
export const filters = {
  allEvents: ['job.>', 'chunk.>'],
  chunkIngested: 'chunk.ingested.>',
  chunkMatted: 'chunk.matted.>',
  statusChanged: 'status.changed.*',
} as const;

/** The event stream every stage reads and writes. */
export const EVENTS_STREAM = 'MESH_EVENTS';

/** Durable consumer names, one per stage. */
export const durables = {
  matting: 'matting',
  comparison: 'comparison',
  statusProjector: 'status-projector',
} as const;

/** Object-store names of one chunk's files. */
export const objects = {
  original: (jobId: string, chunkId: string) => `${jobId}/${chunkId}/original`,
  matte: (jobId: string, chunkId: string) => `${jobId}/${chunkId}/matte.png`,
  cutout: (jobId: string, chunkId: string) => `${jobId}/${chunkId}/cutout.png`,
  comparison: (jobId: string, chunkId: string) => `${jobId}/${chunkId}/comparison.jpg`,
} as const;

/** `Nats-Msg-Id` of an event, so a retried publish is dropped by the stream's duplicate window. */
export function messageId(type: string, jobId: string, chunkId?: string): string {
  return chunkId === undefined ? `${type}:${jobId}` : `${type}:${jobId}:${chunkId}`;
}
