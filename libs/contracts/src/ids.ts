import { z } from 'zod';

/** A NATS subject token: no dots, wildcards or whitespace, so ids can sit inside subjects. */
const token = /^[A-Za-z0-9_-]{1,128}$/;

/** Opaque job id (a UUID in practice). */
export const JobId = z.string().regex(token, 'job_id must be 1-128 of [A-Za-z0-9_-]');
/** Opaque chunk id, unique within its job. */
export const ChunkId = z.string().regex(token, 'chunk_id must be 1-128 of [A-Za-z0-9_-]');
/** ISO-8601 timestamp. */
export const Timestamp = z.iso.datetime();

export type JobId = z.infer<typeof JobId>;
export type ChunkId = z.infer<typeof ChunkId>;
