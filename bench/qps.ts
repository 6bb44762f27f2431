/**
 * bench/qps: queries per second and per server CPU-second, hades against Knot DNS, with dnsperf.
 *
 * For each row (1,000 names; hades `-workers 2` on the same 1,000 names; 100,000 names) it loads
 * the names into a fresh etcd (bench/lib/records.ts: four A records per name, an UP health key
 * per address), starts the real `hades` on it as a user would (`-select sticky`, `-metrics-port`
 * on, the health overlay fed by the keys above) and Knot DNS (Debian `knotd`, one UDP worker, one
 * TCP worker, one background worker) with the same names in a zone file, warms each up, then runs
 * dnsperf for a fixed time against each in turn, A/B/A/B. With two CPUs or more the servers run
 * on CPU 1 and dnsperf, etcd and this script on CPU 0 (taskset); the `-workers 2` row pins
 * nothing (two workers need both CPUs, so they share them with dnsperf: compare its queries per
 * CPU-second, not its queries per second). All traffic is on 127.0.0.1.
 *
 * Per server it prints queries/s, average and max latency, lost queries, and queries per server
 * CPU-second: completed queries / (utime + stime of the server's processes — hades and all its
 * workers — read from /proc/<pid>/stat before and after each run); then the ratio hades/Knot.
 * In the pinned rows a third server runs the same way for scale: a bare Node.js responder
 * returning canned bytes (bench/lib/bare-responder.ts), the ceiling of anything built on
 * node:dgram here (`--bare off` leaves it out).
 * Target (issue 5): hades/Knot queries per CPU-second ≥ 0.5 at 1,000 and 100,000 names, no lost
 * queries. Figures are printed, not asserted.
 *
 *   npm run bench:qps [-- --seconds 10 --runs 2 --rows 1k,w2,100k --profile DIR]
 *
 * --profile DIR: hades runs under `node --cpu-prof` (one profile per process into DIR, written
 * when it stops) and the top of each profile is printed after the row.
 * --baseline DIR: another checkout of hades, built (`DIR/dist/src/bin/hades.js`), runs as a fourth
 * server in the same rotation, so a change is measured before/after in one run (hades-base rows and
 * base/knot); e.g. `git worktree add /tmp/base main && (cd /tmp/base && npm ci)`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openEtcdStore } from '../src/store/etcd/etcd.js';
import { freeDnsPort } from '../test/dns/hades-proc.js';
import { startEtcd } from '../test/harness/etcd.js';
import { type DnsperfResult, runDnsperf, writeQueryFile } from './lib/dnsperf.js';
import { startBenchHades } from './lib/hades.js';
import { startKnot } from './lib/knot.js';
import { cpuSecondsOf, runQueueWaitSeconds, systemSeconds } from './lib/proc.js';
import { profileTop } from './lib/profile.js';
import { loadRecords, PER_NAME, RECORD_TTL, recordAddress, serviceName } from './lib/records.js';
import { num, printTable } from './lib/table.js';
import { cpuCount, DNSPERF, ensureTools, KNOT, pin, TASKSET } from './lib/tools.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    runs: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '3' },
    rows: { type: 'string', default: '1k,w2,100k' },
    clients: { type: 'string', default: '8' },
    outstanding: { type: 'string', default: '100' },
    profile: { type: 'string' },
    bare: { type: 'string', default: 'on' },
    baseline: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const RUNS = Number(values.runs);
const WARMUP = Number(values.warmup);
const CLIENTS = Number(values.clients);
const OUTSTANDING = Number(values.outstanding);
const PROFILE_DIR = values.profile ? resolve(values.profile) : undefined;
const BARE = values.bare !== 'off';
const BASELINE = values.baseline ? join(resolve(values.baseline), 'dist/src/bin/hades.js') : undefined;

interface RowSpec {
  id: string;
  label: string;
  names: number;
  workers: number;
}
const ROWS: RowSpec[] = [
  { id: '1k', label: '1,000 names', names: 1_000, workers: 1 },
  { id: 'w2', label: '1,000 names, -workers 2', names: 1_000, workers: 2 },
  { id: '100k', label: '100,000 names', names: 100_000, workers: 1 },
];
const wanted = new Set(values.rows.split(','));
const rows = ROWS.filter((r) => wanted.has(r.id));
if (rows.length === 0) throw new Error(`--rows: want some of ${ROWS.map((r) => r.id).join(',')}`);

ensureTools([KNOT, DNSPERF, TASKSET]);
const split = cpuCount() >= 2;
const SERVER_CPU = split ? '1' : undefined;
const CLIENT_CPU = split ? '0' : undefined;
if (split) pin(process.pid, CLIENT_CPU!);

interface Agg {
  runs: DnsperfResult[];
  cpu: number;
  /** Seconds the server's threads waited for a CPU while runnable (other programs). */
  waited: number;
  /** The kernel's part of `cpu` (stime). */
  sys: number;
}
const agg = () => ({ runs: [], cpu: 0, waited: 0, sys: 0 }) as Agg;
const results: { row: RowSpec; hades: Agg; base?: Agg; knot: Agg; bare?: Agg; batch?: Agg }[] = [];
const work = await mkdtemp(join(tmpdir(), 'hades-bench-qps-'));

function addrsOf(i: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < PER_NAME; k++) out.push(recordAddress(i * PER_NAME + k));
  return out;
}

/** One dnsperf run against `port`, the CPU seconds of `pids()` over it. */
async function measure(port: number, pids: () => number[], qfile: string, seconds: number, cpus?: string) {
  const ps = pids();
  const c0 = cpuSecondsOf(ps);
  const s0 = ps.reduce((a, p) => a + systemSeconds(p), 0);
  const w0 = runQueueWaitSeconds(ps);
  const r = await runDnsperf({
    port,
    queryFile: qfile,
    seconds,
    clients: CLIENTS,
    outstanding: OUTSTANDING,
    cpus,
  });
  const cpu = cpuSecondsOf(ps) - c0;
  const sys = ps.reduce((a, p) => a + systemSeconds(p), 0) - s0;
  // time the server was ready to run but waited for its CPU (another program on a shared machine)
  const waited = runQueueWaitSeconds(ps) - w0;
  return { r, cpu, sys, waited };
}

/** A bare responder (node:dgram or hades's batched socket) on `port` (and `cpus`), until `stop()`. */
async function startBare(port: number, cpus: string | undefined, mode: 'dgram' | 'batch') {
  const script = fileURLToPath(new URL('./lib/bare-responder.js', import.meta.url));
  const argv = [process.execPath, script, String(port), mode];
  const cmd = cpus !== undefined ? ['taskset', '-c', cpus, ...argv] : argv;
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  await once(child, 'message');
  return {
    pid: child.pid ?? 0,
    stop: async () => {
      process.removeListener('exit', kill);
      child.kill('SIGTERM');
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    },
  };
}

function line(who: string, r: DnsperfResult, cpu: number): string {
  return (
    `  ${who.padEnd(5)} ${num(r.qps).padStart(8)} q/s  avg ${r.avgLatencyMs.toFixed(3)} ms  max ${r.maxLatencyMs.toFixed(1)} ms  ` +
    `lost ${r.lost}  cpu ${cpu.toFixed(2)} s  ${num(r.completed / cpu)} q/cpu-s  ${r.rcodes}`
  );
}

try {
  let etcdFor: { names: number; stop: () => Promise<void>; endpoint: string } | undefined;
  for (const row of rows) {
    // a fresh etcd per name count (the -workers 2 row reuses the 1,000 names)
    if (etcdFor?.names !== row.names) {
      await etcdFor?.stop();
      const etcd = await startEtcd();
      if (split && etcd.pid) pin(etcd.pid, CLIENT_CPU!);
      const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
      const ms = await loadRecords(store, row.names * PER_NAME, 1);
      await store.close();
      console.error(
        `qps: ${num(row.names)} names (${num(row.names * PER_NAME)} records + health keys) in etcd in ${(ms / 1000).toFixed(1)} s`,
      );
      etcdFor = { names: row.names, stop: () => etcd.stop(), endpoint: etcd.endpoint };
    }
    const names = Array.from({ length: row.names }, (_, i) => serviceName(i));
    const qfile = join(work, `queries-${row.names}.txt`);
    writeQueryFile(qfile, names, Math.max(100_000, 2 * row.names));
    const serverCpus = row.workers > 1 ? undefined : SERVER_CPU;
    const clientCpus = row.workers > 1 ? undefined : CLIENT_CPU;
    const profDir = PROFILE_DIR ? join(PROFILE_DIR, row.id) : undefined;
    const hades = await startBenchHades({
      etcd: etcdFor.endpoint,
      probeName: names[names.length - 1],
      workers: row.workers,
      cpus: serverCpus,
      cpuProfileDir: profDir,
    });
    const base = BASELINE
      ? await startBenchHades({
          etcd: etcdFor.endpoint,
          probeName: names[names.length - 1],
          workers: row.workers,
          cpus: serverCpus,
          bin: BASELINE,
        })
      : undefined;
    const knotPort = await freeDnsPort();
    const knot = await startKnot({
      port: knotPort,
      names: row.names,
      nameOf: serviceName,
      addrsOf,
      ttl: RECORD_TTL,
      cpus: serverCpus,
    });
    console.error(
      `qps: ${row.label}: hades ready in ${(hades.readyMs / 1000).toFixed(2)} s (pids ${hades.pids().join(',')}), knotd pid ${knot.pid}`,
    );
    const barePort = await freeDnsPort();
    const bare = BARE && row.workers === 1 ? await startBare(barePort, serverCpus, 'dgram') : undefined;
    const batchPort = await freeDnsPort();
    const batch = BARE && row.workers === 1 ? await startBare(batchPort, serverCpus, 'batch') : undefined;
    const res = {
      row,
      hades: agg(),
      base: base ? agg() : undefined,
      knot: agg(),
      bare: bare ? agg() : undefined,
      batch: batch ? agg() : undefined,
    };
    try {
      const servers = [
        { who: 'hades', port: hades.port, pids: () => hades.pids(), into: res.hades },
        { who: 'knot', port: knotPort, pids: () => [knot.pid], into: res.knot },
      ];
      if (base && res.base)
        servers.splice(1, 0, { who: 'base', port: base.port, pids: () => base.pids(), into: res.base });
      if (bare && res.bare)
        servers.push({ who: 'node', port: barePort, pids: () => [bare.pid], into: res.bare });
      if (batch && res.batch)
        servers.push({ who: 'node batch', port: batchPort, pids: () => [batch.pid], into: res.batch });
      if (WARMUP > 0) for (const s of servers) await measure(s.port, s.pids, qfile, WARMUP, clientCpus);
      // the profile from here on: the measured runs, not the catalog's load (cpu-prof-hook.ts)
      if (profDir) for (const pid of hades.pids()) process.kill(pid, 'SIGUSR2');
      for (let i = 0; i < RUNS; i++) {
        for (const s of servers) {
          const { r, cpu, sys, waited } = await measure(s.port, s.pids, qfile, SECONDS, clientCpus);
          s.into.runs.push(r);
          s.into.cpu += cpu;
          s.into.sys += sys;
          s.into.waited += waited;
          console.error(`${line(s.who, r, cpu)}  waited ${waited.toFixed(2)} s`);
        }
      }
    } finally {
      await hades.stop();
      await base?.stop();
      await knot.stop();
      await bare?.stop();
      await batch?.stop();
    }
    results.push(res);
    if (profDir) {
      for (const f of (await readdir(profDir)).filter((x) => x.endsWith('.cpuprofile')).sort())
        console.log(profileTop(join(profDir, f), 25).join('\n'));
    }
  }
  await etcdFor?.stop();
} finally {
  await rm(work, { recursive: true, force: true });
}

const table: string[][] = [];
let met = true;
for (const { row, hades, base, knot, bare, batch } of results) {
  const sum = (a: Agg) => {
    const completed = a.runs.reduce((s, r) => s + r.completed, 0);
    const secs = a.runs.reduce((s, r) => s + r.runSeconds, 0);
    return {
      qps: completed / secs,
      avg: a.runs.reduce((s, r) => s + r.avgLatencyMs * r.completed, 0) / completed,
      max: Math.max(...a.runs.map((r) => r.maxLatencyMs)),
      lost: a.runs.reduce((s, r) => s + r.lost, 0),
      perCpu: completed / a.cpu,
      cpuShare: a.cpu / secs,
      waitShare: a.waited / secs,
      sysShare: a.sys / a.cpu,
    };
  };
  const h = sum(hades);
  const k = sum(knot);
  const cells = (who: string, x: ReturnType<typeof sum>) => [
    row.label,
    who,
    num(x.qps),
    x.avg.toFixed(3),
    x.max.toFixed(1),
    num(x.lost),
    x.cpuShare.toFixed(2),
    x.waitShare.toFixed(2),
    `${Math.round(100 * x.sysShare)} %`,
    num(x.perCpu),
  ];
  table.push(cells('hades', h));
  const hb = base ? sum(base) : undefined;
  if (hb) table.push(cells('hades (baseline)', hb));
  table.push(cells('knot', k));
  const b = bare ? sum(bare) : undefined;
  if (b) table.push(cells('node (bare)', b));
  const bb = batch ? sum(batch) : undefined;
  if (bb) table.push(cells('node (batch)', bb));
  const ratio = h.perCpu / k.perCpu;
  const vsKnot = (who: string, x: ReturnType<typeof sum>) =>
    table.push([
      row.label,
      who,
      (x.qps / k.qps).toFixed(2),
      '',
      '',
      '',
      '',
      '',
      '',
      (x.perCpu / k.perCpu).toFixed(2),
    ]);
  vsKnot('hades/knot', h);
  if (hb) vsKnot('baseline/knot', hb);
  if (b) vsKnot('node/knot', b);
  if (bb) vsKnot('batch/knot', bb);
  if (row.workers === 1 && (ratio < 0.5 || h.lost > 0)) met = false;
}
printTable(
  `qps: dnsperf ${SECONDS} s × ${RUNS} per server (A/B/A/B), -c ${CLIENTS} -q ${OUTSTANDING}, ` +
    `${split ? 'servers on CPU 1, dnsperf on CPU 0 (-workers 2: unpinned)' : 'one CPU: nothing pinned'}; ` +
    'hades -select sticky, health keys, -metrics-port; knotd 1 UDP worker',
  ['row', 'server', 'q/s', 'avg ms', 'max ms', 'lost', 'CPUs busy', 'waited', 'kernel', 'q per CPU-s'],
  table,
);
console.log(
  `target (issue 5): hades/knot q per CPU-s ≥ 0.5 at 1,000 and 100,000 names, no lost queries → ${met ? 'met' : 'NOT met'}`,
);
console.log(
  'q/s is what dnsperf got; "CPUs busy": server CPU-seconds per second; "waited": seconds per second the\n' +
    "server's threads were runnable but waited for a CPU (other programs on a shared machine: q/s drops,\n" +
    'q per CPU-s mostly holds); q per CPU-s = completed queries / server CPU-seconds',
);
process.exit(0);
