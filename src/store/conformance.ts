/**
 * The Store conformance suite: node:test cases that every Store backend must pass.
 *
 *   storeConformance('etcd', async () => {
 *     const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
 *     return { store, close: () => store.close() };
 *   });
 *
 * Contract for `open`:
 * - Every call returns a usable store. It may be a fresh, empty store or another handle onto
 *   shared data: every test writes under its own unique key prefix and never assumes an empty store.
 * - Nothing else writes to the backing data while the suite runs (the suite asserts exact
 *   revision arithmetic: one revision per write).
 * - `close()` releases the store; it must tolerate the store having been closed already.
 *
 * Tests never assert wall-clock durations: lease tests wait for outcomes with generous timeouts.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Compare,
  type KeyValue,
  type Store,
  StoreError,
  type StoreErrorCode,
  type WatchEvent,
  type WatchHandler,
} from './types.js';

export interface OpenedStore {
  store: Store;
  close(): Promise<void>;
}

const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
let prefixCounter = 0;

/** A key prefix no other test (or run) uses. */
function uniquePrefix(name: string): string {
  prefixCounter++;
  return `/hades-conformance/${runId}/${prefixCounter}-${name}/`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

async function rejectsWith(fn: () => Promise<unknown>, code: StoreErrorCode, what: string): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof StoreError, `${what}: expected a StoreError, got ${String(err)}`);
    assert.equal(err.code, code, `${what}: expected ${code}, got ${err.code} (${err.message})`);
    return true;
  });
}

/** Polls `check` until it returns true (outcome-based waiting; no assertion on how long it took). */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function describeEvent(e: WatchEvent): string {
  return e.type === 'put'
    ? `put ${e.kv.key}=${JSON.stringify(e.kv.value)}@${e.kv.modRevision}`
    : `delete ${e.key}@${e.modRevision}`;
}

function eventRevision(e: WatchEvent): number {
  return e.type === 'put' ? e.kv.modRevision : e.modRevision;
}

/** A WatchHandler that records every call and lets tests wait for outcomes. */
export class RecordingHandler implements WatchHandler {
  readonly batches: WatchEvent[][] = [];
  readonly compactions: number[] = [];
  readonly statuses: string[] = [];
  calls = 0;
  private readonly waiters = new Set<() => void>();

  events(events: WatchEvent[]): void {
    this.calls++;
    this.batches.push(events.slice());
    this.wake();
  }

  compacted(compactRevision: number): void {
    this.calls++;
    this.compactions.push(compactRevision);
    this.wake();
  }

  status(state: 'connected' | 'disconnected'): void {
    this.statuses.push(state);
  }

  get all(): WatchEvent[] {
    return this.batches.flat();
  }

  describe(): string {
    return `events [${this.all.map(describeEvent).join(', ')}], compacted [${this.compactions.join(', ')}]`;
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  /** Resolves once `pred()` holds; fails with what was received after `timeoutMs`. */
  until(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (pred()) {
          clearTimeout(timer);
          this.waiters.delete(check);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${this.describe()}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  untilCount(n: number, timeoutMs?: number): Promise<void> {
    return this.until(() => this.all.length >= n, `${n} events`, timeoutMs);
  }
}

/** Asserts that events are in revision order, not repeated, and that no revision spans two batches. */
function assertWellOrdered(rec: RecordingHandler): void {
  let last = 0;
  const seen = new Set<string>();
  const batchOfRevision = new Map<number, number>();
  rec.batches.forEach((batch, i) => {
    for (const e of batch) {
      const rev = eventRevision(e);
      assert.ok(rev >= last, `events out of order: ${rec.describe()}`);
      last = rev;
      const id = `${e.type === 'put' ? e.kv.key : e.key}@${rev}`;
      assert.ok(!seen.has(id), `duplicate event ${id}: ${rec.describe()}`);
      seen.add(id);
      const b = batchOfRevision.get(rev);
      assert.ok(b === undefined || b === i, `revision ${rev} split across batches: ${rec.describe()}`);
      batchOfRevision.set(rev, i);
    }
  });
}

function put(e: WatchEvent | undefined): KeyValue {
  assert.ok(e && e.type === 'put', `expected a put event, got ${e ? describeEvent(e) : 'nothing'}`);
  return e.kv;
}

function del(e: WatchEvent | undefined): { key: string; modRevision: number } {
  assert.ok(e && e.type === 'delete', `expected a delete event, got ${e ? describeEvent(e) : 'nothing'}`);
  return e;
}

/** Registers the conformance suite for one Store backend. */
export function storeConformance(label: string, open: () => Promise<OpenedStore>): void {
  async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
    const opened = await open();
    try {
      await fn(opened.store);
    } finally {
      await opened.close();
    }
  }

  const T = { timeout: 60_000 };

  describe(`Store conformance: ${label}`, () => {
    describe('keys and values', () => {
      it('get of a missing key resolves to undefined', T, () =>
        withStore(async (store) => {
          assert.equal(await store.get(`${uniquePrefix('missing')}nope`), undefined);
        }),
      );

      it('put then get returns the value, revisions, version 1 and no lease', T, () =>
        withStore(async (store) => {
          const key = `${uniquePrefix('put')}k`;
          const rev = await store.put(key, 'v1');
          assert.ok(Number.isInteger(rev) && rev > 0, `put returned revision ${rev}`);
          assert.deepEqual(await store.get(key), {
            key,
            value: 'v1',
            createRevision: rev,
            modRevision: rev,
            version: 1,
            lease: '0',
          });
        }),
      );

      it('a second put bumps modRevision and version, keeps createRevision', T, () =>
        withStore(async (store) => {
          const key = `${uniquePrefix('put2')}k`;
          const r1 = await store.put(key, 'a');
          const r2 = await store.put(key, 'b');
          assert.ok(r2 > r1);
          const kv = await store.get(key);
          assert.deepEqual(
            { value: kv?.value, c: kv?.createRevision, m: kv?.modRevision, v: kv?.version },
            { value: 'b', c: r1, m: r2, v: 2 },
          );
        }),
      );

      it('after delete, a put starts over: new createRevision, version 1', T, () =>
        withStore(async (store) => {
          const key = `${uniquePrefix('reborn')}k`;
          await store.put(key, 'a');
          await store.put(key, 'b');
          assert.equal(await store.delete(key), 1);
          assert.equal(await store.get(key), undefined);
          const r3 = await store.put(key, 'c');
          const kv = await store.get(key);
          assert.deepEqual(
            { c: kv?.createRevision, m: kv?.modRevision, v: kv?.version },
            { c: r3, m: r3, v: 1 },
          );
        }),
      );

      it('stores empty values and arbitrary UTF-8 keys and values exactly', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('utf8');
          const cases: [string, string][] = [
            ['empty', ''],
            ['plain', 'value'],
            ['json', JSON.stringify({ host: '10.0.0.1', port: 80, text: 'a "quoted" \\ thing' })],
            ['ünïcödé-✓-😀', 'żółw ✓ 😀 \u0000 nul and \n newline'],
            ['big', 'x'.repeat(100_000)],
          ];
          for (const [k, v] of cases) await store.put(p + k, v);
          for (const [k, v] of cases) assert.equal((await store.get(p + k))?.value, v, `value of ${k}`);
          const listed = await store.list(p);
          assert.deepEqual(
            listed.kvs.map((kv) => kv.key).sort(byteOrder),
            cases.map(([k]) => p + k).sort(byteOrder),
          );
        }),
      );

      it('rejects bad arguments with ESTORE_INVALID', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('invalid');
          const cases: [string, () => Promise<unknown>][] = [
            ['put with an empty key', () => store.put('', 'v')],
            ['get with an empty key', () => store.get('')],
            ['delete with an empty key', () => store.delete('')],
            ['grantLease(0)', () => store.grantLease(0)],
            ['grantLease(-5)', () => store.grantLease(-5)],
            ['grantLease(1.5)', () => store.grantLease(1.5)],
            ['keepAliveLease of a malformed id', () => store.keepAliveLease('not-a-lease')],
            ['revokeLease of a malformed id', () => store.revokeLease('x1')],
            ['put with a malformed lease id', () => store.put(`${p}k`, 'v', { lease: 'abc' })],
            [
              'txn with an empty compare key',
              () => store.txn({ compare: [{ key: '', op: 'exists' }], success: [] }),
            ],
            [
              'txn with an empty put key',
              () => store.txn({ compare: [], success: [{ op: 'put', key: '', value: 'v' }] }),
            ],
            ['compact(0)', () => store.compact(0)],
            // etcd rejects a txn branch that writes one key twice, whether the branch runs or not.
            [
              'txn putting one key twice',
              () =>
                store.txn({
                  compare: [],
                  success: [
                    { op: 'put', key: `${p}k`, value: '1' },
                    { op: 'put', key: `${p}k`, value: '2' },
                  ],
                }),
            ],
            [
              'txn putting a key its deletePrefix covers (in the branch not taken)',
              () =>
                store.txn({
                  compare: [{ key: `${p}k`, op: 'exists' }],
                  success: [
                    { op: 'deletePrefix', prefix: p },
                    { op: 'put', key: `${p}k`, value: '1' },
                  ],
                  failure: [],
                }),
            ],
          ];
          for (const [what, fn] of cases) await rejectsWith(fn, 'ESTORE_INVALID', what);
          assert.deepEqual((await store.list(p)).kvs, [], 'nothing was written');
        }),
      );
    });

    describe('list', () => {
      it('returns the keys under a prefix in key byte order, with the store revision', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('order');
          // UTF-8 byte order differs from JS (UTF-16) string order for '\uFF61' vs '😀'.
          const suffixes = ['b', 'a', 'a/', 'a0', 'A', 'a/b', '\uFF61', '😀', 'é', 'z', '~', '-'];
          let last = 0;
          for (const s of suffixes) last = await store.put(p + s, s);
          const res = await store.list(p);
          const expected = suffixes.map((s) => p + s).sort(byteOrder);
          assert.deepEqual(
            res.kvs.map((kv) => kv.key),
            expected,
          );
          assert.equal(res.revision, last, 'list revision is the store revision');
          for (const kv of res.kvs) assert.equal(kv.value, kv.key.slice(p.length));
        }),
      );

      it('a prefix is a plain string prefix, not a path', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('strprefix');
          for (const k of ['a', 'a/x', 'ab', 'b', 'a/x/y']) await store.put(p + k, k);
          assert.deepEqual(
            (await store.list(`${p}a`)).kvs.map((kv) => kv.key.slice(p.length)),
            ['a', 'a/x', 'a/x/y', 'ab'],
          );
          assert.deepEqual(
            (await store.list(`${p}a/`)).kvs.map((kv) => kv.key.slice(p.length)),
            ['a/x', 'a/x/y'],
          );
        }),
      );

      it('an empty result still carries the current revision', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('emptylist');
          const rev = await store.put(`${p}other`, 'x');
          const res = await store.list(`${p}none/`);
          assert.deepEqual(res, { revision: rev, kvs: [] });
        }),
      );

      it("'' lists every key, in byte order", T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('all');
          await store.put(`${p}1`, 'x');
          await store.put(`${p}2`, 'y');
          const res = await store.list('');
          const keys = res.kvs.map((kv) => kv.key);
          assert.ok(keys.includes(`${p}1`) && keys.includes(`${p}2`));
          assert.deepEqual(keys, [...keys].sort(byteOrder));
        }),
      );
    });

    describe('listPages', () => {
      /** The backend's listPages: every backend must have one. */
      const pagesOf = (store: Store): NonNullable<Store['listPages']> => {
        assert.ok(typeof store.listPages === 'function', 'the backend implements listPages');
        return store.listPages.bind(store);
      };

      it(
        'hands over the same keys as list, in byte order, in pages of at most pageSize, at one revision',
        T,
        () =>
          withStore(async (store) => {
            const p = uniquePrefix('pages');
            // Non-ASCII keys whose UTF-8 order differs from UTF-16 order sit across page boundaries.
            const suffixes = [
              'b',
              'a',
              'a/',
              'a0',
              'A',
              'a/b',
              '\uFF61',
              '😀',
              'é',
              'z',
              '~',
              '-',
              'a\u0000',
            ];
            for (const s of suffixes) await store.put(p + s, `v-${s}`);
            await store.put(`${p.slice(0, -1)}0`, 'just past the prefix');
            const listed = await store.list(p);
            for (const pageSize of [1, 2, 5, 13, 100]) {
              const pages: KeyValue[][] = [];
              const revs: number[] = [];
              const rev = await pagesOf(store)(
                p,
                (kvs, r) => {
                  pages.push(kvs);
                  revs.push(r);
                },
                { pageSize },
              );
              assert.equal(rev, listed.revision, `pageSize ${pageSize}: the list's revision`);
              assert.ok(
                revs.every((r) => r === rev),
                `pageSize ${pageSize}: every page carries the revision`,
              );
              assert.ok(
                pages.every((pg) => pg.length >= 1 && pg.length <= pageSize),
                `pageSize ${pageSize}: page sizes ${pages.map((pg) => pg.length)}`,
              );
              assert.deepEqual(
                pages.flat(),
                listed.kvs,
                `pageSize ${pageSize}: the same keys and values as list`,
              );
            }
            // The backend's own page size.
            const all: KeyValue[] = [];
            assert.equal(
              await pagesOf(store)(p, (kvs) => {
                all.push(...kvs);
              }),
              listed.revision,
            );
            assert.deepEqual(all, listed.kvs);
          }),
      );

      it('is one snapshot: writes made while it runs are not in it', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('pagesnap');
          for (let i = 0; i < 6; i++) await store.put(`${p}k${i}`, 'before');
          const r0 = (await store.list(p)).revision;
          const seen: string[] = [];
          let writes = 0;
          const rev = await pagesOf(store)(
            p,
            async (kvs) => {
              for (const kv of kvs) seen.push(`${kv.key.slice(p.length)}=${kv.value}`);
              // Behind the listing: change a key not seen yet, add one, delete one.
              if (writes++ === 0) {
                await store.put(`${p}k5`, 'after');
                await store.put(`${p}k9`, 'new');
                await store.delete(`${p}k4`);
              }
            },
            { pageSize: 2 },
          );
          assert.equal(rev, r0);
          assert.deepEqual(
            seen,
            ['k0', 'k1', 'k2', 'k3', 'k4', 'k5'].map((k) => `${k}=before`),
          );
          assert.equal((await store.list(p)).revision, r0 + 3);
        }),
      );

      it('waits for a page handler promise before the next page', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('pageswait');
          for (let i = 0; i < 5; i++) await store.put(`${p}k${i}`, 'v');
          const events: string[] = [];
          await pagesOf(store)(
            p,
            async (kvs) => {
              events.push(`start ${kvs[0].key.slice(p.length)}`);
              await sleep(20);
              events.push(`end ${kvs[0].key.slice(p.length)}`);
            },
            { pageSize: 2 },
          );
          assert.deepEqual(events, ['start k0', 'end k0', 'start k2', 'end k2', 'start k4', 'end k4']);
        }),
      );

      it('nothing under the prefix: no page, the current revision', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('pagesnone');
          const rev = await store.put(`${p}other`, 'x');
          let calls = 0;
          assert.equal(
            await pagesOf(store)(`${p}none/`, () => {
              calls++;
            }),
            rev,
          );
          assert.equal(calls, 0);
        }),
      );

      it('a page handler that throws ends the listing with its error', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('pagesthrow');
          for (let i = 0; i < 5; i++) await store.put(`${p}k${i}`, 'v');
          const boom = new Error('boom');
          let calls = 0;
          await assert.rejects(
            pagesOf(store)(
              p,
              () => {
                calls++;
                throw boom;
              },
              { pageSize: 2 },
            ),
            (err: unknown) => err === boom,
          );
          assert.equal(calls, 1);
          let asyncCalls = 0;
          await assert.rejects(
            pagesOf(store)(
              p,
              async () => {
                asyncCalls++;
                await sleep(1);
                throw boom;
              },
              { pageSize: 2 },
            ),
            (err: unknown) => err === boom,
          );
          assert.equal(asyncCalls, 1);
          // The store is fine afterwards.
          assert.equal((await store.list(p)).kvs.length, 5);
        }),
      );

      it('a page size that is not an integer >= 1 is ESTORE_INVALID', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('pagesbad');
          for (const pageSize of [0, -1, 1.5, Number.NaN]) {
            await rejectsWith(
              () => pagesOf(store)(p, () => {}, { pageSize }),
              'ESTORE_INVALID',
              `pageSize ${pageSize}`,
            );
          }
        }),
      );
    });

    describe('delete', () => {
      it('delete counts 1 for an existing key and 0 for a missing one', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('del');
          await store.put(`${p}k`, 'v');
          assert.equal(await store.delete(`${p}k`), 1);
          assert.equal(await store.delete(`${p}k`), 0);
          assert.equal(await store.delete(`${p}never`), 0);
          assert.equal(await store.get(`${p}k`), undefined);
        }),
      );

      it('deletePrefix counts the keys it deleted and leaves every other key', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('delprefix');
          for (const k of ['a/1', 'a/2', 'a/3/x', 'ab', 'b']) await store.put(p + k, 'v');
          assert.equal(await store.deletePrefix(`${p}a/`), 3);
          assert.deepEqual(
            (await store.list(p)).kvs.map((kv) => kv.key.slice(p.length)),
            ['ab', 'b'],
          );
          assert.equal(await store.deletePrefix(`${p}a/`), 0);
          assert.equal(await store.deletePrefix(`${p}nothing/`), 0);
        }),
      );
    });

    describe('revisions', () => {
      it('every write bumps the revision by exactly one; reads and no-op writes do not', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('revs');
          const r0 = (await store.list(p)).revision;
          const rev = async (): Promise<number> => (await store.list(p)).revision;
          assert.equal(await store.put(`${p}a`, '1'), r0 + 1);
          assert.equal(await store.put(`${p}a`, '2'), r0 + 2);
          assert.equal(await store.put(`${p}c/1`, '1'), r0 + 3);
          assert.equal(await store.put(`${p}c/2`, '1'), r0 + 4);
          assert.equal(await store.delete(`${p}a`), 1);
          assert.equal(await rev(), r0 + 5, 'delete: one revision');
          assert.equal(await store.deletePrefix(`${p}c/`), 2);
          assert.equal(await rev(), r0 + 6, 'deletePrefix of two keys: one revision');
          const t = await store.txn({
            compare: [],
            success: [
              { op: 'put', key: `${p}x`, value: '1' },
              { op: 'put', key: `${p}y`, value: '1' },
            ],
          });
          assert.deepEqual(t, { succeeded: true, revision: r0 + 7 }, 'txn of two puts: one revision');
          // No-ops.
          assert.equal(await store.delete(`${p}missing`), 0);
          assert.equal(await store.deletePrefix(`${p}nothing/`), 0);
          await store.get(`${p}x`);
          const failed = await store.txn({
            compare: [{ key: `${p}x`, op: 'absent' }],
            success: [{ op: 'put', key: `${p}z`, value: '1' }],
          });
          assert.deepEqual(failed, { succeeded: false, revision: r0 + 7 }, 'failed txn without failure ops');
          assert.equal(await rev(), r0 + 7, 'no-ops did not bump the revision');
          assert.equal(await store.put(`${p}a`, '3'), r0 + 8);
        }),
      );
    });

    describe('transactions', () => {
      type Setup = 'present' | 'absent' | 'empty';
      const rows: {
        name: string;
        setup: Setup;
        compare: (key: string, kv?: KeyValue) => Compare;
        holds: boolean;
      }[] = [
        {
          name: 'exists on a present key',
          setup: 'present',
          compare: (key) => ({ key, op: 'exists' }),
          holds: true,
        },
        {
          name: 'exists on a missing key',
          setup: 'absent',
          compare: (key) => ({ key, op: 'exists' }),
          holds: false,
        },
        {
          name: 'absent on a missing key',
          setup: 'absent',
          compare: (key) => ({ key, op: 'absent' }),
          holds: true,
        },
        {
          name: 'absent on a present key',
          setup: 'present',
          compare: (key) => ({ key, op: 'absent' }),
          holds: false,
        },
        {
          name: 'value equal',
          setup: 'present',
          compare: (key) => ({ key, op: 'value', value: 'v' }),
          holds: true,
        },
        {
          name: 'value different',
          setup: 'present',
          compare: (key) => ({ key, op: 'value', value: 'w' }),
          holds: false,
        },
        {
          name: "value '' on an empty value",
          setup: 'empty',
          compare: (key) => ({ key, op: 'value', value: '' }),
          holds: true,
        },
        {
          name: "value '' on a missing key",
          setup: 'absent',
          compare: (key) => ({ key, op: 'value', value: '' }),
          holds: false,
        },
        {
          name: 'modRevision equal',
          setup: 'present',
          compare: (key, kv) => ({ key, op: 'modRevision', modRevision: kv!.modRevision }),
          holds: true,
        },
        {
          name: 'modRevision stale',
          setup: 'present',
          compare: (key, kv) => ({ key, op: 'modRevision', modRevision: kv!.modRevision - 1 }),
          holds: false,
        },
        {
          name: 'modRevision 0 on a missing key',
          setup: 'absent',
          compare: (key) => ({ key, op: 'modRevision', modRevision: 0 }),
          holds: true,
        },
        {
          name: 'modRevision 0 on a present key',
          setup: 'present',
          compare: (key) => ({ key, op: 'modRevision', modRevision: 0 }),
          holds: false,
        },
      ];

      for (const row of rows) {
        it(`compare ${row.name} → ${row.holds ? 'success' : 'failure'} branch`, T, () =>
          withStore(async (store) => {
            const p = uniquePrefix('cmp');
            const key = `${p}subject`;
            // Two writes so that "modRevision - 1" is a real, older revision of the store.
            await store.put(`${p}before`, 'x');
            if (row.setup !== 'absent') await store.put(key, row.setup === 'empty' ? '' : 'v');
            const kv = await store.get(key);
            const res = await store.txn({
              compare: [row.compare(key, kv)],
              success: [{ op: 'put', key: `${p}S`, value: 'success' }],
              failure: [{ op: 'put', key: `${p}F`, value: 'failure' }],
            });
            assert.equal(res.succeeded, row.holds);
            const s = await store.get(`${p}S`);
            const f = await store.get(`${p}F`);
            assert.equal(s?.value, row.holds ? 'success' : undefined);
            assert.equal(f?.value, row.holds ? undefined : 'failure');
            assert.equal(res.revision, (s ?? f)?.modRevision);
            assert.deepEqual(await store.get(key), kv, 'the compared key is untouched');
          }),
        );
      }

      it('a failed compare writes nothing (no failure branch)', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('txnnone');
          const rev = await store.put(`${p}k`, 'v');
          const res = await store.txn({
            compare: [{ key: `${p}k`, op: 'value', value: 'other' }],
            success: [
              { op: 'put', key: `${p}a`, value: '1' },
              { op: 'delete', key: `${p}k` },
            ],
          });
          assert.deepEqual(res, { succeeded: false, revision: rev });
          assert.deepEqual(
            (await store.list(p)).kvs.map((kv) => [kv.key, kv.value]),
            [[`${p}k`, 'v']],
          );
        }),
      );

      it('every compare must hold: one false compare runs the failure branch only', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('txnall');
          const rA = await store.put(`${p}a`, '1');
          await store.put(`${p}b`, '2');
          const res = await store.txn({
            compare: [
              { key: `${p}a`, op: 'value', value: '1' },
              { key: `${p}b`, op: 'value', value: '2' },
              { key: `${p}c`, op: 'exists' },
            ],
            success: [
              { op: 'put', key: `${p}a`, value: 'S' },
              { op: 'delete', key: `${p}b` },
            ],
            failure: [
              { op: 'put', key: `${p}b`, value: 'F' },
              { op: 'put', key: `${p}f`, value: 'F' },
            ],
          });
          assert.equal(res.succeeded, false);
          assert.deepEqual(
            (await store.list(p)).kvs.map((kv) => [kv.key.slice(p.length), kv.value, kv.modRevision]),
            [
              ['a', '1', rA],
              ['b', 'F', res.revision],
              ['f', 'F', res.revision],
            ],
          );
          const ok = await store.txn({
            compare: [
              { key: `${p}a`, op: 'value', value: '1' },
              { key: `${p}f`, op: 'exists' },
              { key: `${p}zz`, op: 'absent' },
            ],
            success: [{ op: 'put', key: `${p}zz`, value: 'S' }],
          });
          assert.equal(ok.succeeded, true);
        }),
      );

      it('an empty compare list always succeeds', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('txnempty');
          const res = await store.txn({ compare: [], success: [{ op: 'put', key: `${p}k`, value: 'v' }] });
          assert.equal(res.succeeded, true);
          assert.equal((await store.get(`${p}k`))?.modRevision, res.revision);
        }),
      );

      it('a multi-op success applies at one revision, seen as one revision by a watcher', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('txnmulti');
          await store.put(`${p}c`, 'c');
          await store.put(`${p}d/1`, 'd1');
          const r0 = await store.put(`${p}d/2`, 'd2');
          const rec = new RecordingHandler();
          const w = store.watch(p, r0 + 1, rec);
          try {
            const res = await store.txn({
              compare: [{ key: `${p}c`, op: 'exists' }],
              success: [
                { op: 'put', key: `${p}a`, value: 'A' },
                { op: 'put', key: `${p}b`, value: 'B' },
                { op: 'delete', key: `${p}c` },
                { op: 'deletePrefix', prefix: `${p}d/` },
              ],
            });
            assert.deepEqual(res, { succeeded: true, revision: r0 + 1 });
            const kvs = (await store.list(p)).kvs;
            assert.deepEqual(
              kvs.map((kv) => [
                kv.key.slice(p.length),
                kv.value,
                kv.createRevision,
                kv.modRevision,
                kv.version,
              ]),
              [
                ['a', 'A', res.revision, res.revision, 1],
                ['b', 'B', res.revision, res.revision, 1],
              ],
            );
            await rec.untilCount(5);
            assert.equal(rec.batches.length, 1, `one revision arrives in one batch: ${rec.describe()}`);
            const evs = rec.all;
            assert.deepEqual(
              evs.map((e) => [e.type, e.type === 'put' ? e.kv.key : e.key, eventRevision(e)]),
              [
                ['put', `${p}a`, res.revision],
                ['put', `${p}b`, res.revision],
                ['delete', `${p}c`, res.revision],
                ['delete', `${p}d/1`, res.revision],
                ['delete', `${p}d/2`, res.revision],
              ],
            );
          } finally {
            await w.close();
          }
        }),
      );
    });

    describe('concurrency', () => {
      it('compare-and-swap increments from many concurrent writers lose no update', T, () =>
        withStore(async (store) => {
          const key = `${uniquePrefix('cas')}counter`;
          const writers = 8;
          const perWriter = 10;
          let conflicts = 0;
          const increment = async (): Promise<void> => {
            for (;;) {
              const kv = await store.get(key);
              const next = String((kv ? Number(kv.value) : 0) + 1);
              const res = await store.txn({
                compare: [{ key, op: 'modRevision', modRevision: kv ? kv.modRevision : 0 }],
                success: [{ op: 'put', key, value: next }],
              });
              if (res.succeeded) return;
              conflicts++;
            }
          };
          await Promise.all(
            Array.from({ length: writers }, async () => {
              for (let i = 0; i < perWriter; i++) await increment();
            }),
          );
          const kv = await store.get(key);
          assert.equal(
            kv?.value,
            String(writers * perWriter),
            `final counter (after ${conflicts} conflicts)`,
          );
          assert.equal(kv?.version, writers * perWriter);
        }),
      );
    });

    describe('watch', () => {
      it('replays history from a past revision in order, then follows live writes', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('replay');
          const r1 = await store.put(`${p}k1`, 'a');
          const r2 = await store.put(`${p}k2`, 'b');
          const r3 = await store.put(`${p}k1`, 'c');
          await store.delete(`${p}k2`);
          const r4 = r3 + 1;
          const t = await store.txn({
            compare: [],
            success: [
              { op: 'put', key: `${p}k3`, value: 'd' },
              { op: 'delete', key: `${p}k1` },
            ],
          });
          const r5 = t.revision;
          assert.deepEqual([r2, r3, r5], [r1 + 1, r1 + 2, r1 + 4]);

          const rec = new RecordingHandler();
          const w = store.watch(p, r1, rec);
          const mid = new RecordingHandler();
          const wMid = store.watch(p, r3, mid);
          try {
            await rec.untilCount(6);
            const e = rec.all;
            assert.deepEqual(put(e[0]), {
              key: `${p}k1`,
              value: 'a',
              createRevision: r1,
              modRevision: r1,
              version: 1,
              lease: '0',
            });
            assert.deepEqual(
              [put(e[1]).key, put(e[1]).value, put(e[1]).modRevision, put(e[1]).version],
              [`${p}k2`, 'b', r2, 1],
            );
            assert.deepEqual(
              [
                put(e[2]).key,
                put(e[2]).value,
                put(e[2]).createRevision,
                put(e[2]).modRevision,
                put(e[2]).version,
              ],
              [`${p}k1`, 'c', r1, r3, 2],
            );
            assert.deepEqual(del(e[3]), { type: 'delete', key: `${p}k2`, modRevision: r4 });
            assert.deepEqual([put(e[4]).key, put(e[4]).modRevision], [`${p}k3`, r5]);
            assert.deepEqual(del(e[5]), { type: 'delete', key: `${p}k1`, modRevision: r5 });

            await mid.untilCount(4);
            assert.deepEqual(
              mid.all.map((x) => eventRevision(x)),
              [r3, r4, r5, r5],
              'a watch from a middle revision starts there (inclusive)',
            );

            const r6 = await store.put(`${p}k4`, 'live');
            await rec.untilCount(7);
            await mid.untilCount(5);
            assert.deepEqual([put(rec.all[6]).key, put(rec.all[6]).modRevision], [`${p}k4`, r6]);
            assertWellOrdered(rec);
            assertWellOrdered(mid);
            assert.equal(rec.all.length, 7);
            assert.deepEqual(rec.compactions, []);
          } finally {
            await w.close();
            await wMid.close();
          }
        }),
      );

      it('from list revision + 1 sees exactly the writes after the list', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('listwatch');
          await store.put(`${p}old`, 'old');
          const listed = await store.list(p);
          const rec = new RecordingHandler();
          const w = store.watch(p, listed.revision + 1, rec);
          try {
            const r = await store.put(`${p}new`, 'new');
            await rec.untilCount(1);
            // A sentinel write proves nothing else was pending.
            await store.put(`${p}sentinel`, 's');
            await rec.untilCount(2);
            assert.deepEqual(
              rec.all.map((e) => [e.type, put(e).key]),
              [
                ['put', `${p}new`],
                ['put', `${p}sentinel`],
              ],
            );
            assert.equal(put(rec.all[0]).modRevision, r);
          } finally {
            await w.close();
          }
        }),
      );

      it('a prefix watch sees only keys under its prefix', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('watchprefix');
          const r0 = await store.put(`${p}start`, 'x');
          const rec = new RecordingHandler();
          const w = store.watch(`${p}a/`, r0 + 1, rec);
          try {
            await store.put(`${p}b/x`, '1');
            await store.put(`${p}a/x`, '1');
            await store.put(`${p}ab`, '1');
            await store.put(`${p}a`, '1');
            await store.put(`${p}a/y/z`, '1');
            await store.delete(`${p}b/x`);
            await store.deletePrefix(`${p}a`);
            await store.put(`${p}a/zz-sentinel`, '1');
            await rec.until(
              () => rec.all.some((e) => e.type === 'put' && e.kv.key === `${p}a/zz-sentinel`),
              'the sentinel',
            );
            assert.deepEqual(
              rec.all.map((e) => `${e.type} ${(e.type === 'put' ? e.kv.key : e.key).slice(p.length)}`),
              ['put a/x', 'put a/y/z', 'delete a/x', 'delete a/y/z', 'put a/zz-sentinel'],
            );
            assertWellOrdered(rec);
          } finally {
            await w.close();
          }
        }),
      );

      it("a watch of '' sees every key", T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('watchall');
          const r0 = await store.put(`${p}0`, 'x');
          const rec = new RecordingHandler();
          const w = store.watch('', r0 + 1, rec);
          try {
            await store.put(`${p}1`, 'y');
            await rec.untilCount(1);
            assert.equal(put(rec.all[0]).key, `${p}1`);
          } finally {
            await w.close();
          }
        }),
      );

      it('close stops delivery; closing twice is fine', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('watchclose');
          const r0 = await store.put(`${p}start`, 'x');
          const rec = new RecordingHandler();
          const w = store.watch(p, r0 + 1, rec);
          const r1 = await store.put(`${p}1`, '1');
          await rec.untilCount(1);
          await w.close();
          const callsAtClose = rec.calls;
          await store.put(`${p}2`, '2');
          await store.put(`${p}3`, '3');
          // A second watch proves the later writes were delivered to whoever still listens.
          const other = new RecordingHandler();
          const w2 = store.watch(p, r1, other);
          try {
            await other.untilCount(3);
            await sleep(200);
            assert.equal(rec.calls, callsAtClose, `no handler call after close: ${rec.describe()}`);
            await w.close();
          } finally {
            await w2.close();
          }
        }),
      );

      it('close from inside the handler stops delivery at once', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('watchselfclose');
          const r0 = await store.put(`${p}1`, '1');
          await store.put(`${p}2`, '2');
          await store.put(`${p}3`, '3');
          let calls = 0;
          let closing: Promise<void> | undefined;
          const w = store.watch(p, r0, {
            events: () => {
              calls++;
              closing ??= w.close();
            },
            compacted: () => {
              calls++;
            },
          });
          await eventually(async () => closing !== undefined, 'the first delivery');
          await closing;
          await store.put(`${p}4`, '4');
          await sleep(200);
          assert.equal(calls, 1);
        }),
      );

      it('several watches on one prefix each get every event', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('multiwatch');
          const r0 = await store.put(`${p}0`, '0');
          const recs = [new RecordingHandler(), new RecordingHandler(), new RecordingHandler()];
          const ws = recs.map((r) => store.watch(p, r0, r));
          try {
            for (let i = 1; i <= 5; i++) await store.put(`${p}${i}`, String(i));
            for (const r of recs) {
              await r.untilCount(6);
              assert.deepEqual(
                r.all.map((e) => put(e).value),
                ['0', '1', '2', '3', '4', '5'],
              );
            }
          } finally {
            await Promise.all(ws.map((w) => w.close()));
          }
        }),
      );

      it('compaction: a watch from before the compaction revision gets compacted(rev) and ends', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('compact');
          const r1 = await store.put(`${p}x1`, '1');
          const live = new RecordingHandler();
          const wLive = store.watch(p, r1, live);
          const r2 = await store.put(`${p}x2`, '2');
          await live.untilCount(2);
          await store.compact(r2);

          const old = new RecordingHandler();
          const wOld = store.watch(p, r1, old);
          const atCompaction = new RecordingHandler();
          const wAt = store.watch(p, r2, atCompaction);
          try {
            await old.until(() => old.compactions.length > 0, 'compacted');
            assert.deepEqual(old.compactions, [r2]);
            assert.deepEqual(old.all, [], 'no events before compacted');

            const r3 = await store.put(`${p}x3`, '3');
            // The compaction revision itself is still watchable; a watch already past it is unaffected.
            await atCompaction.untilCount(2);
            assert.deepEqual(
              atCompaction.all.map((e) => [put(e).key, put(e).modRevision]),
              [
                [`${p}x2`, r2],
                [`${p}x3`, r3],
              ],
            );
            await live.untilCount(3);
            assert.deepEqual(
              live.all.map((e) => put(e).modRevision),
              [r1, r2, r3],
            );
            assert.deepEqual(live.compactions, []);
            assert.deepEqual(atCompaction.compactions, []);
            await sleep(100);
            assert.equal(old.calls, 1, `the compacted watch is over: ${old.describe()}`);
          } finally {
            await wOld.close();
            await wAt.close();
            await wLive.close();
          }
        }),
      );

      it('compact of an already compacted revision resolves; of a future revision rejects', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('compact2');
          const r1 = await store.put(`${p}a`, '1');
          const r2 = await store.put(`${p}a`, '2');
          await store.compact(r2);
          await store.compact(r2);
          await store.compact(r1);
          await rejectsWith(
            () => store.compact(r2 + 1_000_000),
            'ESTORE_INVALID',
            'compact of a future revision',
          );
          assert.equal((await store.get(`${p}a`))?.value, '2', 'compaction keeps current data');
        }),
      );
    });

    describe('leases', { concurrency: true }, () => {
      it('grantLease returns a decimal id; keys put with it carry it', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('leaseid');
          const id = await store.grantLease(30);
          try {
            assert.match(id, /^[1-9][0-9]*$/);
            await store.put(`${p}k`, 'v', { lease: id });
            assert.equal((await store.get(`${p}k`))?.lease, id);
            const t = await store.txn({
              compare: [],
              success: [{ op: 'put', key: `${p}t`, value: 'v', lease: id }],
            });
            assert.equal(t.succeeded, true);
            assert.equal((await store.get(`${p}t`))?.lease, id);
            // Put without a lease detaches the key.
            await store.put(`${p}k`, 'v2');
            assert.equal((await store.get(`${p}k`))?.lease, '0');
            const other = await store.grantLease(30);
            assert.notEqual(other, id);
            await store.revokeLease(other);
          } finally {
            await store.revokeLease(id);
            await store.deletePrefix(p);
          }
        }),
      );

      it('keys put with a lease vanish, with delete events, after the TTL; keepAlive then returns 0', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('leaseexpire');
          const r0 = await store.put(`${p}plain`, 'stays');
          const rec = new RecordingHandler();
          const w = store.watch(p, r0 + 1, rec);
          try {
            const id = await store.grantLease(1);
            await store.put(`${p}a`, '1', { lease: id });
            await store.put(`${p}b`, '2', { lease: id });
            await eventually(async () => (await store.list(p)).kvs.length === 1, 'the leased keys to expire');
            assert.equal((await store.get(`${p}plain`))?.value, 'stays');
            await rec.until(
              () => rec.all.filter((e) => e.type === 'delete').length === 2,
              'two delete events',
            );
            assert.deepEqual(
              rec.all.filter((e) => e.type === 'delete').map((e) => del(e).key),
              [`${p}a`, `${p}b`],
            );
            assertWellOrdered(rec);
            assert.equal(await store.keepAliveLease(id), 0);
            await rejectsWith(
              () => store.put(`${p}c`, '3', { lease: id }),
              'ESTORE_INVALID',
              'put with an expired lease',
            );
          } finally {
            await w.close();
            await store.deletePrefix(p);
          }
        }),
      );

      it('keepAlive returns the TTL and keeps keys alive past the TTL', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('leasekeep');
          const ttl = 2;
          const id = await store.grantLease(ttl);
          try {
            await store.put(`${p}k`, 'v', { lease: id });
            // Renew for about twice the TTL.
            const until = Date.now() + 2 * ttl * 1000;
            let renewals = 0;
            while (Date.now() < until) {
              await sleep(400);
              assert.equal(await store.keepAliveLease(id), ttl);
              renewals++;
            }
            assert.ok(renewals >= 2);
            assert.equal((await store.get(`${p}k`))?.lease, id, 'the key outlived its TTL');
          } finally {
            await store.revokeLease(id);
          }
          assert.equal(await store.get(`${p}k`), undefined);
        }),
      );

      it('keepAlive of an unknown lease returns 0', T, () =>
        withStore(async (store) => {
          assert.equal(await store.keepAliveLease('1234567654321'), 0);
          const id = await store.grantLease(30);
          await store.revokeLease(id);
          assert.equal(await store.keepAliveLease(id), 0);
        }),
      );

      it('revoke deletes the keys at once, with delete events; revoking again or unknown is fine', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('leaserevoke');
          const r0 = await store.put(`${p}plain`, 'stays');
          const rec = new RecordingHandler();
          const w = store.watch(p, r0 + 1, rec);
          try {
            const id = await store.grantLease(60);
            await store.put(`${p}a`, '1', { lease: id });
            await store.put(`${p}b`, '2', { lease: id });
            await store.revokeLease(id);
            assert.deepEqual(
              (await store.list(p)).kvs.map((kv) => kv.key),
              [`${p}plain`],
            );
            await rec.untilCount(4);
            const dels = rec.all.slice(2);
            assert.deepEqual(
              dels.map((e) => del(e).key),
              [`${p}a`, `${p}b`],
            );
            assert.equal(del(dels[0]).modRevision, del(dels[1]).modRevision, 'a revoke is one revision');
            await store.revokeLease(id);
            await store.revokeLease('1234567654321');
          } finally {
            await w.close();
            await store.deletePrefix(p);
          }
        }),
      );

      it('put with a lease that does not exist rejects with ESTORE_INVALID and writes nothing', T, () =>
        withStore(async (store) => {
          const p = uniquePrefix('leaseunknown');
          await rejectsWith(
            () => store.put(`${p}k`, 'v', { lease: '1234567654321' }),
            'ESTORE_INVALID',
            'put with an unknown lease',
          );
          assert.equal(await store.get(`${p}k`), undefined);
        }),
      );
    });

    describe('close', () => {
      it('operations after close reject with ESTORE_CLOSED', T, async () => {
        const opened = await open();
        const store = opened.store;
        const p = uniquePrefix('closed');
        await store.put(`${p}k`, 'v');
        const lease = await store.grantLease(5);
        await store.revokeLease(lease);
        await store.close();
        const ops: [string, () => Promise<unknown>][] = [
          ['get', () => store.get(`${p}k`)],
          ['list', () => store.list(p)],
          ['listPages', () => store.listPages!(p, () => {})],
          ['put', () => store.put(`${p}k`, 'v2')],
          ['delete', () => store.delete(`${p}k`)],
          ['deletePrefix', () => store.deletePrefix(p)],
          ['txn', () => store.txn({ compare: [], success: [{ op: 'put', key: `${p}k`, value: 'v3' }] })],
          ['grantLease', () => store.grantLease(5)],
          ['keepAliveLease', () => store.keepAliveLease(lease)],
          ['revokeLease', () => store.revokeLease(lease)],
          ['compact', () => store.compact(1)],
        ];
        for (const [what, fn] of ops) await rejectsWith(fn, 'ESTORE_CLOSED', what);
        assert.throws(
          () => store.watch(p, 1, new RecordingHandler()),
          (err: unknown) => err instanceof StoreError && err.code === 'ESTORE_CLOSED',
        );
        await store.close();
        await opened.close();
      });

      it('close during listPages ends the listing with ESTORE_CLOSED', T, async () => {
        const opened = await open();
        const store = opened.store;
        const p = uniquePrefix('closepages');
        for (let i = 0; i < 6; i++) await store.put(`${p}k${i}`, 'v');
        let pages = 0;
        await rejectsWith(
          () =>
            store.listPages!(
              p,
              async () => {
                if (++pages === 2) await store.close();
              },
              { pageSize: 1 },
            ),
          'ESTORE_CLOSED',
          'listPages across close',
        );
        assert.equal(pages, 2);
        await opened.close();
      });

      it('close ends open watches: no handler call afterwards; watch.close() still resolves', T, async () => {
        const opened = await open();
        const store = opened.store;
        const p = uniquePrefix('closewatch');
        const r0 = await store.put(`${p}0`, '0');
        const rec = new RecordingHandler();
        const w = store.watch(p, r0, rec);
        await rec.untilCount(1);
        await store.close();
        const calls = rec.calls;
        await sleep(100);
        await w.close();
        assert.equal(rec.calls, calls);
        await opened.close();
      });
    });
  });
}
