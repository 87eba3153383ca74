export { openReadModel } from './open.js';
export type { Database } from './open.js';
export { migrate } from './schema.js';
export { chunkRank } from './rows.js';
export type { ChunkRow, ChunkStatus, JobRow } from './rows.js';
export { jobStatus, completedChunks, deadChunks } from './status.js';
export type { JobState, JobStatus } from './status.js';
export { buildReport, jobReport, summarise, measureOf, REPORT_MEASURES } from './report.js';
export type { JobReport, JobSummary, Distribution, ReportChunk, ReportOptions, StoredFigures, MeasureKey } from './report.js';
