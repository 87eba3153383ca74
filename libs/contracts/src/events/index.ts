import { z } from 'zod';
import { ChunkCompared } from './chunk-compared.js';
import { ChunkAttemptFailed } from './chunk-attempt-failed.js';
import { ChunkDeadLettered } from './chunk-dead-lettered.js';
import { ChunkReplayed } from './chunk-replayed.js';
import { ChunkIngested } from './chunk-ingested.js';
import { ChunkMatted } from './chunk-matted.js';
import { JobCreated } from './job-created.js';
import { JobFailed } from './job-failed.js';
import { JobProgress } from './job-progress.js';
import { JobSealed } from './job-sealed.js';

/** Every event the mesh stores, keyed on `type`. */
export const PipelineEvent = z.discriminatedUnion('type', [
  JobCreated,
  JobSealed,
  JobFailed,
  JobProgress,
  ChunkIngested,
  ChunkMatted,
  ChunkCompared,
  ChunkAttemptFailed,
  ChunkDeadLettered,
  ChunkReplayed,
]);
export type PipelineEvent = z.infer<typeof PipelineEvent>;
