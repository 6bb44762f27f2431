/**
 * Child of bench/catalog-load: opens the store the way `hades` does (`openStore`, which loads only
 * the chosen backend), starts a catalog, and reports time to ready and memory as one JSON line on
 * stdout. Run with --expose-gc.
 *
 * Memory is taken right after ready: two full GCs, then 50 ms for V8's background thread to hand
 * the pages those GCs freed back to the OS (read at once, RSS still counts 10-15 MB of them: that
 * reading is reported too, as `rssAtOnceMB`; 50 ms
 * is far too short for V8's memory reducer, which shrinks the young generation only after seconds
 * without allocation, so the young generation is still at the full size the list grew it to).
 * RSS comes from /proc/self/status, split into anonymous memory (the process's own: JS heap,
 * malloc) and file-backed pages (the node binary and libraries; for the embedded store also the
 * lmdb data file's pages the list touched: mapped page cache, shared with other processes and
 * dropped by the kernel under pressure, so RssAnon is the figure to compare there).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Catalog } from '../src/catalog/catalog.js';
import { openStore } from '../src/store/open.js';

const [backend, where] = process.argv.slice(2);
const store = await openStore(
  backend === 'etcd' ? { machines: [where], dataDir: '' } : { machines: [], dataDir: where },
);
const started = performance.now();
const catalog = new Catalog({ store });
await catalog.start();
const readyMs = performance.now() - started;
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
gc?.();
const MB = 1048576;
const rssAtOnceMB = process.memoryUsage.rss() / MB;
await sleep(50);

/** RSS fields of /proc/self/status in MB (Linux), or undefined. */
function status(): { [field: string]: number } | undefined {
  try {
    const text = readFileSync('/proc/self/status', 'utf8');
    const out: { [field: string]: number } = {};
    for (const m of text.matchAll(/^(VmRSS|RssAnon|RssFile|RssShmem):\s+(\d+) kB/gm))
      out[m[1]] = Number(m[2]) / 1024;
    return out;
  } catch {
    return undefined;
  }
}
const st = status();
const mem = process.memoryUsage();
process.stdout.write(
  `${JSON.stringify({
    readyMs,
    records: catalog.recordCount,
    rssMB: st?.VmRSS ?? mem.rss / MB,
    rssAtOnceMB,
    rssAnonMB: st?.RssAnon,
    rssFileMB: st === undefined ? undefined : st.RssFile + (st.RssShmem ?? 0),
    heapMB: mem.heapUsed / MB,
  })}\n`,
);
await catalog.stop();
await store.close();
process.exit(0);
