/**
 * bench/memory: RSS and time to ready of the real `hades` process at 100,000 and 1,000,000
 * records.
 *
 * For each size: a fresh etcd (Debian etcd-server) loaded the way bench/catalog-load loads it
 * (bench/lib/records.ts: four A records per name, an UP health key for every fourth address),
 * then `hades` started on it as a user would (`-select sticky`, `-metrics-port` on). Time to
 * ready is from the spawn to the first 200 from /ready (node start-up and the first list
 * included), and to the first answer for the last name loaded. RSS (VmRSS, and its anonymous and
 * file-backed parts from /proc/<pid>/status) is read at once when /ready said 200, and again
 * after `--settle` seconds without queries (V8 shrinks its young generation only after seconds
 * of idle).
 * Targets (issue 5): 100k records ≤ 150 MB RSS and ready ≤ 3 s; 1M records ≤ 1 GB. Printed, not
 * asserted.
 *
 *   npm run bench:memory [-- --records 100000,1000000 --settle 5 --node-options=--max-semi-space-size=2]
 *
 * --node-options: NODE_OPTIONS for the hades process (V8 heap flags to compare).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
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
  },
});
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
    });
    try {
      const atReady = memoryOf(hades.proc.pid);
      await sleep(SETTLE_S * 1000);
      const settled = memoryOf(hades.proc.pid);
      const mb = (x: number | undefined) => (x === undefined ? '-' : `${x.toFixed(0)} MB`);
      rows.push([
        num(n),
        `${(hades.readyMs / 1000).toFixed(2)} s`,
        `${(hades.answerMs / 1000).toFixed(2)} s`,
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
  'memory: the hades process on etcd (-select sticky, -metrics-port); RSS read when /ready first says 200, and after ' +
    `${SETTLE_S} s idle`,
  ['records', 'ready', 'first answer', 'RSS', 'RssAnon', 'RssFile', `RSS +${SETTLE_S} s`],
  rows,
);
for (const v of verdicts) console.log(`target (issue 5): ${v}`);
process.exit(0);
