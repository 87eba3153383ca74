import { access } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { MODEL_SIZE } from './isnet.js';

/** The matting model as the handler sees it, so tests can pass a fake. */
export interface MatteModel {
  /** File name of the model, reported in `chunk.matted`. */
  readonly name: string;
  /** The execution provider actually in use (after any fallback). */
  readonly provider: 'cpu' | 'cuda';
  /**
   * One CHW float32 image in, one 1024x1024 matte in 0..1 out. Calls run one at a time. A failed
   * run rejects with onnxruntime's own error; the handler classifies it (classifyInferenceError).
   */
  infer(input: Float32Array): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface MatteModelOptions {
  modelPath: string;
  executionProvider: 'cpu' | 'cuda';
  /** Threads inside one operator; 0 lets onnxruntime use every core. */
  intraOpThreads: number;
  /**
   * onnxruntime's CPU arena and memory-pattern planning (both onnxruntime's defaults, on). With
   * ISNet's fixed 1024x1024 shape the arena reaches its size on the first run and stays there.
   */
  cpuMemArena?: boolean;
  memPattern?: boolean;
  /**
   * onnxruntime's threads spin while they wait for work (its default, true) or sleep, so the other
   * work on the same cores (sharp, the other stages) is not slowed by threads that only wait.
   */
  spinning?: boolean;
  log?: (line: string) => void;
}

const INPUT = 'input';
// The model has 11 outputs (side outputs of ISNet's decoder); only the fused matte is fetched.
const OUTPUT = 'output';
const INPUT_LENGTH = 3 * MODEL_SIZE * MODEL_SIZE;

async function createSession(
  opts: MatteModelOptions,
  provider: 'cpu' | 'cuda',
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(opts.modelPath, {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    enableCpuMemArena: opts.cpuMemArena ?? true,
    enableMemPattern: opts.memPattern ?? true,
    ...(opts.intraOpThreads > 0 ? { intraOpNumThreads: opts.intraOpThreads } : {}),
    // Session config entries (onnxruntime_session_options_config_keys.h), flattened with dots.
    ...(opts.spinning === false
      ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }
      : {}),
  });
}

/**
 * Load one onnxruntime session for the ISNet model. With `cuda`, a CUDA provider that cannot be
 * loaded (no GPU, no CUDA libraries) is logged once and the session runs on the CPU instead.
 */
export async function createMatteModel(opts: MatteModelOptions): Promise<MatteModel> {
  const log = opts.log ?? ((line: string) => console.warn(line));
  await access(opts.modelPath).catch((err: unknown) => {
    throw new Error(`model file ${opts.modelPath} is missing: run scripts/setup.sh or set MODEL_PATH`, { cause: err });
  });
  let provider = opts.executionProvider;
  let session: ort.InferenceSession;
  if (provider === 'cuda') {
    try {
      session = await createSession(opts, 'cuda');
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      log(`matting: CUDA execution provider unavailable (${reason}); falling back to CPU`);
      provider = 'cpu';
      session = await createSession(opts, 'cpu');
    }
  } else {
    session = await createSession(opts, 'cpu');
  }
  if (!session.inputNames.includes(INPUT) || !session.outputNames.includes(OUTPUT)) {
    await session.release();
    throw new Error(`${opts.modelPath} is not an ISNet model: expected input '${INPUT}' and output '${OUTPUT}'`);
  }

  // A promise chain as mutex: one run at a time per session, so concurrent messages overlap their
  // decode/encode with inference instead of splitting the cores between two runs.
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(work, work);
    tail = run.catch(() => undefined);
    return run;
  };

  return {
    name: path.basename(opts.modelPath),
    provider,
    infer: (input) =>
      exclusive(async () => {
        if (input.length !== INPUT_LENGTH) {
          throw new Error(`model input has ${input.length} values, expected ${INPUT_LENGTH}`);
        }
        const feeds = { [INPUT]: new ort.Tensor('float32', input, [1, 3, MODEL_SIZE, MODEL_SIZE]) };
        const result = await session.run(feeds, [OUTPUT]);
        const out = result[OUTPUT];
        if (!out || out.type !== 'float32' || out.data.length !== MODEL_SIZE * MODEL_SIZE) {
          throw new Error(`model output '${OUTPUT}' is not a float32 1024x1024 matte`);
        }
        return out.data as Float32Array;
      }),
    close: () => exclusive(() => session.release()),
  };
}
