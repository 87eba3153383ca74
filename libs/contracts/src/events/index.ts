import { z } from 'zod';
import { ChunkCompared } from './chunk-compared.js';
import { ChunkFailed } from './chunk-failed.js';
import { ChunkIngested } from './chunk-ingested.js';
import { ChunkMatted } from './chunk-matted.js';
import { JobCreated } from './job-created.js';
import { JobFailed } from './job-failed.js';
import { JobSealed } from './job-sealed.js';

/** Every event the mesh stores, keyed on `type`. */
export const PipelineEvent = z.discriminatedUnion('type', [
  JobCreated,
  JobSealed,
  JobFailed,
  ChunkIngested,
  ChunkMatted,
  ChunkCompared,
  ChunkFailed,
]);
export type PipelineEvent = z.infer<typeof PipelineEvent>;
