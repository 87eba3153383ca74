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

/**
 * CPU seconds (user + system) of this process's children that have exited and been waited for
 * (cutime + cstime in /proc/self/stat): what a child such as curl used, read after it ends.
 */
export function exitedChildrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}
