import { readFile } from 'node:fs/promises';
import path from 'node:path';
import yazl from 'yazl';
import { readSse } from './sse-client.js';

/** What `GET /status/:job_id` answers (the fields the tests read). */
export interface Status {
  job_id: string;
  state: string;
  total: number;
  completed: number;
  failed: number;
  progress: number;
  done: boolean;
  counts: Record<string, number>;
  failures: { chunk_id: string; name: string; stage: string; reason: string }[];
}

export async function zipOf(entries: [string, Buffer][]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of entries) zip.addBuffer(data, name);
  zip.end();
  const parts: Buffer[] = [];
  for await (const p of zip.outputStream) parts.push(p as Buffer);
  return Buffer.concat(parts);
}

/** Upload photos of a folder as one zip under `photos/`; returns the job id. */
export async function uploadPhotos(baseUrl: string, dir: string, names: string[], query = ''): Promise<string> {
  const entries: [string, Buffer][] = [];
  for (const n of names) entries.push([`photos/${n}`, await readFile(path.join(dir, n))]);
  const form = new FormData();
  form.append('file', new Blob([new Uint8Array(await zipOf(entries))]), 'shoot.zip');
  const res = await fetch(`${baseUrl}/upload${query}`, { method: 'POST', body: form });
  if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { job_id: string }).job_id;
}

/** Follow the job's SSE stream to its `done` event. */
export async function waitDone(baseUrl: string, jobId: string, timeoutMs = 8 * 60_000): Promise<Status> {
  const events = await readSse(`${baseUrl}/status/${jobId}/events`, (e) => e.event === 'done', timeoutMs);
  const last = events.at(-1);
  if (last?.event !== 'done') throw new Error(`SSE ended without done: ${JSON.stringify(events.at(-1))}`);
  return JSON.parse(last.data) as Status;
}
