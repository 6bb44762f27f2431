/**
 * bench/memory: RSS and time to ready of the real `hades` process at 100,000 and 1,000,000
 * records.
 *
 * For each size: a fresh etcd (Debian etcd-server) loaded the way bench/catalog-load loads it
 * (bench/lib/records.ts: four A records per name, an UP health key for every fourth address),
 * then `hades` started on it as a user would (node with the bin's shebang flags, HADES_NODE_FLAGS;
 * `-select sticky`, `-metrics-port` on). Time to
 * ready is from the spawn to the first 200 from /ready (node start-up and the first list
 * included), and to the first answer for the last name loaded. RSS (VmRSS, and its anonymous and
 * file-backed parts from /proc/<pid>/status) is read at once when /ready said 200, and again
 * after `--settle` seconds without queries (V8 shrinks its young generation only after seconds
 * of idle). The "start-up GC" column is hades's own log (`gcMs` of "catalog ready": the compacting
 * GC after the first list, src/dns/memory.ts).
 * Targets (issue 5): 100k records ≤ 150 MB RSS and ready ≤ 3 s; 1M records ≤ 1 GB. Printed, not
 * asserted.
 *
 *   npm run bench:memory [-- --records 100000,1000000 --settle 5 --node-flags= --node-options=…]
 *
 * --node-flags: node's flags for hades instead of HADES_NODE_FLAGS (space-separated; empty: none),
 * to compare. --node-options: NODE_OPTIONS for the hades process (more V8 flags to compare).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { HADES_NODE_FLAGS } from '../src/dns/memory.js';
import { openEtcdStore } from '../src/store/etcd/etcd.js';
import { startEtcd } from '../test/harness/etcd.js';
import { startBenchHades } from './lib/hades.js';
import { memoryOf } from './lib/proc.js';
import { loadRecords, PER_NAME, serviceName } from './lib/records.js';
import { num, printTable } from './lib/table.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '100000,1000000' },
    settle: { type: 'string', default: '5' },
    'node-options': { type: 'string' },
    'node-flags': { type: 'string' },
  },
});
const NODE_FLAGS =
  values['node-flags'] === undefined ? HADES_NODE_FLAGS : values['node-flags'].split(/\s+/).filter(Boolean);
const SIZES = values.records.split(',').map(Number);
const SETTLE_S = Number(values.settle);
for (const n of SIZES)
  if (!Number.isInteger(n) || n < PER_NAME)
    throw new Error(`--records: want integers ≥ ${PER_NAME}, got ${n}`);

const rows: string[][] = [];
const verdicts: string[] = [];
for (const n of SIZES) {
  const etcd = await startEtcd();
  try {
    const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    const loadMs = await loadRecords(store, n);
    await store.close();
    console.error(`memory: ${num(n)} records in etcd in ${(loadMs / 1000).toFixed(1)} s`);
    const hades = await startBenchHades({
      etcd: etcd.endpoint,
      probeName: serviceName(Math.ceil(n / PER_NAME) - 1),
      nodeOptions: values['node-options'],
      nodeFlags: NODE_FLAGS,
    });
    try {
      const atReady = memoryOf(hades.proc.pid);
      await sleep(SETTLE_S * 1000);
      const settled = memoryOf(hades.proc.pid);
      const gcMs = /"gcMs":(\d+)/.exec(hades.proc.stderr())?.[1];
      const mb = (x: number | undefined) => (x === undefined ? '-' : `${x.toFixed(0)} MB`);
      rows.push([
        num(n),
        `${(hades.readyMs / 1000).toFixed(2)} s`,
        `${(hades.answerMs / 1000).toFixed(2)} s`,
        gcMs === undefined ? '-' : `${(Number(gcMs) / 1000).toFixed(2)} s`,
        mb(atReady?.rss),
        mb(atReady?.anon),
        mb(atReady?.file),
        mb(settled?.rss),
      ]);
      const rss = Math.max(atReady?.rss ?? 0, settled?.rss ?? 0);
      if (n === 100_000)
        verdicts.push(
          `100k: RSS ≤ 150 MB → ${rss <= 150 ? 'met' : 'NOT met'}, ready ≤ 3 s → ${hades.readyMs <= 3000 ? 'met' : 'NOT met'}`,
        );
      if (n === 1_000_000) verdicts.push(`1M: RSS ≤ 1 GB → ${rss <= 1024 ? 'met' : 'NOT met'}`);
    } finally {
      await hades.stop();
    }
  } finally {
    await etcd.stop();
  }
}
printTable(
  `memory: the hades process on etcd (node ${NODE_FLAGS.join(' ') || '(no flags)'}; -select sticky, -metrics-port); ` +
    `RSS read when /ready first says 200, and after ${SETTLE_S} s idle`,
  ['records', 'ready', 'first answer', 'start-up GC', 'RSS', 'RssAnon', 'RssFile', `RSS +${SETTLE_S} s`],
  rows,
);
for (const v of verdicts) console.log(`target (issue 5): ${v}`);
process.exit(0);
