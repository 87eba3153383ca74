import type { CutoutFormat } from './events/job-created.js';

/** Every subject the mesh publishes, built in one place. Ids are single subject tokens. */
export const subjects = {
  jobCreated: (jobId: string) => `job.created.${jobId}` as const,
  jobSealed: (jobId: string) => `job.sealed.${jobId}` as const,
  jobFailed: (jobId: string) => `job.failed.${jobId}` as const,
  jobProgress: (jobId: string) => `job.progress.${jobId}` as const,
  chunkIngested: (jobId: string, chunkId: string) => `chunk.ingested.${jobId}.${chunkId}` as const,
  chunkMatted: (jobId: string, chunkId: string) => `chunk.matted.${jobId}.${chunkId}` as const,
  chunkCompared: (jobId: string, chunkId: string) => `chunk.compared.${jobId}.${chunkId}` as const,
  chunkAttemptFailed: (jobId: string, chunkId: string) => `chunk.attempt_failed.${jobId}.${chunkId}` as const,
  chunkDeadLettered: (jobId: string, chunkId: string) => `chunk.dead_lettered.${jobId}.${chunkId}` as const,
  chunkReplayed: (jobId: string, chunkId: string) => `chunk.replayed.${jobId}.${chunkId}` as const,
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

/** Copies of events that a stage gave up on, under `dead.<stage>.<job>.<chunk>`. */
export const DEAD_STREAM = 'MESH_DEAD';

/**
 * JetStream's own advisories for messages of MESH_EVENTS that were terminated or ran out of
 * deliveries. Captured in a stream created before any consumer, so none is missed.
 */
export const ADVISORIES_STREAM = 'MESH_ADVISORIES';

export function deadSubject(stage: string, jobId: string, chunkId: string): string {
  return `dead.${stage}.${jobId}.${chunkId}`;
}

/** Headers the dead-letter handler adds to the copy; the body stays the original event. */
export const deadHeaders = {
  originalSubject: 'Mesh-Original-Subject',
  originalSeq: 'Mesh-Original-Seq',
  stage: 'Mesh-Stage',
  deliveries: 'Mesh-Deliveries',
  lastError: 'Mesh-Last-Error',
  /** JSON array of every failed attempt: `{delivery, error, permanent, failed_at}`. */
  errorHistory: 'Mesh-Error-History',
} as const;

/** `chunk.<event>.<job>.<chunk>` -> its parts, or null for any other subject. */
export function parseChunkSubject(subject: string): { event: string; jobId: string; chunkId: string } | null {
  const parts = subject.split('.');
  if (parts.length !== 4 || parts[0] !== 'chunk') return null;
  return { event: parts[1]!, jobId: parts[2]!, chunkId: parts[3]! };
}

/** Durable consumer names, one per stage. */
export const durables = {
  matting: 'matting',
  comparison: 'comparison',
  statusProjector: 'status-projector',
  deadLetter: 'dead-letter',
} as const;

/** Object-store names of one chunk's files. */
export const objects = {
  original: (jobId: string, chunkId: string) => `${jobId}/${chunkId}/original`,
  matte: (jobId: string, chunkId: string) => `${jobId}/${chunkId}/matte.png`,
  cutout: (jobId: string, chunkId: string, format: CutoutFormat = 'png') => `${jobId}/${chunkId}/cutout.${format}`,
  comparison: (jobId: string, chunkId: string) => `${jobId}/${chunkId}/comparison.jpg`,
  /** Small JPEG of the comparison, inlined in job reports. */
  thumbnail: (jobId: string, chunkId: string) => `${jobId}/${chunkId}/thumbnail.jpg`,
  /**
   * Ground-truth matte the upload carried for this image, if any. The gateway writes it before it
   * publishes the chunk's `chunk.ingested`, so a stage that finds it missing knows there is none.
   */
  groundTruth: (jobId: string, chunkId: string) => `${jobId}/${chunkId}/gt.png`,
} as const;

/** `Nats-Msg-Id` of an event, so a retried publish is dropped by the stream's duplicate window. */
export function messageId(type: string, jobId: string, chunkId?: string): string {
  return chunkId === undefined ? `${type}:${jobId}` : `${type}:${jobId}:${chunkId}`;
}
