export { JobId, ChunkId, Timestamp } from './ids.js';
export { JobCreated } from './events/job-created.js';
export { JobSealed } from './events/job-sealed.js';
export { JobFailed } from './events/job-failed.js';
export { ChunkIngested } from './events/chunk-ingested.js';
export { ChunkMatted } from './events/chunk-matted.js';
export { ChunkCompared, MatteFigures } from './events/chunk-compared.js';
export { ChunkFailed, Stage } from './events/chunk-failed.js';
export { PipelineEvent } from './events/index.js';
export { subjects, filters, durables, objects, messageId, EVENTS_STREAM } from './subjects.js';
export {
  PermanentError,
  InvalidEventError,
  UnsupportedImageError,
  RetryableError,
  ObjectMissingError,
  UploadRejectedError,
  isPermanent,
} from './errors.js';
export { parseEvent, encodeEvent } from './parse.js';
