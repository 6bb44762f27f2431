/**
 * bench/scanner: how many HTTP checks one hades-scanner sustains, at what CPU, memory and lateness,
 * and how long a failing backend takes to leave hades's answers.
 *
 * Starts a real etcd, N HTTP servers on 127.64.x.y (bench/lib/http-backends.ts, another process),
 * N status keys with `{"httpGet":{"path":"/healthz","port":P,"expectBody":"ok"},"periodSeconds":S}`,
 * then the real hades-schedule, hades-scanner and hades. Once every address is assigned and a
 * period has passed, it measures for `--seconds`: checks per second, the scanner's CPU-seconds per
 * 1,000 checks and CPU share, its RSS, and the lateness of rounds against their schedule (p50/p99
 * from the scanner's own histogram, interpolated within buckets). Then detection: `--names` names
 * of two addresses each (select all); at a random moment within a period each one's first backend
 * turns 503, and the time until its address leaves hades's answer is measured (polled every 100 ms).
 * Figures are printed against issue 13's targets, not asserted.
 *
 *   npm run build && node dist/bench/scanner.js [--addresses 10000] [--period 5] [--seconds 60] [--names 50]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nameToKey } from '../src/records/keys.js';
import { serializeRecordValue } from '../src/records/record.js';
import { openEtcdStore } from '../src/store/etcd/etcd.js';
import { freeDnsPort, spawnHades, waitAnswering } from '../test/dns/hades-proc.js';
import { startEtcd } from '../test/harness/etcd.js';
import { freePort } from '../test/harness/ports.js';
import { spawnBin } from '../test/health/procs.js';
import { queryA } from './lib/dns.js';
import { backendIP } from './lib/http-backends.js';
import { cpuSeconds, memoryOf } from './lib/proc.js';

const { values } = parseArgs({
  options: {
    addresses: { type: 'string', default: '10000' },
    period: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '60' },
    names: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '256' },
  },
});
const N = Number(values.addresses);
const PERIOD = Number(values.period);
const SECONDS = Number(values.seconds);
const NAMES = Number(values.names);
const CONCURRENCY = Number(values.concurrency);
for (const [k, v] of Object.entries({ addresses: N, period: PERIOD, seconds: SECONDS, names: NAMES }))
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k}: want an integer ≥ 1, got ${v}`);
if (2 * NAMES > N) throw new Error('--names: at most half of --addresses');

const STATUS = '/hades/monitor/status/';
const FALL = 3;
const TIMEOUT_S = 1;
const TARGETS = { checksPerSecond: 2000, cpu: 0.5, p99LatenessS: 1 };
const BOUND_S = FALL * PERIOD + TIMEOUT_S + 1;

/** Samples of one metric family, `name{labels} value` per line. */
function samples(text: string, name: string): { labels: string; value: number }[] {
  const out: { labels: string; value: number }[] = [];
  const re = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm');
  for (let m = re.exec(text); m; m = re.exec(text)) out.push({ labels: m[1] ?? '', value: Number(m[2]) });
  return out;
}

function sum(text: string, name: string, filter = ''): number {
  return samples(text, name)
    .filter((s) => s.labels.includes(filter))
    .reduce((a, s) => a + s.value, 0);
}

/** Cumulative buckets (le → count) of a histogram without labels. */
function buckets(text: string, name: string): Map<number, number> {
  const b = new Map<number, number>();
  for (const s of samples(text, `${name}_bucket`)) {
    const le = /le="([^"]+)"/.exec(s.labels)?.[1] ?? '';
    b.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), s.value);
  }
  return b;
}

/** histogram_quantile over the difference of two scrapes, linear within a bucket. */
function quantile(q: number, before: Map<number, number>, after: Map<number, number>): number {
  const les = [...after.keys()].sort((a, b) => a - b);
  const counts = les.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts[counts.length - 1];
  if (!(total > 0)) return Number.NaN;
  const rank = q * total;
  let lo = 0;
  let prev = 0;
  for (let i = 0; i < les.length; i++) {
    if (counts[i] >= rank) {
      if (les[i] === Number.POSITIVE_INFINITY) return lo;
      return lo + ((les[i] - lo) * (rank - prev)) / Math.max(1, counts[i] - prev);
    }
    lo = les[i];
    prev = counts[i];
  }
  return lo;
}

function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

async function main(): Promise<void> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const etcd = await startEtcd();
  const httpPort = await freePort();
  const metricsPort = await freePort();
  const dnsPort = await freeDnsPort();
  const stops: (() => Promise<unknown>)[] = [() => etcd.stop()];
  let backends: ChildProcess | undefined;
  try {
    backends = fork(path.join(here, 'lib/http-backends.js'), [String(httpPort), String(N)], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    const b = backends;
    stops.unshift(async () => {
      b.kill();
      await once(b, 'exit').catch(() => {});
    });
    await new Promise<void>((resolve, reject) => {
      b.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      b.once('exit', (code) => reject(new Error(`http-backends exited ${code}`)));
    });
    let msgId = 0;
    const tell = (m: { down?: string[]; up?: string[] }): Promise<void> =>
      new Promise((resolve) => {
        const id = ++msgId;
        const onMsg = (r: { ack?: number }): void => {
          if (r.ack !== id) return;
          b.off('message', onMsg);
          resolve();
        };
        b.on('message', onMsg);
        b.send({ id, ...m });
      });

    const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    stops.unshift(() => store.close());
    const probe = { httpGet: { path: '/healthz', port: httpPort, expectBody: 'ok' }, periodSeconds: PERIOD };
    const value = JSON.stringify({ status: 'UP', probe });
    for (let i = 1; i <= N; i += 100) {
      const success = [];
      for (let j = i; j < Math.min(N + 1, i + 100); j++)
        success.push({ op: 'put' as const, key: STATUS + backendIP(j), value });
      await store.txn({ compare: [], success });
    }
    const names: { name: string; flip: string; keep: string }[] = [];
    for (let i = 1; i <= NAMES; i++) {
      const name = `det${i}.hades.local`;
      const flip = backendIP(i);
      const keep = backendIP(N - i + 1);
      const key = nameToKey(name);
      await store.put(`${key}/a`, serializeRecordValue({ host: flip, select: 'all' }));
      await store.put(`${key}/b`, serializeRecordValue({ host: keep, select: 'all' }));
      names.push({ name, flip, keep });
    }

    const common = ['-etcd-machine', etcd.endpoint, '-logtostderr'];
    const sched = spawnBin('hades-schedule', [...common, '-hostname', 'bench-sched']);
    stops.unshift(() => sched.stop());
    const scanner = spawnBin('hades-scanner', [
      ...common,
      '-hostname',
      'bench-scanner',
      '-check-interval',
      String(PERIOD),
      '-fall',
      String(FALL),
      '-max-concurrency',
      String(CONCURRENCY),
      '-metrics-port',
      String(metricsPort),
    ]);
    stops.unshift(() => scanner.stop());
    const hades = spawnHades(['-addr', `127.0.0.1:${dnsPort}`, '-machines', etcd.endpoint, '-logtostderr']);
    stops.unshift(() => hades.stop());
    await waitAnswering(hades, dnsPort);

    const scrape = async (): Promise<string> => {
      try {
        return await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      } catch {
        return '';
      }
    };
    const t0 = Date.now();
    for (;;) {
      if (sum(await scrape(), 'hades_scanner_targets') >= N) break;
      if (Date.now() - t0 > 120_000)
        throw new Error(
          `the scanner has not got all ${N} addresses in 120 s\n${scanner.output().slice(-2000)}`,
        );
      await sleep(500);
    }
    console.log(
      `all ${N} addresses assigned after ${((Date.now() - t0) / 1000).toFixed(1)} s; warming up one period`,
    );
    await sleep((PERIOD + 2) * 1000);

    const m0 = await scrape();
    const cpu0 = cpuSeconds(scanner.pid);
    const w0 = performance.now();
    await sleep(SECONDS * 1000);
    const m1 = await scrape();
    const cpu1 = cpuSeconds(scanner.pid);
    const wall = (performance.now() - w0) / 1000;
    const mem = memoryOf(scanner.pid);

    const checks =
      sum(m1, 'hades_scanner_probes_total', 'type="httpGet"') -
      sum(m0, 'hades_scanner_probes_total', 'type="httpGet"');
    const failed =
      sum(m1, 'hades_scanner_probes_total', 'result="fail"') -
      sum(m0, 'hades_scanner_probes_total', 'result="fail"');
    const late = sum(m1, 'hades_scanner_late_probes_total') - sum(m0, 'hades_scanner_late_probes_total');
    const lb0 = buckets(m0, 'hades_scanner_probe_lateness_seconds');
    const lb1 = buckets(m1, 'hades_scanner_probe_lateness_seconds');
    const cpu = cpu1 - cpu0;
    const rate = checks / wall;
    const p50 = quantile(0.5, lb0, lb1);
    const p99 = quantile(0.99, lb0, lb1);
    const ok = (b: boolean): string => (b ? 'meets' : 'MISSES');
    console.log(
      `\nbench/scanner: ${N} addresses, httpGet every ${PERIOD} s, ${wall.toFixed(0)} s measured, max-concurrency ${CONCURRENCY}`,
    );
    console.log(
      `  checks/s                 ${rate.toFixed(0)}  (${ok(rate >= TARGETS.checksPerSecond)} ≥ ${TARGETS.checksPerSecond}; ideal ${(N / PERIOD).toFixed(0)})`,
    );
    console.log(`  failed checks            ${failed}`);
    console.log(
      `  scanner CPU              ${(cpu / wall).toFixed(3)} of a core  (${ok(cpu / wall <= TARGETS.cpu)} ≤ ${TARGETS.cpu})`,
    );
    console.log(`  CPU-s per 1,000 checks   ${((cpu / checks) * 1000).toFixed(3)}`);
    console.log(`  scanner RSS              ${mem ? mem.rss.toFixed(0) : '?'} MB`);
    console.log(
      `  lateness p50 / p99       ${(p50 * 1000).toFixed(1)} ms / ${(p99 * 1000).toFixed(1)} ms  (${ok(p99 < TARGETS.p99LatenessS)} p99 < 1 s); rounds ≥ 1 s late: ${late}`,
    );
    console.log('  anchor: CoreDNS-GSLB reports 20,000 HTTP checks at about 48 % CPU');

    // detection: each name's first backend turns 503 at a random moment within a period
    const times: number[] = [];
    await Promise.all(
      names.map(async (n) => {
        await sleep(Math.random() * PERIOD * 1000);
        await tell({ down: [n.flip] });
        const start = performance.now();
        for (;;) {
          const a = await queryA(dnsPort, n.name);
          if (a.includes(n.keep) && !a.includes(n.flip)) break;
          if (performance.now() - start > 3 * BOUND_S * 1000) {
            times.push(Number.POSITIVE_INFINITY);
            return;
          }
          await sleep(100);
        }
        times.push((performance.now() - start) / 1000);
      }),
    );
    times.sort((a, b) => a - b);
    console.log(
      `  detection (503 → out of the answer, ${NAMES} names): p50 ${pct(times, 0.5).toFixed(2)} s, p99 ${pct(times, 0.99).toFixed(2)} s, max ${times[times.length - 1].toFixed(2)} s  (${ok(pct(times, 0.99) <= BOUND_S)} p99 ≤ ${FALL} × ${PERIOD} + ${TIMEOUT_S} + 1 = ${BOUND_S} s)`,
    );
  } finally {
    for (const stop of stops) await stop().catch(() => {});
  }
}

await main();
