/**
 * Child of bench/catalog-load: opens the store, starts a catalog, reports time to ready and
 * memory as one JSON line on stdout. Run with --expose-gc.
 */
import { Catalog } from '../src/catalog/catalog.js';
import { openEmbeddedStore } from '../src/store/embedded/embedded.js';
import { openEtcdStore } from '../src/store/etcd/etcd.js';

const [backend, where] = process.argv.slice(2);
const store =
  backend === 'etcd' ? await openEtcdStore({ endpoints: [where] }) : await openEmbeddedStore({ dir: where });
const started = performance.now();
const catalog = new Catalog({ store });
await catalog.start();
const readyMs = performance.now() - started;
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
gc?.();
const mem = process.memoryUsage();
process.stdout.write(
  `${JSON.stringify({ readyMs, records: catalog.recordCount, rssMB: mem.rss / 1048576, heapMB: mem.heapUsed / 1048576 })}\n`,
);
await catalog.stop();
await store.close();
process.exit(0);
