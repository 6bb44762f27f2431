/**
 * dnsperf (Debian `dnsperf`, DNS-OARC): a query file of A queries for random names of a set, a
 * run for a fixed time against one server, and its statistics parsed.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/** Writes `lines` lines `<name> A`, names drawn at random (xorshift, seeded) from `names`. */
export function writeQueryFile(path: string, names: readonly string[], lines: number, seed = 1): void {
  let x = seed | 0 || 1;
  const out: string[] = new Array(lines);
  for (let i = 0; i < lines; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = `${names[(x >>> 0) % names.length]} A`;
  }
  writeFileSync(path, `${out.join('\n')}\n`);
}

export interface DnsperfOptions {
  port: number;
  queryFile: string;
  /** -l: run time in seconds. */
  seconds: number;
  /** -c: clients (source ports). Default 4. */
  clients?: number;
  /** -q: queries outstanding at most. Default 100 (dnsperf's). */
  outstanding?: number;
  /** -Q: queries per second at most; undefined: as fast as answers come. */
  qps?: number;
  /** -T: threads. Default 1. */
  threads?: number;
  /** Run dnsperf on these CPUs (taskset -c). */
  cpus?: string;
}

export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  runSeconds: number;
  qps: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  /** Response codes line, e.g. `NOERROR 1234 (100.00%)`. */
  rcodes: string;
}

function argv(o: DnsperfOptions): string[] {
  const a = [
    'dnsperf',
    '-s',
    '127.0.0.1',
    '-p',
    String(o.port),
    '-d',
    o.queryFile,
    '-l',
    String(o.seconds),
    '-c',
    String(o.clients ?? 4),
    '-q',
    String(o.outstanding ?? 100),
    '-T',
    String(o.threads ?? 1),
    '-t',
    '2',
  ];
  if (o.qps !== undefined) a.push('-Q', String(o.qps));
  return o.cpus !== undefined ? ['taskset', '-c', o.cpus, ...a] : a;
}

/** Parses dnsperf's "Statistics:" block. */
export function parseDnsperf(out: string): DnsperfResult {
  const n = (re: RegExp): number => {
    const m = re.exec(out);
    if (!m) throw new Error(`dnsperf: no ${re} in its output:\n${out}`);
    return Number(m[1]);
  };
  const lat = /Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(out);
  return {
    sent: n(/Queries sent:\s+(\d+)/),
    completed: n(/Queries completed:\s+(\d+)/),
    lost: n(/Queries lost:\s+(\d+)/),
    runSeconds: n(/Run time \(s\):\s+([\d.]+)/),
    qps: n(/Queries per second:\s+([\d.]+)/),
    avgLatencyMs: lat ? Number(lat[1]) * 1000 : Number.NaN,
    maxLatencyMs: lat ? Number(lat[3]) * 1000 : Number.NaN,
    rcodes: /Response codes:\s+(.*)/.exec(out)?.[1]?.trim() ?? '',
  };
}

/** A dnsperf run in the background: `done` resolves with its statistics; `stop()` ends it early. */
export interface DnsperfRun {
  readonly done: Promise<DnsperfResult>;
  stop(): void;
}

export function startDnsperf(o: DnsperfOptions): DnsperfRun {
  const a = argv(o);
  const child = spawn(a[0], a.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (s: string) => {
    out += s;
  });
  child.stderr.on('data', (s: string) => {
    out += s;
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const done = new Promise<DnsperfResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.removeListener('exit', kill);
      try {
        resolve(parseDnsperf(out));
      } catch (err) {
        reject(new Error(`dnsperf exited with ${code ?? signal}: ${(err as Error).message}`));
      }
    });
  });
  // SIGINT makes dnsperf stop sending, wait for the outstanding answers and print its statistics
  return { done, stop: () => child.kill('SIGINT') };
}

/** One dnsperf run to its end. */
export function runDnsperf(o: DnsperfOptions): Promise<DnsperfResult> {
  return startDnsperf(o).done;
}
