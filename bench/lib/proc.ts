/**
 * Reading processes from /proc (Linux): CPU time (utime + stime of every thread, from
 * /proc/<pid>/stat), a process's descendants (cluster workers), and RSS from /proc/<pid>/status.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticks = 0;
/** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux/x86). */
function clockTicks(): number {
  if (ticks === 0) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** Fields of /proc/<pid>/stat after the command name (field 3 of proc(5) is index 0), or undefined. */
function statFields(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name is in parentheses and may hold spaces
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime + stime of `pid` (all its threads) in seconds; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  if (!f) return 0;
  // proc(5): utime is field 14, stime 15 → indexes 11, 12 here
  return (Number(f[11]) + Number(f[12])) / clockTicks();
}

/** stime of `pid` (all its threads) in seconds: the kernel's part of cpuSeconds; 0 when it is gone. */
export function systemSeconds(pid: number): number {
  const f = statFields(pid);
  return f ? Number(f[12]) / clockTicks() : 0;
}

/** The summed CPU seconds of `pids`. */
export function cpuSecondsOf(pids: readonly number[]): number {
  let s = 0;
  for (const p of pids) s += cpuSeconds(p);
  return s;
}

/** `pid` and every live descendant (e.g. the workers of `hades -workers N`). */
export function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const f = statFields(Number(e));
    if (f) parent.set(Number(e), Number(f[1]));
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++)
    for (const [p, pp] of parent) if (pp === out[i] && !out.includes(p)) out.push(p);
  return out;
}

/** VmRSS, RssAnon, RssFile (+RssShmem) of `pid` in MB, or undefined when unreadable. */
export function memoryOf(pid: number): { rss: number; anon: number; file: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return {
      rss: kb('VmRSS') / 1024,
      anon: kb('RssAnon') / 1024,
      file: (kb('RssFile') + kb('RssShmem')) / 1024,
    };
  } catch {
    return undefined;
  }
}

/**
 * Seconds the threads of `pids` spent runnable but waiting for a CPU (the second field of
 * /proc/<pid>/task/<tid>/schedstat): how much other programs kept them from running.
 */
export function runQueueWaitSeconds(pids: readonly number[]): number {
  let ns = 0;
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
      } catch {
        // thread gone
      }
    }
  }
  return ns / 1e9;
}
