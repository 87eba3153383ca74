export { JobId, ChunkId, Timestamp } from './ids.js';
export { JobCreated, CutoutFormat } from './events/job-created.js';
export { JobSealed } from './events/job-sealed.js';
export { JobFailed } from './events/job-failed.js';
export { JobProgress } from './events/job-progress.js';
export { ChunkIngested } from './events/chunk-ingested.js';
export { ChunkMatted } from './events/chunk-matted.js';
export {
  ChunkCompared,
  MatteFigures,
  MatteFlag,
  BoundingBox,
  MattingErrors,
  GroundTruthMetrics,
} from './events/chunk-compared.js';
export { Stage } from './events/stage.js';
export { ChunkAttemptFailed } from './events/chunk-attempt-failed.js';
export { ChunkDeadLettered } from './events/chunk-dead-lettered.js';
export { ChunkReplayed } from './events/chunk-replayed.js';
export { PipelineEvent } from './events/index.js';
export {
  subjects,
  filters,
  durables,
  objects,
  messageId,
  deadSubject,
  parseChunkSubject,
  EVENTS_STREAM,
  DEAD_STREAM,
  ADVISORIES_STREAM,
  deadHeaders,
} from './subjects.js';
export {
  PermanentError,
  InvalidEventError,
  UnsupportedImageError,
  RetryableError,
  ObjectMissingError,
  UploadRejectedError,
} from './errors.js';
export { parseEvent, encodeEvent } from './parse.js';
