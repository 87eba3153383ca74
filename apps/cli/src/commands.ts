/** What a command prints and how the process exits. */
export interface CommandResult {
  out: string;
  code: number;
}

/** A gateway answer that was not 2xx, with the gateway's own error text. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(new URL(path, base), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = { error: text };
  }
  if (!res.ok) throw new GatewayError(res.status, (json as { error?: string }).error ?? `HTTP ${res.status}`);
  return json;
}

interface Status {
  state: string;
  total: number;
  completed: number;
  failed: number;
  progress: number;
  failures: { chunk_id: string; name: string | null; stage: string | null; reason: string | null }[];
}

/** `mesh status JOB`: one line of figures, then each dead chunk with its reason. */
export async function status(base: string, jobId: string): Promise<CommandResult> {
  const s = (await call(base, 'GET', `/status/${encodeURIComponent(jobId)}`)) as Status;
  const lines = [
    `${jobId}  ${s.state}  ${s.completed}/${s.total} completed, ${s.failed} failed (${Math.round(s.progress * 100)}%)`,
    ...s.failures.map((f) => `  ${f.chunk_id}  ${f.name ?? ''}  [${f.stage ?? '?'}] ${f.reason ?? ''}`),
  ];
  return { out: lines.join('\n'), code: 0 };
}

/** `mesh replay JOB [CHUNK...]`: send the job's dead-lettered chunks (or those named) back to their stage. */
export async function replay(base: string, jobId: string, chunks: string[]): Promise<CommandResult> {
  const r = (await call(base, 'POST', `/jobs/${encodeURIComponent(jobId)}/replay`, chunks.length ? { chunks } : {})) as {
    replayed: string[];
  };
  const out = r.replayed.length ? `replayed ${r.replayed.length}: ${r.replayed.join(' ')}` : 'nothing to replay: no dead-lettered chunks';
  return { out, code: 0 };
}

export const usage = `usage: mesh <command> [args]
  status JOB              where a job stands, and why its dead chunks failed
  replay JOB [CHUNK...]   send a job's dead-lettered chunks (all, or those named) back to their stage
The gateway is MESH_URL (default http://localhost:8000).`;

/** Parse argv and run one command. */
export async function run(argv: string[], base: string): Promise<CommandResult> {
  const [command, ...args] = argv;
  try {
    if (command === 'status' && args.length === 1) return await status(base, args[0]!);
    if (command === 'replay' && args.length >= 1) return await replay(base, args[0]!, args.slice(1));
    return { out: usage, code: 2 };
  } catch (err) {
    const message = err instanceof GatewayError ? `mesh: ${err.message} (HTTP ${err.status})` : `mesh: ${(err as Error).message}`;
    return { out: message, code: 1 };
  }
}
