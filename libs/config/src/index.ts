import { z } from 'zod';
import path from 'node:path';

/** Raised once with every bad variable, so a misconfigured service says all at start-up. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const int = (def: number) => z.coerce.number().int().positive().default(def);

const schema = z.object({
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  DATA_DIR: z.string().min(1).default('./data'),
  SQLITE_PATH: z.string().min(1).optional(),
  OBJECT_BUCKET: z.string().regex(/^[A-Za-z0-9_-]+$/).default('mesh-chunks'),
  /** How long events stay in the stream; replay and rebuilds read back this far. */
  EVENTS_MAX_AGE_HOURS: int(24 * 7),
  GATEWAY_PORT: int(8000),
  GATEWAY_HOST: z.string().default('0.0.0.0'),
  /** Largest accepted upload in bytes (100 GiB). */
  MAX_UPLOAD_SIZE: int(100 * 1024 ** 3),
  /** Largest uncompressed size of one archive entry (8 GiB). */
  MAX_ENTRY_BYTES: int(8 * 1024 ** 3),
  /** Largest total an upload's archives may unpack to (200 GiB). */
  MAX_UNPACKED_BYTES: int(200 * 1024 ** 3),
  /** Largest uncompressed/compressed ratio of one archive entry: beyond it, a zip bomb. */
  MAX_COMPRESSION_RATIO: int(100),
  /** An unfinished resumable (tus) upload that receives no bytes for this long fails its job as interrupted. */
  TUS_EXPIRY_HOURS: z.coerce.number().positive().default(24),
  MODEL_PATH: z.string().min(1).optional(),
  /** Which ISNet variant of @imgly/background-removal-data to reassemble when MODEL_PATH is unset. */
  MODEL_VARIANT: z.enum(['small', 'medium']).default('medium'),
  MODEL_CACHE_DIR: z.string().min(1).default('./.cache/models'),
  EXECUTION_PROVIDER: z.enum(['cpu', 'cuda']).default('cpu'),
  /** Threads onnxruntime uses inside one operator; 0 lets onnxruntime pick (all cores). */
  INTRA_OP_THREADS: z.coerce.number().int().nonnegative().default(0),
  /**
   * Whether onnxruntime's threads spin while they wait for work (onnxruntime's default) or sleep
   * (ours). Spinning burns the cores that decoding, encoding and the other stages share with
   * inference: 5% more CPU per image in the mesh on 2 cores (BENCHMARKS.md).
   */
  INTRA_OP_SPINNING: z.enum(['on', 'off']).default('off'),
  MATTING_CONCURRENCY: int(2),
  /** Largest image (width x height, read from its header before decoding) the matting worker accepts. */
  MATTING_MAX_PIXELS: int(120_000_000),
  /** The matting consumer's max_ack_pending: chunks handed out and not yet acked, over all workers. */
  MATTING_MAX_ACK_PENDING: int(1000),
  /** Tests only: `name=N,...` fails those images N times as onnxruntime does when memory runs out. */
  MATTING_FAULT_INJECTION: z.string().optional(),
  COMPARISON_CONCURRENCY: int(2),
  /** Seconds a message may stay unacked before JetStream redelivers it; workers heartbeat below it. */
  ACK_WAIT_SECONDS: int(60),
  MAX_DELIVER: int(3),
  /** Base of the exponential back-off before a failed message is redelivered. */
  RETRY_BACKOFF_MS: int(2000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export type Config = Readonly<
  Omit<z.infer<typeof schema>, 'SQLITE_PATH' | 'MODEL_PATH'> & { SQLITE_PATH: string; MODEL_PATH: string }
>;

/**
 * Parse the environment once. Defaults run the whole mesh on one machine: data under ./data,
 * CPU inference, gateway on port 8000.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const blank = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = schema.safeParse(blank);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  return Object.freeze({
    ...c,
    SQLITE_PATH: c.SQLITE_PATH ?? path.join(c.DATA_DIR, 'mesh.db'),
    MODEL_PATH: c.MODEL_PATH ?? path.join(c.MODEL_CACHE_DIR, `isnet-${c.MODEL_VARIANT}.onnx`),
  });
}
