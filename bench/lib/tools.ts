/**
 * The system tools the benches drive (Debian packages): found on PATH or in /usr/sbin, installed
 * with apt-get when missing and running as root, else a one-line "how to install" and exit 1.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Tool {
  /** Executable name, e.g. `knotd`. */
  bin: string;
  /** The Debian package that has it, e.g. `knot`. */
  pkg: string;
}

export const KNOT: Tool = { bin: 'knotd', pkg: 'knot' };
export const DNSPERF: Tool = { bin: 'dnsperf', pkg: 'dnsperf' };
export const TASKSET: Tool = { bin: 'taskset', pkg: 'util-linux' };

/** The full path of `bin`, or undefined. */
export function which(bin: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) if (d && existsSync(`${d}/${bin}`)) return `${d}/${bin}`;
  return undefined;
}

/** Makes sure every tool is there (apt-get install as root), returns their paths by bin name. */
export function ensureTools(tools: readonly Tool[]): Map<string, string> {
  const missing = tools.filter((t) => which(t.bin) === undefined);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => t.pkg))];
    const isRoot = process.getuid?.() === 0;
    if (!isRoot || which('apt-get') === undefined) {
      process.stderr.write(
        `bench: missing ${missing.map((t) => t.bin).join(', ')}: install them with\n` +
          `  sudo apt-get install -y ${pkgs.join(' ')}\n`,
      );
      process.exit(1);
    }
    process.stderr.write(`bench: installing ${pkgs.join(' ')} with apt-get …\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
      r = spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
    }
    if (r.status !== 0) {
      process.stderr.write(`bench: apt-get install ${pkgs.join(' ')} failed\n`);
      process.exit(1);
    }
  }
  const out = new Map<string, string>();
  for (const t of tools) {
    const p = which(t.bin);
    if (p === undefined) {
      process.stderr.write(`bench: ${t.bin} still not found after installing ${t.pkg}\n`);
      process.exit(1);
    }
    out.set(t.bin, p);
  }
  return out;
}

/** CPUs this process may run on (from `nproc`). */
export function cpuCount(): number {
  try {
    return Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || 1;
  } catch {
    return 1;
  }
}

/** Pins every thread of `pid` to `cpus` (e.g. "0"); best effort. */
export function pin(pid: number, cpus: string): void {
  spawnSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' });
}
