/**
 * bench/handler: ns per A query through the real DnsHandler (parse, lookup, health, tiers,
 * locality, sticky selection, reply) in process, no sockets: the JavaScript part of hades's
 * per-query cost, apart from the kernel's and the socket layer's, at 1,000 and 100,000 names
 * (bench/qps's names and records, from the embedded store). Two data sets in the same run: the
 * plain one (every address in tier 10, no zones) and one with two tiers and two zones per name
 * and a topology holding the clients (issue 14's cost). Clients: 4,096 source addresses over the
 * two zones (192.0.0.0/20), either one client throughout or a new one every query (a resolver
 * farm: sticky's identity cache and the zone lookup miss every time). Each pair is measured
 * alternately, `--rounds` times, and the median printed with the ratio. With `--baseline DIR` (a
 * built checkout of another tree) the pairs are that tree's DnsHandler and Catalog against this
 * one's on the same data, in this process: before/after in one run. Asserts nothing.
 *
 *   npm run build && node dist/bench/handler.js [--names 1000,100000] [--queries 2000000] [--rounds 3]
 *     [--baseline /tmp/base]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Catalog } from '../src/catalog/catalog.js';
import { DnsHandler } from '../src/dns/handler.js';
import type { ClientInfo } from '../src/dns/types.js';
import { RRType } from '../src/dns/wire/constants.js';
import { encodeQuery } from '../src/dns/wire/encode.js';
import { ResponseWriter } from '../src/dns/wire/writer.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/types.js';
import { loadRecords, PER_NAME, type RecordPolicy, serviceName } from './lib/records.js';

const { values } = parseArgs({
  options: {
    names: { type: 'string', default: '1000,100000' },
    queries: { type: 'string', default: '2000000' },
    rounds: { type: 'string', default: '3' },
    baseline: { type: 'string' },
  },
});
const N = Number(values.queries);
const ROUNDS = Number(values.rounds);

const clients: ClientInfo[] = [];
for (let i = 0; i < 4096; i++)
  clients.push({ address: `192.0.${i >> 8}.${i & 255}`, port: 5300, family: 4, transport: 'udp' });

/** The two classes a tree contributes (this one, or the baseline's built dist/). */
interface Tree {
  Catalog: typeof Catalog;
  DnsHandler: typeof DnsHandler;
}
const THIS: Tree = { Catalog, DnsHandler };
const BASE: Tree | undefined =
  values.baseline === undefined
    ? undefined
    : {
        Catalog: (await import(resolve(values.baseline, 'dist/src/catalog/catalog.js'))).Catalog,
        DnsHandler: (await import(resolve(values.baseline, 'dist/src/dns/handler.js'))).DnsHandler,
      };

interface Setup {
  store: Store;
  dir: string;
  catalogs: { stop(): Promise<void> }[];
  /** This tree's handler, and the other one of the pair (the baseline's, or this tree's on plain data). */
  h: DnsHandler;
}

async function setup(names: number, policy: RecordPolicy, trees: Tree[]): Promise<Setup[]> {
  const dir = await mkdtemp(join(tmpdir(), 'hades-bench-handler-'));
  const store = await openStore({ machines: [], dataDir: dir });
  await loadRecords(store, names * PER_NAME, 1, policy);
  const out: Setup[] = [];
  for (const t of trees) {
    const catalog = new t.Catalog({ store });
    await catalog.start();
    const h = new t.DnsHandler({ catalog, zones: ['hades.local.'], hostname: 'bench', version: 'bench' });
    out.push({ store, dir, catalogs: [catalog], h });
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

for (const names of values.names.split(',').map(Number)) {
  // 65,536 pre-encoded questions for names drawn at random (as dnsperf's query file)
  const QN = 65536;
  const qs: Buffer[] = [];
  let x = 12345;
  for (let i = 0; i < QN; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    qs.push(encodeQuery({ id: i & 0xffff, name: serviceName(x % names), type: RRType.A, edns: null }));
  }
  // the pair: [before, after]
  const pair = BASE
    ? await setup(names, { tiers: true, zones: true }, [BASE, THIS])
    : [...(await setup(names, {}, [THIS])), ...(await setup(names, { tiers: true, zones: true }, [THIS]))];
  const [before, after] = [pair[0].h, pair[1].h];
  const labels = BASE ? ['baseline', 'this tree'] : ['plain', '2 tiers × 2 zones'];
  try {
    const w = new ResponseWriter();
    let sink = 0;
    const run = (h: DnsHandler, n: number, clientEvery: number): number => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        const q = qs[i & (QN - 1)];
        sink += h.handle(q, q.length, clients[Math.floor(i / clientEvery) & 4095], w, 512);
      }
      return Number(process.hrtime.bigint() - t0) / n;
    };
    run(before, 500_000, 1);
    run(after, 500_000, 1);
    for (const [label, every] of [
      ['one client', 1 << 30],
      ['a new client every query', 1],
    ] as const) {
      const a: number[] = [];
      const b: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        a.push(run(before, N, every));
        b.push(run(after, N, every));
      }
      const pa = median(a);
      const pb = median(b);
      console.log(
        `${String(names).padStart(7)} names, ${label.padEnd(26)} ${labels[0]} ${pa.toFixed(0).padStart(5)} ns/query, ` +
          `${labels[1]} ${pb.toFixed(0).padStart(5)} ns/query: ${((pb / pa - 1) * 100).toFixed(1).padStart(5)} %`,
      );
    }
    if (sink === 0) console.log('(no answers?)');
  } finally {
    for (const s of pair) for (const c of s.catalogs) await c.stop();
    for (const s of new Set(pair.map((p) => p.store))) await s.close();
    for (const d of new Set(pair.map((p) => p.dir))) await rm(d, { recursive: true, force: true });
  }
}
process.exit(0);
