/**
 * bench/catalog-load: how fast a fresh catalog lists N records, and what it costs in memory.
 *
 * Starts a real etcd (Debian etcd-server) on loopback, loads N records (default 100,000, the
 * Hades 1.x layout: `/hades/local/hades/svc/<ns>/<svc>/<fnv>`, a health key per address), then
 * runs the catalog in a child process (so the loader's memory is not counted) and prints:
 * time to ready, records/s, and the child's memory once ready (after full GCs; see
 * catalog-child.ts): RSS, RSS read at once after the GCs, RSS split into anonymous and
 * file-backed pages (for the embedded store the mapped lmdb file is file-backed: compare RssAnon),
 * and JS heap used.
 * Targets (issue 2): 100k records ready in ≤ 3 s and ≤ 150 MB RSS. Figures are printed, not asserted.
 *
 *   npm run bench:catalog-load [-- --records 100000 --backend etcd|embedded|both]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openEmbeddedStore } from '../src/store/embedded/embedded.js';
import { openEtcdStore } from '../src/store/etcd/etcd.js';
import type { Store } from '../src/store/types.js';
import { startEtcd } from '../test/harness/etcd.js';
import { loadRecords } from './lib/records.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '100000' },
    backend: { type: 'string', default: 'both' },
  },
});
const N = Number(values.records);

interface ChildResult {
  readyMs: number;
  records: number;
  rssMB: number;
  /** RSS read at once after the GCs, before V8's background thread has unmapped what they freed. */
  rssAtOnceMB: number;
  /** Anonymous (private) part of RSS, and the file-backed rest; undefined off Linux. */
  rssAnonMB?: number;
  rssFileMB?: number;
  heapMB: number;
}

function runChild(args: string[]): Promise<ChildResult> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', fileURLToPath(new URL('./catalog-child.js', import.meta.url)), ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`catalog child exited with ${code}`));
      else resolve(JSON.parse(out) as ChildResult);
    });
  });
}

const rows: string[][] = [];
async function bench(backend: 'etcd' | 'embedded'): Promise<void> {
  let store: Store;
  let childArgs: string[];
  let cleanup: () => Promise<void>;
  if (backend === 'etcd') {
    const etcd = await startEtcd();
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    childArgs = ['etcd', etcd.endpoint];
    cleanup = () => etcd.stop();
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'hades-bench-'));
    store = await openEmbeddedStore({ dir });
    childArgs = ['embedded', dir];
    cleanup = () => rm(dir, { recursive: true, force: true });
  }
  try {
    const loadMs = await loadRecords(store, N);
    await store.close();
    const r = await runChild(childArgs);
    rows.push([
      backend,
      String(r.records),
      `${(loadMs / 1000).toFixed(2)} s`,
      `${(r.readyMs / 1000).toFixed(2)} s`,
      `${Math.round(r.records / (r.readyMs / 1000)).toLocaleString('en-US')}`,
      `${r.rssMB.toFixed(0)} MB`,
      `${r.rssAtOnceMB.toFixed(0)} MB`,
      r.rssAnonMB === undefined ? '-' : `${r.rssAnonMB.toFixed(0)} MB`,
      r.rssFileMB === undefined ? '-' : `${r.rssFileMB.toFixed(0)} MB`,
      `${r.heapMB.toFixed(0)} MB`,
    ]);
  } finally {
    await cleanup();
  }
}

const backends =
  values.backend === 'both' ? (['etcd', 'embedded'] as const) : [values.backend as 'etcd' | 'embedded'];
for (const b of backends) await bench(b);

const header = [
  'backend',
  'records',
  'load',
  'ready',
  'records/s',
  'RSS',
  'RSS at once',
  'RssAnon',
  'RssFile',
  'heap used',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(
  `catalog-load: ${N.toLocaleString('en-US')} records (targets at 100k: ready ≤ 3 s, RSS ≤ 150 MB)`,
);
console.log(line(header));
for (const r of rows) console.log(line(r));
