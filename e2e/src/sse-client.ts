/** One Server-Sent Event. */
export interface SseEvent {
  event: string;
  data: string;
}

/** Read an SSE stream until the server ends it or `stop` says so; returns every event seen. */
export async function readSse(url: string, stop: (e: SseEvent) => boolean, timeoutMs: number): Promise<SseEvent[]> {
  const abort = AbortSignal.timeout(timeoutMs);
  const res = await fetch(url, { signal: abort, headers: { accept: 'text/event-stream' } });
  if (!res.ok || !res.body) throw new Error(`SSE ${url} answered ${res.status}`);
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) throw new Error('not an event stream');
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = res.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const e: SseEvent = { event: 'message', data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) e.event = line.slice(7);
        else if (line.startsWith('data: ')) e.data += line.slice(6);
      }
      if (block.split('\n').every((l) => l.startsWith(':'))) continue;
      events.push(e);
      if (stop(e)) {
        await reader.cancel();
        return events;
      }
    }
  }
  return events;
}
