import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type Config } from '@mesh/config';

/** The model file is missing, or the packaged chunks do not add up to it. */
export class ModelPreparationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ModelPreparationError';
  }
}

/** What `prepareModel` did, for the one line the CLI prints. */
export interface PreparedModel {
  path: string;
  action: 'user-supplied' | 'cached' | 'assembled';
  bytes: number;
}

interface ResourceEntry {
  chunks: { hash: string; offsets: [number, number] }[];
  size: number;
}

type Variant = Config['MODEL_VARIANT'];

/** Where the reassembled model of a variant lives: the name `loadConfig` defaults MODEL_PATH to. */
export function cachedModelPath(cacheDir: string, variant: Variant): string {
  return path.join(cacheDir, `isnet-${variant}.onnx`);
}

/** The folder of @imgly/background-removal-data (its package.json has no `exports`, so this resolves). */
function dataPackageDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('@imgly/background-removal-data/package.json'));
}

async function sizeOf(file: string): Promise<number | undefined> {
  return stat(file).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  );
}

/**
 * Make sure the ISNet model file exists. A MODEL_PATH the user chose is only checked; otherwise the
 * variant is reassembled from the chunks @imgly/background-removal-data ships, each checked for
 * length and SHA-256 (its file name), then renamed into place so no reader sees a partial file.
 */
export async function prepareModel(
  config: Pick<Config, 'MODEL_PATH' | 'MODEL_VARIANT' | 'MODEL_CACHE_DIR'>,
): Promise<PreparedModel> {
  const target = cachedModelPath(config.MODEL_CACHE_DIR, config.MODEL_VARIANT);
  if (path.resolve(config.MODEL_PATH) !== path.resolve(target)) {
    const bytes = await sizeOf(config.MODEL_PATH);
    if (bytes === undefined) {
      throw new ModelPreparationError(`MODEL_PATH ${config.MODEL_PATH} does not exist or is not a file`);
    }
    return { path: config.MODEL_PATH, action: 'user-supplied', bytes };
  }

  const dist = path.join(dataPackageDir(), 'dist');
  const resources = JSON.parse(await readFile(path.join(dist, 'resources.json'), 'utf8')) as Record<
    string,
    ResourceEntry | undefined
  >;
  const entry = resources[`/models/${config.MODEL_VARIANT}`];
  if (!entry) throw new ModelPreparationError(`@imgly/background-removal-data has no model ${config.MODEL_VARIANT}`);
  if ((await sizeOf(target)) === entry.size) return { path: target, action: 'cached', bytes: entry.size };

  await mkdir(config.MODEL_CACHE_DIR, { recursive: true });
  // A unique temp name in the same folder: rename is atomic there, and parallel runs do not collide.
  const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
  const out = await open(temp, 'w');
  try {
    let offset = 0;
    for (const chunk of entry.chunks) {
      const [start, end] = chunk.offsets;
      // Chunks are 4 MiB, so reading each whole keeps this simple.
      const data = await readFile(path.join(dist, chunk.hash));
      if (start !== offset || data.length !== end - start) {
        throw new ModelPreparationError(
          `model chunk ${chunk.hash} has ${data.length} bytes at offset ${start}, expected ${end - start} at ${offset}`,
        );
      }
      if (createHash('sha256').update(data).digest('hex') !== chunk.hash) {
        throw new ModelPreparationError(`model chunk ${chunk.hash} does not match its SHA-256 name`);
      }
      await out.write(data);
      offset = end;
    }
    if (offset !== entry.size) {
      throw new ModelPreparationError(`model chunks add up to ${offset} bytes, expected ${entry.size}`);
    }
    await out.sync();
    await out.close();
    await rename(temp, target);
  } catch (err) {
    await out.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw err;
  }
  return { path: target, action: 'assembled', bytes: entry.size };
}

async function main(): Promise<void> {
  const result = await prepareModel(loadConfig());
  const mb = (result.bytes / 1e6).toFixed(1);
  const what = {
    'user-supplied': `using MODEL_PATH ${result.path} (${mb} MB)`,
    cached: `model ${result.path} already prepared (${mb} MB)`,
    assembled: `assembled model ${result.path} (${mb} MB) from @imgly/background-removal-data`,
  }[result.action];
  process.stderr.write(`[prepare-model] ${what}\n`);
}

// Run as a CLI only when executed directly, so tests can import prepareModel.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`[prepare-model] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
