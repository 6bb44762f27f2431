/**
 * Catalog against real stores: the embedded store and a real etcd (test/harness/etcd.ts), one
 * table of backends for the basic behaviour, plus etcd-only kill/restart convergence.
 * Outcomes are awaited with generous timeouts, never timed.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type EtcdProcess, startEtcd } from '../../test/harness/etcd.js';
import type { Logger } from '../common/logger.js';
import { ipFromHealthKey, parseHealthStatus } from '../records/health.js';
import { toRecord } from '../records/record.js';
import type { Record } from '../records/types.js';
import { openEmbeddedStore } from '../store/embedded/embedded.js';
import { openEtcdStore } from '../store/etcd/etcd.js';
import {
  type ListPagesOptions,
  type ListResult,
  type PageHandler,
  type Store,
  StoreError,
  type Watch,
  type WatchEvent,
  type WatchHandler,
} from '../store/types.js';
import { Catalog } from './catalog.js';

const TIMEOUT_MS = 30_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

// ---- backends --------------------------------------------------------------------------------

interface Opened {
  store: Store;
  etcd?: EtcdProcess;
  close(): Promise<void>;
}

interface Backend {
  name: string;
  open(): Promise<Opened>;
}

const BACKENDS: Backend[] = [
  {
    name: 'etcd',
    async open() {
      const etcd = await startEtcd();
      const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
      return {
        store,
        etcd,
        async close() {
          await store.close();
          await etcd.stop();
        },
      };
    },
  },
  {
    name: 'embedded',
    async open() {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'hades-catalog-'));
      const store = await openEmbeddedStore({ dir });
      return {
        store,
        async close() {
          await store.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

// ---- helpers ---------------------------------------------------------------------------------

/** Records a logger's calls. */
class MemLogger implements Logger {
  readonly lines: { level: string; obj: object; msg?: string }[] = [];
  debug(obj: object, msg?: string) {
    this.lines.push({ level: 'debug', obj, msg });
  }
  info(obj: object, msg?: string) {
    this.lines.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg?: string) {
    this.lines.push({ level: 'warn', obj, msg });
  }
  error(obj: object, msg?: string) {
    this.lines.push({ level: 'error', obj, msg });
  }
  warningsFor(key: string): number {
    return this.lines.filter((l) => l.level === 'warn' && (l.obj as { key?: string }).key === key).length;
  }
}

/** What a catalog should hold, computed from a fresh list of the store. */
async function expectedView(
  store: Store,
  prefix = '/hades',
  healthPrefix = '/hades/monitor/status/',
): Promise<{ records: string[]; health: string[] }> {
  const res = await store.list(`${prefix}/`);
  const records: string[] = [];
  for (const kv of res.kvs) {
    if (kv.key.startsWith(`${prefix}/monitor/`) || kv.key.startsWith(healthPrefix)) continue;
    try {
      records.push(JSON.stringify(toRecord(kv, prefix)));
    } catch {
      // unusable: not in the index
    }
  }
  const health: string[] = [];
  const hres = healthPrefix.startsWith(`${prefix}/`) ? res : await store.list(healthPrefix);
  for (const kv of hres.kvs) {
    if (!kv.key.startsWith(healthPrefix)) continue;
    const ip = ipFromHealthKey(healthPrefix, kv.key);
    try {
      if (ip !== undefined) health.push(`${ip}=${parseHealthStatus(kv.value).status}`);
    } catch {
      // unusable: unmonitored
    }
  }
  return { records: records.sort(), health: health.sort() };
}

function catalogView(catalog: Catalog): { records: string[]; health: string[] } {
  const records: string[] = [];
  catalog.index.forEach((r) => {
    records.push(JSON.stringify(r));
  });
  const health: string[] = [];
  catalog.overlay.forEach((state, ip) => {
    health.push(`${ip}=${state}`);
  });
  return { records: records.sort(), health: health.sort() };
}

async function converged(catalog: Catalog, store: Store, healthPrefix?: string): Promise<boolean> {
  try {
    const want = await expectedView(store, '/hades', healthPrefix);
    const got = catalogView(catalog);
    return JSON.stringify(want) === JSON.stringify(got);
  } catch {
    return false;
  }
}

function keys(catalog: Catalog, name: string): string[] {
  const out: Record[] = [];
  catalog.lookup(name, out);
  return out.map((r) => r.key).sort();
}

const A = (ip: string, extra: object = {}) => JSON.stringify({ host: ip, ...extra });
const UP = JSON.stringify({ status: 'UP', ports: ['80'] });
const DOWN = JSON.stringify({ status: 'DOWN', ports: ['80'] });

/**
 * Delegates to a real store, except that its watches can be severed and resumed: resume reopens
 * each watch on the real store from the revision after the last event delivered, as a client
 * reconnecting after a long outage does. With a compaction in between, the real store answers
 * `compacted`.
 */
class SeverableStore implements Store {
  readonly kind: Store['kind'];
  /** Lists to fail (ESTORE_UNAVAILABLE) before letting them through. */
  failLists = 0;
  /** Watches to refuse (a synchronous StoreError) before letting them through. */
  failWatches = 0;
  /** Paged lists to end with ESTORE_COMPACTED after their first page (snapshot compacted mid-way). */
  compactLists = 0;
  /** Page size for paged lists (default: the store's), and a pause before each page. */
  pageSize: number | undefined = undefined;
  pageDelayMs = 0;
  /** Pages handed to the catalog so far. */
  pages = 0;
  private severed = false;
  private readonly watches = new Set<{
    prefix: string;
    next: number;
    handler: WatchHandler;
    inner: Watch | undefined;
  }>();

  constructor(private readonly inner: Store) {
    this.kind = inner.kind;
  }

  get(key: string) {
    return this.inner.get(key);
  }
  list(prefix: string): Promise<ListResult> {
    if (this.failLists > 0) {
      this.failLists--;
      return Promise.reject(new StoreError('ESTORE_UNAVAILABLE', 'test: store unreachable'));
    }
    return this.inner.list(prefix);
  }
  listPages(prefix: string, onPage: PageHandler, opts?: ListPagesOptions): Promise<number> {
    if (this.failLists > 0) {
      this.failLists--;
      return Promise.reject(new StoreError('ESTORE_UNAVAILABLE', 'test: store unreachable'));
    }
    return this.inner.listPages!(
      prefix,
      async (kvs, revision) => {
        if (this.pageDelayMs > 0) await sleep(this.pageDelayMs);
        this.pages++;
        await onPage(kvs, revision);
        if (this.compactLists > 0) {
          this.compactLists--;
          throw new StoreError('ESTORE_COMPACTED', 'test: the listing revision was compacted');
        }
      },
      this.pageSize === undefined ? opts : { pageSize: this.pageSize },
    );
  }
  put(key: string, value: string, opts?: { lease?: string }) {
    return this.inner.put(key, value, opts);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  deletePrefix(prefix: string) {
    return this.inner.deletePrefix(prefix);
  }
  txn(t: Parameters<Store['txn']>[0]) {
    return this.inner.txn(t);
  }
  grantLease(ttl: number) {
    return this.inner.grantLease(ttl);
  }
  keepAliveLease(id: string) {
    return this.inner.keepAliveLease(id);
  }
  revokeLease(id: string) {
    return this.inner.revokeLease(id);
  }
  compact(revision: number) {
    return this.inner.compact(revision);
  }
  close() {
    return this.inner.close();
  }

  watch(prefix: string, fromRevision: number, handler: WatchHandler): Watch {
    if (this.failWatches > 0) {
      this.failWatches--;
      throw new StoreError('ESTORE_UNAVAILABLE', 'test: watch refused');
    }
    const w = { prefix, next: fromRevision, handler, inner: undefined as Watch | undefined };
    this.watches.add(w);
    if (!this.severed) this.open(w);
    return {
      close: async () => {
        this.watches.delete(w);
        const inner = w.inner;
        w.inner = undefined;
        await inner?.close();
      },
    };
  }

  private open(w: { prefix: string; next: number; handler: WatchHandler; inner: Watch | undefined }) {
    w.inner = this.inner.watch(w.prefix, w.next, {
      events: (events: WatchEvent[]) => {
        for (const ev of events) {
          const rev = ev.type === 'put' ? ev.kv.modRevision : ev.modRevision;
          if (rev >= w.next) w.next = rev + 1;
        }
        w.handler.events(events);
      },
      compacted: (rev) => w.handler.compacted(rev),
      status: (state, err) => w.handler.status?.(state, err),
    });
  }

  async sever(): Promise<void> {
    this.severed = true;
    for (const w of this.watches) {
      const inner = w.inner;
      w.inner = undefined;
      await inner?.close();
      w.handler.status?.('disconnected', new Error('test: severed'));
    }
  }

  resume(): void {
    this.severed = false;
    for (const w of this.watches) if (w.inner === undefined) this.open(w);
  }
}

/** Current store revision (a write outside the prefixes the tests follow). */
async function storeRevision(store: Store): Promise<number> {
  return store.put('/zz-test-revision', String(Date.now()));
}

// ---- the table -------------------------------------------------------------------------------

for (const backend of BACKENDS) {
  describe(`Catalog on ${backend.name}`, () => {
    test('initial list: records, health, ignored and unusable keys', async () => {
      const opened = await backend.open();
      const { store } = opened;
      const log = new MemLogger();
      const catalog = new Catalog({ store, logger: log });
      try {
        await store.put('/hades/local/hades/user/cctv1/a1', A('10.0.0.1'));
        await store.put('/hades/local/hades/user/cctv1/a2', A('10.0.0.2'));
        await store.put('/hades/local/hades/user/cctv2/b1', A('10.0.1.1', { group: 'g' }));
        await store.put('/hades/arpa/in-addr/10/0/0/1', A('cctv1.user.hades.local'));
        await store.put('/hades/local/hades/bad/x', 'not json');
        await store.put('/hades/local/hades/bad/y', '[1,2]');
        await store.put('/hades/monitor/status/10.0.0.1', UP);
        await store.put('/hades/monitor/status/10.0.0.2', DOWN);
        await store.put('/hades/monitor/status/not-an-ip', UP);
        await store.put('/hades/monitor/status/10.0.0.9', '{"status":"MAYBE"}');
        await store.put('/hades/monitor/report/scanner1', '{"x":1}');
        await store.put('/hades/monitor/heart/scanner1', 'alive');
        await store.put('/hadesx/local/hades/other', A('10.9.9.9'));
        const rev = await store.put('/hades/local/hades/last', A('10.0.0.3'));

        assert.equal(catalog.ready, false);
        await catalog.start();
        assert.equal(catalog.ready, true);
        assert.ok(catalog.revision >= rev, `revision ${catalog.revision} >= ${rev}`);
        assert.equal(catalog.recordCount, 5);
        assert.deepEqual(keys(catalog, 'cctv1.user.hades.local.'), [
          '/hades/local/hades/user/cctv1/a1',
          '/hades/local/hades/user/cctv1/a2',
        ]);
        assert.deepEqual(keys(catalog, '1.0.0.10.in-addr.arpa.'), ['/hades/arpa/in-addr/10/0/0/1']);
        assert.equal(catalog.has('user.hades.local.'), true);
        assert.equal(catalog.has('bad.hades.local.'), false);
        assert.equal(catalog.has('monitor.'), false);
        assert.equal(catalog.has('status.monitor.'), false);
        assert.equal(catalog.health('10.0.0.1'), 'UP');
        assert.equal(catalog.health('10.0.0.2'), 'DOWN');
        assert.equal(catalog.health('10.0.0.9'), undefined);
        assert.equal(catalog.health('10.0.0.3'), undefined);
        assert.equal(catalog.stats.invalidRecords, 2);
        assert.equal(catalog.stats.invalidHealth, 2);
        assert.equal(catalog.stats.lists, 1);
        assert.equal(log.warningsFor('/hades/local/hades/bad/x'), 1);
        assert.equal(log.warningsFor('/hades/monitor/status/not-an-ip'), 1);
        await waitFor('watch connected', () => catalog.watchState === 'connected');
        assert.ok(catalog.lastEventAt > 0);
        assert.ok(await converged(catalog, store));
      } finally {
        await catalog.stop();
        await opened.close();
      }
    });

    for (const topologyPrefix of [undefined, '/topo/zones/'])
      test(`topology ${topologyPrefix ?? 'under the record prefix'}: listed, watched live, bad values skipped and counted`, async () => {
        const opened = await backend.open();
        const { store } = opened;
        const log = new MemLogger();
        const tp = topologyPrefix ?? '/hades/topology/';
        const catalog = new Catalog({ store, logger: log, topologyPrefix });
        const changes: string[] = [];
        catalog.onChange((k) => changes.push(...k));
        const zoneOf = (ip: string): string => {
          const id = new Uint8Array(6);
          id.set([4, 32, ...ip.split('.').map(Number)]);
          return catalog.topology.zoneOf(id, 6);
        };
        try {
          await store.put(`${tp}z1`, '{"cidrs":["10.1.0.0/16"]}');
          await store.put(`${tp}z2`, '{"cidrs":["10.2.0.0/16","10.1.2.0/24"]}');
          await store.put(`${tp}bad`, '{"cidrs":["10.3.0.0/33"]}');
          await store.put(`${tp}a/b`, '{"cidrs":["10.4.0.0/16"]}');
          await store.put('/hades/local/hades/web/a', A('10.0.0.1', { zone: 'z1' }));
          await catalog.start();
          assert.equal(catalog.topologyPrefix, tp);
          assert.deepEqual([...catalog.topologyZones.keys()].sort(), ['z1', 'z2']);
          assert.equal(zoneOf('10.1.9.9'), 'z1');
          assert.equal(zoneOf('10.1.2.9'), 'z2');
          assert.equal(zoneOf('10.3.0.1'), '');
          assert.equal(catalog.stats.invalidTopology, 2);
          assert.equal(log.warningsFor(`${tp}bad`), 1);
          // topology keys are not records, whatever their place
          assert.equal(catalog.recordCount, 1);
          assert.equal(catalog.index.get('/hades/local/hades/web/a')?.zone, 'z1');
          assert.equal(catalog.has('topology.'), false);

          changes.length = 0;
          const before = catalog.topology;
          await store.put(`${tp}z3`, '{"cidrs":["10.3.0.0/16"]}');
          await waitFor('z3 live', () => zoneOf('10.3.0.1') === 'z3');
          assert.notEqual(catalog.topology, before);
          assert.deepEqual(changes, [`${tp}z3`]);
          await store.put(`${tp}z2`, 'garbage');
          await waitFor('z2 dropped', () => zoneOf('10.1.2.9') === 'z1');
          assert.equal(catalog.stats.invalidTopology, 3);
          await store.delete(`${tp}z1`);
          await waitFor('z1 gone', () => zoneOf('10.1.9.9') === '');
          await store.put(`${tp}bad`, '{"cidrs":["10.5.0.0/16"]}');
          await waitFor('bad fixed', () => zoneOf('10.5.0.1') === 'bad');
          assert.equal(catalog.stats.invalidTopology, 2);
          assert.equal(catalog.recordCount, 1);
        } finally {
          await catalog.stop();
          await opened.close();
        }
      });

    test('live puts, deletes and health updates; onChange; unusable values logged once per key', async () => {
      const opened = await backend.open();
      const { store } = opened;
      const log = new MemLogger();
      const catalog = new Catalog({ store, logger: log });
      const changes: string[][] = [];
      catalog.onChange((k) => changes.push([...k]));
      try {
        await store.put('/hades/local/hades/user/cctv1/a1', A('10.0.0.1'));
        await catalog.start();
        const g0 = catalog.generation('cctv1.user.hades.local.');
        const h0 = catalog.healthGeneration;
        changes.length = 0;

        await store.put('/hades/local/hades/user/cctv1/a2', A('10.0.0.2'));
        await waitFor('a2 appears', () => keys(catalog, 'cctv1.user.hades.local').length === 2);
        assert.notEqual(catalog.generation('cctv1.user.hades.local.'), g0);
        assert.deepEqual(changes.flat(), ['/hades/local/hades/user/cctv1/a2']);

        await store.put('/hades/monitor/status/10.0.0.2', DOWN);
        await waitFor('health DOWN', () => catalog.health('10.0.0.2') === 'DOWN');
        assert.notEqual(catalog.healthGeneration, h0);
        const h1 = catalog.healthGeneration;
        // Same state rewritten: no change, no generation bump, no onChange.
        const before = changes.length;
        await store.put('/hades/monitor/status/10.0.0.2', JSON.stringify({ status: 'DOWN', ports: ['443'] }));
        await store.put('/hades/local/hades/user/cctv1/marker', A('10.0.0.99'));
        await waitFor('marker', () => catalog.has('marker.cctv1.user.hades.local'));
        assert.equal(catalog.healthGeneration, h1);
        assert.deepEqual(changes.slice(before).flat(), ['/hades/local/hades/user/cctv1/marker']);

        await store.put('/hades/monitor/status/10.0.0.2', UP);
        await waitFor('health UP', () => catalog.health('10.0.0.2') === 'UP');
        await store.delete('/hades/monitor/status/10.0.0.2');
        await waitFor('health gone', () => catalog.health('10.0.0.2') === undefined);

        // A good key turning bad drops its record; three bad writes log once.
        const k = '/hades/local/hades/user/cctv1/a1';
        for (let i = 0; i < 3; i++) await store.put(k, `garbage ${i}`);
        await waitFor('a1 dropped', () => catalog.index.get(k) === undefined);
        await store.put('/hades/local/hades/user/cctv1/marker2', A('10.0.0.98'));
        await waitFor('marker2', () => catalog.has('marker2.cctv1.user.hades.local'));
        assert.equal(log.warningsFor(k), 1);
        assert.equal(catalog.stats.invalidRecords, 1);
        // Fixed, then bad again: logged again.
        await store.put(k, A('10.0.0.1'));
        await waitFor('a1 back', () => catalog.index.get(k)?.target === '10.0.0.1');
        assert.equal(catalog.stats.invalidRecords, 0);
        await store.put(k, 'garbage again');
        await waitFor('a1 dropped again', () => catalog.index.get(k) === undefined);
        assert.equal(log.warningsFor(k), 2);

        await store.delete('/hades/local/hades/user/cctv1/a2');
        await store.delete('/hades/local/hades/user/cctv1/marker');
        await store.delete('/hades/local/hades/user/cctv1/marker2');
        await waitFor('cctv1 gone', () => !catalog.has('cctv1.user.hades.local'));
        assert.equal(catalog.has('user.hades.local'), false);
        await store.delete(k);
        await store.put('/hades/monitor/lock/x', 'ignored');
        const rev = await store.put('/hades/local/hades/end', A('10.0.0.4'));
        await waitFor('end', () => catalog.revision >= rev);
        assert.equal(catalog.stats.invalidRecords, 0);
        assert.ok(await converged(catalog, store));
      } finally {
        await catalog.stop();
        await opened.close();
      }
    });

    test('compacted watch: lists again into a new index and swaps it in whole', async () => {
      const opened = await backend.open();
      const store = new SeverableStore(opened.store);
      const log = new MemLogger();
      const catalog = new Catalog({ store, logger: log, retry: { minMs: 10, maxMs: 200 } });
      const changes: string[] = [];
      catalog.onChange((k) => changes.push(...k));
      try {
        for (let i = 0; i < 20; i++)
          await store.put(`/hades/local/hades/svc/s${i % 4}/r${i}`, A(`10.0.0.${i}`));
        await store.put('/hades/monitor/status/10.0.0.1', UP);
        await catalog.start();
        assert.equal(catalog.recordCount, 20);
        const oldIndex = catalog.index;
        const oldOverlay = catalog.overlay;

        // The catalog's watch goes away for a while; meanwhile writes happen and history is compacted.
        await store.sever();
        await waitFor('disconnected', () => catalog.watchState === 'disconnected');
        for (let i = 0; i < 20; i += 2) await store.delete(`/hades/local/hades/svc/s${i % 4}/r${i}`);
        await store.put('/hades/local/hades/svc/s1/r1', A('10.0.1.1'));
        await store.put('/hades/local/hades/svc/new/n1', A('10.0.2.1'));
        await store.put('/hades/monitor/status/10.0.0.1', DOWN);
        await store.put('/hades/monitor/status/10.0.0.3', UP);
        await store.compact(await storeRevision(store));
        // Still answering from what it had.
        assert.equal(keys(catalog, 's0.svc.hades.local').length, 5);
        changes.length = 0;

        // The relist the compaction calls for fails twice first: backoff, old index still served.
        store.failLists = 2;
        store.resume();
        await waitFor('relisted', () => catalog.stats.lists === 2 && catalog.watchState === 'connected');
        assert.equal(catalog.stats.failures, 2);
        assert.ok(catalog.stats.compactions >= 1);
        assert.ok(await converged(catalog, store));
        assert.equal(catalog.recordCount, 11);
        assert.equal(catalog.health('10.0.0.1'), 'DOWN');
        assert.equal(catalog.health('10.0.0.3'), 'UP');
        // A new index and overlay were built; the old ones were left untouched (readers holding
        // them saw a consistent, complete view).
        assert.notEqual(catalog.index, oldIndex);
        assert.notEqual(catalog.overlay, oldOverlay);
        assert.equal(oldIndex.size, 20);
        assert.equal(oldOverlay.health('10.0.0.1'), 'UP');
        // onChange got exactly the keys that differ.
        const want = [
          ...Array.from({ length: 10 }, (_, j) => `/hades/local/hades/svc/s${(2 * j) % 4}/r${2 * j}`),
          '/hades/local/hades/svc/s1/r1',
          '/hades/local/hades/svc/new/n1',
          '/hades/monitor/status/10.0.0.1',
          '/hades/monitor/status/10.0.0.3',
        ].sort();
        assert.deepEqual([...changes].sort(), want);

        // And it follows the store again.
        await store.put('/hades/local/hades/svc/new/n2', A('10.0.2.2'));
        await waitFor('n2', () => keys(catalog, 'new.svc.hades.local').length === 2);
      } finally {
        await catalog.stop();
        await opened.close();
      }
    });

    test('a paged list whose snapshot is compacted mid-way: the partial build is dropped, listed again at once', async () => {
      const opened = await backend.open();
      const store = new SeverableStore(opened.store);
      store.compactLists = 2;
      const log = new MemLogger();
      // A retry delay far longer than the test: the relist must not wait for it.
      const catalog = new Catalog({ store, logger: log, retry: { minMs: 60_000, maxMs: 60_000 } });
      try {
        for (let i = 0; i < 10; i++)
          await store.put(`/hades/local/hades/svc/s${i % 3}/r${i}`, A(`10.0.0.${i}`));
        await store.put('/hades/monitor/status/10.0.0.1', DOWN);
        await catalog.start();
        assert.equal(store.compactLists, 0);
        assert.equal(catalog.recordCount, 10);
        assert.equal(catalog.stats.lists, 1);
        assert.equal(catalog.stats.failures, 0);
        assert.equal(
          log.lines.filter((l) => l.msg === 'catalog list compacted mid-way: listing again').length,
          2,
        );
        assert.ok(await converged(catalog, store));
      } finally {
        await catalog.stop();
        await opened.close();
      }
    });

    test('a store without listPages: the catalog lists with list', async () => {
      const opened = await backend.open();
      const store = new SeverableStore(opened.store);
      (store as { listPages?: unknown }).listPages = undefined;
      store.failLists = 1;
      const catalog = new Catalog({ store, retry: { minMs: 5, maxMs: 40 } });
      try {
        for (let i = 0; i < 10; i++)
          await store.put(`/hades/local/hades/svc/s${i % 3}/r${i}`, A(`10.0.0.${i}`));
        await store.put('/hades/monitor/status/10.0.0.1', DOWN);
        await catalog.start();
        assert.equal(catalog.stats.failures, 1);
        assert.equal(catalog.recordCount, 10);
        assert.equal(catalog.health('10.0.0.1'), 'DOWN');
        assert.ok(await converged(catalog, store));
        await store.put('/hades/local/hades/svc/s9/r9', A('10.0.0.99'));
        await waitFor('follows', () => catalog.recordCount === 11);
      } finally {
        await catalog.stop();
        await opened.close();
      }
    });

    test('health prefix outside the record prefix: two lists, two watches', async () => {
      const opened = await backend.open();
      const { store } = opened;
      const healthPrefix = '/hades-health/status';
      const catalog = new Catalog({ store, healthPrefix });
      try {
        await store.put('/hades/local/hades/a/r', A('10.0.0.1'));
        await store.put('/hades-health/status/10.0.0.1', DOWN);
        await store.put('/hades/monitor/status/10.0.0.2', UP); // not the health prefix: ignored
        await catalog.start();
        assert.equal(catalog.healthPrefix, '/hades-health/status/');
        assert.equal(catalog.recordCount, 1);
        assert.equal(catalog.health('10.0.0.1'), 'DOWN');
        assert.equal(catalog.health('10.0.0.2'), undefined);
        await store.put('/hades-health/status/10.0.0.1', UP);
        await store.put('/hades/local/hades/a/s', A('10.0.0.2'));
        await waitFor('both feeds', () => catalog.health('10.0.0.1') === 'UP' && catalog.recordCount === 2);
        assert.ok(await converged(catalog, store, '/hades-health/status/'));
      } finally {
        await catalog.stop();
        await opened.close();
      }
    });

    test('a watch that cannot be opened: ready on the list, then list + watch again with backoff', async () => {
      const opened = await backend.open();
      const store = new SeverableStore(opened.store);
      store.failWatches = 2;
      const catalog = new Catalog({ store, retry: { minMs: 5, maxMs: 40 } });
      try {
        await store.put('/hades/local/hades/a/r', A('10.0.0.1'));
        await catalog.start();
        assert.equal(catalog.recordCount, 1);
        await waitFor('watching', () => catalog.stats.lists === 3 && catalog.watchState === 'connected');
        assert.equal(catalog.stats.failures, 2);
        await store.put('/hades/local/hades/a/s', A('10.0.0.2'));
        await waitFor('follows', () => catalog.recordCount === 2);
      } finally {
        await catalog.stop();
        await opened.close();
      }
    });

    test('unreachable at start: retries with backoff until the first list is in', async () => {
      const opened = await backend.open();
      const store = new SeverableStore(opened.store);
      store.failLists = 3;
      const catalog = new Catalog({ store, retry: { minMs: 5, maxMs: 40 } });
      try {
        await store.put('/hades/local/hades/a/r', A('10.0.0.1'));
        await catalog.start();
        assert.equal(catalog.stats.failures, 3);
        assert.equal(catalog.recordCount, 1);
      } finally {
        await catalog.stop();
        await opened.close();
      }
    });
  });
}

test('stop() before the first list: start() rejects, nothing keeps running', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hades-catalog-'));
  const inner = await openEmbeddedStore({ dir });
  const store = new SeverableStore(inner);
  store.failLists = Number.MAX_SAFE_INTEGER;
  const catalog = new Catalog({ store, retry: { minMs: 5, maxMs: 20 } });
  try {
    const started = catalog.start();
    await waitFor('a failure', () => catalog.stats.failures >= 2);
    assert.equal(catalog.watchState, 'disconnected');
    assert.equal(catalog.ready, false);
    await catalog.stop();
    await assert.rejects(started, /stopped before the first list/);
    const failures = catalog.stats.failures;
    // a negative check: no retry after stop; 100 ms is 5 retry periods for one to (wrongly) happen
    await sleep(100);
    assert.equal(catalog.stats.failures, failures);
  } finally {
    await inner.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('stop() during a paged list: start() rejects, the listing ends at the next page', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hades-catalog-'));
  const inner = await openEmbeddedStore({ dir });
  const store = new SeverableStore(inner);
  store.pageSize = 2;
  store.pageDelayMs = 10;
  const catalog = new Catalog({ store });
  try {
    for (let i = 0; i < 40; i++) await store.put(`/hades/local/hades/svc/r${i}`, A(`10.0.0.${i}`));
    const started = catalog.start();
    await waitFor('a few pages', () => store.pages >= 3);
    await catalog.stop();
    await assert.rejects(started, /stopped before the first list/);
    const pages = store.pages;
    // a negative check: the listing ends; 100 ms is 10 page delays for more pages to (wrongly) come
    await sleep(100);
    assert.ok(store.pages <= pages + 1, `pages after stop: ${store.pages - pages}`);
    assert.ok(store.pages < 20);
    assert.equal(catalog.ready, false);
  } finally {
    await inner.close();
    await rm(dir, { recursive: true, force: true });
  }
});

// ---- etcd: kill -9 and restart under writes ----------------------------------------------------

describe('Catalog on etcd: kill -9 / restart under writes', () => {
  test('converges with no lost update and keeps answering while etcd is down', async () => {
    const etcd = await startEtcd();
    const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    const catalog = new Catalog({ store, logger: new MemLogger(), retry: { minMs: 20, maxMs: 500 } });
    let writing = true;
    let writes = 0;
    let failedWrites = 0;
    // Every put goes to a key of its own and some are deleted later, so a lost put or delete
    // cannot be masked by a later write to the same key.
    const writer = (async () => {
      let i = 0;
      while (writing) {
        try {
          await store.put(`/hades/local/hades/churn/c${i % 7}/r${i}`, A(`10.2.${(i >> 8) & 255}.${i & 255}`));
          if (i % 3 === 2) await store.delete(`/hades/local/hades/churn/c${(i - 2) % 7}/r${i - 2}`);
          if (i % 10 === 0)
            await store.put(`/hades/monitor/status/10.2.0.${i % 50}`, i % 20 === 0 ? UP : DOWN);
          writes++;
          i++;
        } catch {
          // etcd is down (or the write's outcome is unknown): try again; a retried put is idempotent
          failedWrites++;
          await sleep(20);
        }
      }
    })();
    // A reader that keeps asking, and checks every answer, whatever etcd is doing.
    let etcdDown = false;
    let answeredWhileDown = 0;
    let wrongAnswers = 0;
    let reading = true;
    const reader = (async () => {
      const out: Record[] = [];
      while (reading) {
        if (catalog.ready) {
          if (catalog.lookup('stable.hades.local.', out) !== 4 || !catalog.has('churn.hades.local.'))
            wrongAnswers++;
          else if (etcdDown) answeredWhileDown++;
        }
        await sleep(1);
      }
    })();
    try {
      for (let i = 0; i < 4; i++) await store.put(`/hades/local/hades/stable/s${i}`, A(`10.1.0.${i}`));
      await catalog.start();
      for (let cycle = 0; cycle < 3; cycle++) {
        const before = writes;
        await waitFor('writes', () => writes > before + 100);
        await waitFor('catalog follows', () => catalog.recordCount > 4 + cycle);
        await etcd.kill('SIGKILL');
        etcdDown = true;
        const failedBefore = failedWrites;
        const answeredBefore = answeredWhileDown;
        await waitFor('catalog notices', () => catalog.watchState === 'disconnected');
        await waitFor('writer notices', () => failedWrites > failedBefore + 3);
        await waitFor('answers while down', () => answeredWhileDown > answeredBefore + 50);
        await etcd.restart();
        etcdDown = false;
      }
      const before = writes;
      await waitFor('writes resume', () => writes > before + 100);
      writing = false;
      await writer;
      await waitFor('catalog converges', () => converged(catalog, store));
      await waitFor('connected', () => catalog.watchState === 'connected');
      assert.equal(wrongAnswers, 0);
      assert.equal(catalog.stats.invalidRecords, 0);
      const { lists, compactions, failures } = catalog.stats;
      console.log(
        `# writes ${writes}, failed ${failedWrites}, records ${catalog.recordCount}, answered while down ${answeredWhileDown}, lists ${lists}, compactions ${compactions}, failures ${failures}`,
      );
    } finally {
      writing = false;
      reading = false;
      await writer.catch(() => {});
      await reader;
      await catalog.stop();
      await store.close();
      await etcd.stop();
    }
  });
});
