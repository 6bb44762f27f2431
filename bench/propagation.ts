/**
 * bench/propagation: how long an etcd write takes to change the answers hades gives.
 *
 * Starts a real etcd (Debian etcd-server) on loopback and the real `hades` binary on it, then
 * N times (default 1000): writes to etcd and polls hades (a tight loop of UDP queries from one
 * fixed client socket, one outstanding at a time) until the answer changes. Even iterations write
 * a health status for the address that client's sticky answer holds — DOWN (the answer moves to
 * another address), then UP (it comes back); odd ones change a record's host. The latency is
 * from just before the put is issued (the etcd commit included) to the first reply showing the
 * change (the polling runs while the put is in flight). Prints p50/p99/max per kind and overall, with the target of issue 4: p99 < 50 ms.
 * Figures are printed, not asserted.
 *
 * While it measures, dnsperf (bench/lib/dnsperf.ts) keeps a steady load on the same hades
 * (issue 5): `--load Q` queries per second (default 20000; 0: no load) for the two names the
 * poller asks, from 8 other client ports; its queries/s and lost queries are printed with the
 * table.
 *
 *   npm run build && node dist/bench/propagation.js [--iterations 1000] [--load 20000]
 */
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RRType } from '../src/dns/wire/constants.js';
import { decode } from '../src/dns/wire/decode.js';
import { encodeQuery } from '../src/dns/wire/encode.js';
import { nameToKey } from '../src/records/keys.js';
import { serializeRecordValue } from '../src/records/record.js';
import { openEtcdStore } from '../src/store/etcd/etcd.js';
import { freeDnsPort, spawnHades, waitAnswering } from '../test/dns/hades-proc.js';
import { startEtcd } from '../test/harness/etcd.js';
import { type DnsperfResult, type DnsperfRun, startDnsperf, writeQueryFile } from './lib/dnsperf.js';
import { DNSPERF, ensureTools } from './lib/tools.js';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '1000' },
    load: { type: 'string', default: '20000' },
  },
});
const N = Number(values.iterations);
if (!Number.isInteger(N) || N < 2)
  throw new Error(`--iterations: want an integer ≥ 2, got ${values.iterations}`);
const LOAD_QPS = Number(values.load);
if (!Number.isInteger(LOAD_QPS) || LOAD_QPS < 0)
  throw new Error(`--load: want queries per second ≥ 0, got ${values.load}`);

const TARGET_P99_MS = 50;
const STATUS = '/hades/monitor/status/';
const POOL = ['10.40.0.1', '10.40.0.2', '10.40.0.3', '10.40.0.4'];
/** A query that sees no change for this long fails the run (something is broken, not slow). */
const GIVE_UP_MS = 10_000;

/** One UDP client socket on a fixed source address and port: the "fixed client" of sticky. */
class Poller {
  private readonly sock = dgram.createSocket('udp4');
  private id = 0;
  private waiting: ((m: Buffer) => void) | undefined;
  queries = 0;

  constructor(private readonly port: number) {
    this.sock.on('message', (m) => {
      const w = this.waiting;
      if (w && m.length >= 2 && m.readUInt16BE(0) === this.id) {
        this.waiting = undefined;
        w(m);
      }
    });
  }

  bind(): Promise<void> {
    return new Promise((resolve) => this.sock.bind({ address: '127.0.0.1', port: 0 }, resolve));
  }

  /** The first A address of `name` (resending after 500 ms without a reply). */
  async answer(name: string): Promise<string> {
    for (;;) {
      this.id = (this.id + 1) & 0xffff;
      const msg = encodeQuery({ id: this.id, name, type: RRType.A });
      const reply = await new Promise<Buffer | undefined>((resolve) => {
        const timer = setTimeout(() => {
          this.waiting = undefined;
          resolve(undefined);
        }, 500);
        this.waiting = (m) => {
          clearTimeout(timer);
          resolve(m);
        };
        this.sock.send(msg, this.port, '127.0.0.1');
      });
      this.queries++;
      if (!reply) continue;
      const a = decode(reply).answers.find((r) => r.type === RRType.A);
      return a ? (a.data as string) : '';
    }
  }

  /** Polls until `done(answer)`; returns the time it became true. */
  async until(name: string, done: (a: string) => boolean): Promise<number> {
    const start = performance.now();
    for (;;) {
      const a = await this.answer(name);
      const t = performance.now();
      if (done(a)) return t;
      if (t - start > GIVE_UP_MS) throw new Error(`${name}: answer still ${a} after ${GIVE_UP_MS} ms`);
    }
  }

  close(): void {
    this.sock.close();
  }
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

async function main(): Promise<void> {
  if (LOAD_QPS > 0) ensureTools([DNSPERF]);
  const etcd = await startEtcd();
  const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
  const port = await freeDnsPort();
  const hades = spawnHades(['-addr', `127.0.0.1:${port}`, '-machines', etcd.endpoint, '-logtostderr']);
  const poller = new Poller(port);
  let load: DnsperfRun | undefined;
  const work = LOAD_QPS > 0 ? await mkdtemp(join(tmpdir(), 'hades-bench-prop-')) : '';
  try {
    const pool = nameToKey('pool.hades.local');
    for (let i = 0; i < POOL.length; i++)
      await store.put(`${pool}/a${i}`, serializeRecordValue({ host: POOL[i] }));
    const recKey = nameToKey('rec.hades.local');
    await store.put(recKey, serializeRecordValue({ host: '10.41.0.0' }));
    await waitAnswering(hades, port);
    await poller.bind();
    await poller.until('pool.hades.local', (a) => POOL.includes(a));
    // the fixed client's sticky address: DOWN moves the answer away from it, UP brings it back
    const sticky = await poller.answer('pool.hades.local');
    await poller.until('rec.hades.local', (a) => a === '10.41.0.0');
    if (LOAD_QPS > 0) {
      const qfile = join(work, 'queries.txt');
      writeQueryFile(qfile, ['pool.hades.local.', 'rec.hades.local.'], 1000);
      load = startDnsperf({ port, queryFile: qfile, seconds: 3600, qps: LOAD_QPS, clients: 8 });
      await new Promise((r) => setTimeout(r, 1000)); // steady before the first write
    }

    const status: number[] = [];
    const record: number[] = [];
    const put: number[] = [];
    let down = false;
    let queries = 0;
    for (let i = 0; i < N; i++) {
      const q0 = poller.queries;
      if (i % 2 === 0) {
        down = !down;
        const want = down;
        const t0 = performance.now();
        const acked = store
          .put(`${STATUS}${sticky}`, want ? '{"status":"DOWN"}' : '{"status":"UP"}')
          .then(() => put.push(performance.now() - t0));
        const t1 = await poller.until('pool.hades.local', (a) =>
          want ? a !== sticky && a !== '' : a === sticky,
        );
        status.push(t1 - t0);
        await acked;
      } else {
        const host = `10.41.${(i >> 8) & 255}.${i & 255}`;
        const t0 = performance.now();
        const acked = store
          .put(recKey, serializeRecordValue({ host }))
          .then(() => put.push(performance.now() - t0));
        const t1 = await poller.until('rec.hades.local', (a) => a === host);
        record.push(t1 - t0);
        await acked;
      }
      queries += poller.queries - q0;
    }

    let loadStats: DnsperfResult | undefined;
    if (load) {
      load.stop();
      loadStats = await load.done;
      load = undefined;
    }
    const rows: string[][] = [['write', 'n', 'p50 ms', 'p99 ms', 'max ms']];
    const row = (label: string, xs: number[]) => {
      const s = [...xs].sort((x, y) => x - y);
      rows.push([
        label,
        String(s.length),
        percentile(s, 0.5).toFixed(2),
        percentile(s, 0.99).toFixed(2),
        s[s.length - 1].toFixed(2),
      ]);
      return percentile(s, 0.99);
    };
    row('status DOWN/UP → answer', status);
    row('record host → answer', record);
    const p99 = row('all → answer', [...status, ...record]);
    row('(etcd put alone)', put);
    const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    console.log(
      `etcd write → changed answer, ${N} writes, hades on etcd, one UDP client polling` +
        (loadStats
          ? `, dnsperf load ${LOAD_QPS.toLocaleString('en-US')} q/s asked: ${Math.round(loadStats.qps).toLocaleString('en-US')} q/s served, ${loadStats.lost} lost, avg ${loadStats.avgLatencyMs.toFixed(2)} ms`
          : ', no other load'),
    );
    for (const r of rows)
      console.log(r.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  '));
    console.log(`queries per write: ${(queries / N).toFixed(1)} (one outstanding at a time)`);
    console.log(
      `target (issue 4): p99 < ${TARGET_P99_MS} ms → ${p99 < TARGET_P99_MS ? 'met' : 'NOT met'} (p99 ${p99.toFixed(2)} ms)`,
    );
  } finally {
    if (load) {
      load.stop();
      await load.done.catch(() => undefined);
    }
    if (work) await rm(work, { recursive: true, force: true });
    poller.close();
    await hades.stop();
    await store.close();
    await etcd.stop();
  }
}

await main();
