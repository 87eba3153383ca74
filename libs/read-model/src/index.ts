export { openReadModel } from './open.js';
export type { Database } from './open.js';
export { migrate } from './schema.js';
export { chunkRank } from './rows.js';
export type { ChunkRow, ChunkStatus, JobRow } from './rows.js';
export { jobStatus, completedChunks } from './status.js';
export type { JobState, JobStatus } from './status.js';
