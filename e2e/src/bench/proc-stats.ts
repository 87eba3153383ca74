import { readFileSync } from 'node:fs';

/** VmRSS, VmHWM in KiB, and user+system CPU seconds of a process. */
export function procStats(pid: number): { rss: number; hwm: number; cpu: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { rss: kib('VmRSS'), hwm: kib('VmHWM'), cpu: ticks / 100 };
  } catch {
    return null;
  }
}
