import type { Database } from '@mesh/read-model';

export interface NotifierOptions {
  intervalMs?: number;
  timeoutMs?: number;
  /** POSTs tried per notification before it is given up (its last error stays in the table). */
  maxAttempts?: number;
  log?: (line: string) => void;
}

interface Pending {
  id: number;
  url: string;
  body: string;
  attempts: number;
}

/**
 * Sends the queued callbacks: one JSON POST each, retried with back-off until a 2xx answer or
 * `maxAttempts`. These are calls to the user's own endpoint, not between stages.
 */
export function startNotifier(db: Database, opts: NotifierOptions = {}): { stop(): Promise<void> } {
  const log = opts.log ?? ((line: string) => console.log(line));
  const maxAttempts = opts.maxAttempts ?? 8;
  const pending = db.prepare(
    'SELECT id, url, body, attempts FROM notifications WHERE sent_at IS NULL AND attempts < ? AND next_at <= ? ORDER BY id LIMIT 20',
  );
  const sent = db.prepare('UPDATE notifications SET sent_at = ?, attempts = attempts + 1 WHERE id = ?');
  const failed = db.prepare('UPDATE notifications SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?');
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  const deliver = async (n: Pending) => {
    try {
      const res = await fetch(n.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'mesh-status-projector' },
        body: n.body,
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
      if (!res.ok) throw new Error(`answered ${res.status}`);
      sent.run(new Date().toISOString(), n.id);
    } catch (err) {
      const delay = Math.min(1000 * 2 ** n.attempts, 5 * 60_000);
      failed.run(Date.now() + delay, String((err as Error).message ?? err), n.id);
      log(`status-projector: callback ${n.url} failed (attempt ${n.attempts + 1}): ${String(err)}`);
    }
  };
  const tick = () => {
    if (stopped) return;
    running = (async () => {
      for (const n of pending.all(maxAttempts, Date.now()) as Pending[]) await deliver(n);
    })()
      .catch((err) => log(`status-projector: notifier: ${String(err)}`))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, opts.intervalMs ?? 1000);
      });
  };
  let timer = setTimeout(tick, 0);
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
