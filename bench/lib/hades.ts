/**
 * The real `hades` binary for the benches: started as a user would run it on etcd
 * (`-select sticky`, `-metrics-port` on; node with the bin's shebang flags, HADES_NODE_FLAGS),
 * optionally pinned to CPUs (taskset) and with extra node options (NODE_OPTIONS, e.g.
 * --cpu-prof); ready when /ready says 200 and a name is answered.
 */
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { freeDnsPort, type HadesProc, spawnHades } from '../../test/dns/hades-proc.js';
import { freePort } from '../../test/harness/etcd.js';
import { waitAnswer } from './dns.js';
import { processTree } from './proc.js';

export interface BenchHadesOptions {
  etcd: string;
  /** A name that must be answered before it counts as ready. */
  probeName: string;
  workers?: number;
  cpus?: string;
  /** NODE_OPTIONS for the hades process (and its workers). */
  nodeOptions?: string;
  /** node's flags before the script instead of HADES_NODE_FLAGS (the bin's shebang), to compare. */
  nodeFlags?: readonly string[];
  /** Write a CPU profile per process into this directory (cpu-prof-hook.ts) when hades stops. */
  cpuProfileDir?: string;
  extraArgs?: string[];
  /** Another build's hades.js (bench/qps --baseline: A/B of two versions in one run). */
  bin?: string;
}

export interface BenchHades {
  readonly proc: HadesProc;
  readonly port: number;
  readonly metricsPort: number;
  /** ms from spawn until /ready said 200. */
  readonly readyMs: number;
  /** ms from spawn until the probe name was answered. */
  readonly answerMs: number;
  /** The hades process and its workers. */
  pids(): number[];
  stop(): Promise<number>;
}

/** GET http://127.0.0.1:port/ready → status code (0 when unreachable). */
export function readyStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/ready', timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

function nodeEnv(o: BenchHadesOptions): NodeJS.ProcessEnv | undefined {
  const opts: string[] = [];
  if (o.nodeOptions) opts.push(o.nodeOptions);
  if (o.cpuProfileDir) opts.push(`--import=${fileURLToPath(new URL('./cpu-prof-hook.js', import.meta.url))}`);
  if (opts.length === 0) return undefined;
  return o.cpuProfileDir
    ? { NODE_OPTIONS: opts.join(' '), HADES_BENCH_CPU_PROF: o.cpuProfileDir }
    : { NODE_OPTIONS: opts.join(' ') };
}

export async function startBenchHades(o: BenchHadesOptions): Promise<BenchHades> {
  const port = await freeDnsPort();
  const metricsPort = await freePort();
  const args = [
    '-addr',
    `127.0.0.1:${port}`,
    '-machines',
    o.etcd,
    '-select',
    'sticky',
    '-metrics-port',
    String(metricsPort),
    '-workers',
    String(o.workers ?? 1),
    '-logtostderr',
    ...(o.extraArgs ?? []),
  ];
  const t0 = performance.now();
  const proc = spawnHades(args, {
    wrap: o.cpus !== undefined ? ['taskset', '-c', o.cpus] : undefined,
    env: nodeEnv(o),
    nodeFlags: o.nodeFlags,
    bin: o.bin,
  });
  let exit: number | undefined;
  void proc.exited.then((c) => {
    exit = c;
  });
  const why = () => `\n--- hades stderr ---\n${proc.stderr().slice(-4000)}`;
  let readyMs = 0;
  try {
    for (;;) {
      if (exit !== undefined) throw new Error(`hades exited with ${exit}${why()}`);
      if ((await readyStatus(metricsPort)) === 200) break;
      if (performance.now() - t0 > 300_000) throw new Error(`hades not ready after 300 s${why()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    readyMs = performance.now() - t0;
    await waitAnswer(port, o.probeName, 60_000, why);
  } catch (e) {
    await proc.stop('SIGKILL');
    throw e;
  }
  const answerMs = performance.now() - t0;
  return {
    proc,
    port,
    metricsPort,
    readyMs,
    answerMs,
    pids: () => processTree(proc.pid),
    stop: () => proc.stop(),
  };
}
