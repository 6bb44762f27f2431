import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { storeConformance } from '../conformance.js';
import { StoreError, type WatchEvent, type WatchHandler } from '../types.js';
import { type EmbeddedStore, openEmbeddedStore } from './embedded.js';

const CHILD = fileURLToPath(new URL('./embedded-child.js', import.meta.url));
/** Generous: outcomes are awaited, never timed. */
const TIMEOUT_MS = 30_000;

const dirs: string[] = [];
const children = new Set<ChildProcess>();
function tempDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'hades-embedded-'));
  dirs.push(d);
  return d;
}
function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}
process.on('exit', killChildren);
after(() => {
  killChildren();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
): Promise<T> {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Records everything a watch delivers. */
class Recorder implements WatchHandler {
  readonly got: WatchEvent[] = [];
  compactedAt: number | undefined;
  events(evs: WatchEvent[]): void {
    this.got.push(...evs);
  }
  compacted(rev: number): void {
    this.compactedAt = rev;
  }
}
function recorder(): Recorder {
  return new Recorder();
}

interface Child {
  proc: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

function spawnChild(...args: string[]): Child {
  const proc = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(proc);
  const lines: string[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(l));
  const exited = new Promise<number | null>((resolve) =>
    proc.on('exit', (code) => {
      children.delete(proc);
      resolve(code);
    }),
  );
  return { proc, lines, exited };
}

function waitLine(c: Child, start: string): Promise<string> {
  return waitFor(`child line "${start}"`, () => c.lines.find((l) => l.startsWith(start)));
}

function putKeys(evs: WatchEvent[]): string[] {
  return evs.map((e) => (e.type === 'put' ? e.kv.key : `-${e.key}`));
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof StoreError && err.code === code);
}

// The shared suite, on a fresh data dir per test ...
storeConformance('embedded', async () => {
  const store = await openEmbeddedStore({ dir: tempDir() });
  return { store, close: () => store.close() };
});

// ... and on one data dir with a new handle per test (handles on one lmdb env in one process).
const sharedDir = tempDir();
storeConformance('embedded, one shared data dir', async () => {
  const store = await openEmbeddedStore({ dir: sharedDir });
  return { store, close: () => store.close() };
});

describe('embedded store: basics', () => {
  let store: EmbeddedStore;
  test('open', async () => {
    store = await openEmbeddedStore({ dir: tempDir() });
    assert.equal(store.kind, 'embedded');
  });

  test('put, get, list: revisions and versions follow etcd', async () => {
    const empty = await store.list('');
    assert.deepEqual(empty, { revision: 1, kvs: [] });
    const r1 = await store.put('/a/x', '1');
    assert.equal(r1, 2);
    const r2 = await store.put('/a/x', '2');
    assert.equal(r2, 3);
    await store.put('/a/é', 'e');
    await store.put('/a/z', 'z');
    await store.put('/b', 'b');
    const kv = await store.get('/a/x');
    assert.deepEqual(kv, {
      key: '/a/x',
      value: '2',
      createRevision: 2,
      modRevision: 3,
      version: 2,
      lease: '0',
    });
    assert.equal(await store.get('/nope'), undefined);
    const l = await store.list('/a/');
    assert.equal(l.revision, 6);
    assert.deepEqual(
      l.kvs.map((k) => k.key),
      ['/a/x', '/a/z', '/a/é'], // byte order: 'é' (0xc3 0xa9) sorts after 'z'
    );
    assert.equal((await store.list('')).kvs.length, 4);
  });

  test('delete and deletePrefix', async () => {
    assert.equal(await store.delete('/nope'), 0);
    const before = (await store.list('')).revision;
    assert.equal((await store.list('')).revision, before, 'deleting nothing keeps the revision');
    assert.equal(await store.deletePrefix('/a/'), 3);
    assert.equal((await store.list('')).revision, before + 1, 'one revision for the whole prefix');
    assert.equal(await store.delete('/b'), 1);
    await store.put('/a/x', 'again');
    const kv = await store.get('/a/x');
    assert.equal(kv?.version, 1);
    assert.equal(kv?.createRevision, kv?.modRevision);
  });

  test('txn: compares, branches, one revision', async () => {
    const kv = (await store.get('/a/x'))!;
    const ok = await store.txn({
      compare: [
        { key: '/a/x', op: 'modRevision', modRevision: kv.modRevision },
        { key: '/a/x', op: 'value', value: 'again' },
        { key: '/a/none', op: 'absent' },
        { key: '/a/none', op: 'modRevision', modRevision: 0 },
      ],
      success: [
        { op: 'put', key: '/t/1', value: '1' },
        { op: 'put', key: '/t/2', value: '2' },
        { op: 'delete', key: '/a/x' },
      ],
      failure: [{ op: 'put', key: '/t/fail', value: 'x' }],
    });
    assert.equal(ok.succeeded, true);
    const t1 = (await store.get('/t/1'))!;
    assert.equal(t1.modRevision, ok.revision);
    assert.equal((await store.get('/t/2'))!.modRevision, ok.revision);
    assert.equal(await store.get('/a/x'), undefined);
    const no = await store.txn({
      compare: [{ key: '/t/1', op: 'absent' }],
      success: [{ op: 'put', key: '/t/ok', value: 'x' }],
      failure: [{ op: 'put', key: '/t/fail', value: 'x' }],
    });
    assert.equal(no.succeeded, false);
    assert.equal(await store.get('/t/ok'), undefined);
    assert.equal((await store.get('/t/fail'))?.value, 'x');
    const nothing = await store.txn({ compare: [{ key: '/t/1', op: 'absent' }], success: [] });
    assert.deepEqual(nothing, { succeeded: false, revision: no.revision });
  });

  test('bad input is refused and changes nothing', async () => {
    const rev = (await store.list('')).revision;
    await rejectsWith(store.put('', 'x'), 'ESTORE_INVALID');
    await rejectsWith(store.get(''), 'ESTORE_INVALID');
    await rejectsWith(store.put('/k', 'x', { lease: 'nope' }), 'ESTORE_INVALID');
    await rejectsWith(store.put('/k', 'x', { lease: '12345' }), 'ESTORE_INVALID'); // unknown lease
    await rejectsWith(store.grantLease(0), 'ESTORE_INVALID');
    await rejectsWith(store.grantLease(1.5), 'ESTORE_INVALID');
    await rejectsWith(store.put('x'.repeat(5000), 'x'), 'ESTORE_INVALID');
    await rejectsWith(
      store.txn({
        compare: [],
        success: [
          { op: 'put', key: '/d', value: '1' },
          { op: 'put', key: '/d', value: '2' },
        ],
      }),
      'ESTORE_INVALID',
    );
    await rejectsWith(
      store.txn({
        compare: [],
        success: [
          { op: 'put', key: '/t/new', value: '1' },
          { op: 'put', key: '/t/other', value: '1', lease: '999' },
        ],
      }),
      'ESTORE_INVALID',
    );
    const many = Array.from({ length: 129 }, (_, i) => ({ op: 'put' as const, key: `/t/m${i}`, value: '' }));
    await rejectsWith(store.txn({ compare: [], success: [], failure: many }), 'ESTORE_INVALID');
    await rejectsWith(store.put('/t/huge', 'x'.repeat(2 * 1024 * 1024)), 'ESTORE_INVALID');
    assert.equal(await store.get('/t/new'), undefined, 'a failed txn writes nothing');
    assert.equal((await store.list('')).revision, rev);
    assert.throws(() => store.watch('/', -1, recorder()), StoreError);
  });

  test('watch: replay from a revision, then follow, filtered by prefix', async () => {
    const start = (await store.list('')).revision + 1;
    await store.put('/w/1', 'a');
    await store.put('/other', 'x');
    const h = recorder();
    const w = store.watch('/w/', start, h);
    await store.put('/w/2', 'b');
    await store.txn({
      compare: [],
      success: [
        { op: 'put', key: '/w/3', value: 'c' },
        { op: 'delete', key: '/w/1' },
      ],
    });
    await waitFor('4 events', () => h.got.length >= 4);
    assert.deepEqual(putKeys(h.got), ['/w/1', '/w/2', '/w/3', '-/w/1']);
    assert.equal(h.got[2]!.type === 'put' && h.got[2]!.kv.modRevision, start + 3);
    assert.deepEqual(h.got[3], { type: 'delete', key: '/w/1', modRevision: start + 3 });
    await w.close();
    await store.put('/w/4', 'd');
    // a negative check: 50 ms for a delivery after close to (wrongly) arrive
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.got.length, 4, 'no delivery after close');
  });

  test('watch from 0 starts after the current revision', async () => {
    await store.put('/z/old', '1');
    const h = recorder();
    const w = store.watch('/z/', 0, h);
    await store.put('/z/new', '1');
    await waitFor('event', () => h.got.length >= 1);
    assert.deepEqual(putKeys(h.got), ['/z/new']);
    await w.close();
  });

  test('leases: keys go with revoke, keepAlive reports the TTL', async () => {
    const lease = await store.grantLease(60);
    assert.match(lease, /^[1-9][0-9]*$/);
    await store.put('/l/1', 'a', { lease });
    await store.put('/l/2', 'b', { lease });
    await store.put('/l/3', 'c', { lease });
    await store.put('/l/3', 'c'); // a put without lease detaches the key
    assert.equal((await store.get('/l/1'))?.lease, lease);
    assert.equal((await store.get('/l/3'))?.lease, '0');
    assert.equal(await store.keepAliveLease(lease), 60);
    const h = recorder();
    const w = store.watch('/l/', (await store.list('')).revision + 1, h);
    await store.revokeLease(lease);
    await waitFor('2 deletes', () => h.got.length >= 2);
    assert.deepEqual(putKeys(h.got), ['-/l/1', '-/l/2']);
    assert.equal(h.got[0]!.type === 'delete' && h.got[0]!.modRevision, (await store.list('')).revision);
    assert.deepEqual(
      (await store.list('/l/')).kvs.map((k) => k.key),
      ['/l/3'],
    );
    assert.equal(await store.keepAliveLease(lease), 0);
    await store.revokeLease(lease); // unknown: not an error
    await store.revokeLease('4242');
    await rejectsWith(store.put('/l/4', 'x', { lease }), 'ESTORE_INVALID');
    await w.close();
  });

  test('leases expire by themselves', async () => {
    const lease = await store.grantLease(1);
    await store.put('/exp/k', 'v', { lease });
    const h = recorder();
    const w = store.watch('/exp/', (await store.list('')).revision + 1, h);
    await waitFor('delete event', () => h.got.length >= 1);
    assert.deepEqual(putKeys(h.got), ['-/exp/k']);
    assert.equal(await store.get('/exp/k'), undefined);
    assert.equal(await store.keepAliveLease(lease), 0);
    await w.close();
  });

  test('compact: older watches get compacted, newer ones work', async () => {
    await store.put('/c/1', '1');
    const mid = await store.put('/c/2', '2');
    await store.put('/c/3', '3');
    await store.compact(mid);
    await store.compact(mid); // already compacted: fine
    await store.compact(mid - 1);
    await rejectsWith(store.compact(mid + 1000), 'ESTORE_INVALID');
    const old = recorder();
    store.watch('/c/', mid - 1, old);
    await waitFor('compacted', () => old.compactedAt);
    assert.equal(old.compactedAt, mid);
    assert.equal(old.got.length, 0);
    const ok = recorder();
    const w = store.watch('/c/', mid, ok);
    await waitFor('2 events', () => ok.got.length >= 2);
    assert.deepEqual(putKeys(ok.got), ['/c/2', '/c/3']);
    await w.close();
  });

  test('close: later calls reject with ESTORE_CLOSED', async () => {
    const h = recorder();
    store.watch('/', 0, h);
    await store.close();
    await store.close(); // idempotent
    await rejectsWith(store.get('/x'), 'ESTORE_CLOSED');
    await rejectsWith(store.put('/x', 'y'), 'ESTORE_CLOSED');
    await rejectsWith(store.list(''), 'ESTORE_CLOSED');
    await rejectsWith(store.grantLease(5), 'ESTORE_CLOSED');
    assert.throws(
      () => store.watch('/', 0, recorder()),
      (e: unknown) => e instanceof StoreError && e.code === 'ESTORE_CLOSED',
    );
  });
});

describe('embedded store: on disk and across processes', () => {
  test('reopening the dir after close sees the data and the revision', async () => {
    const dir = tempDir();
    const a = await openEmbeddedStore({ dir });
    await a.put('/k/1', 'one');
    const lease = await a.grantLease(600);
    const rev = await a.put('/k/2', 'two', { lease });
    await a.close();
    const b = await openEmbeddedStore({ dir });
    const l = await b.list('/k/');
    assert.equal(l.revision, rev);
    assert.deepEqual(
      l.kvs.map((k) => [k.key, k.value, k.lease]),
      [
        ['/k/1', 'one', '0'],
        ['/k/2', 'two', lease],
      ],
    );
    assert.equal(await b.keepAliveLease(lease), 600, 'leases live in the store');
    assert.equal(await b.put('/k/3', 'three'), rev + 1);
    // History survives too: a watch from the first write replays it.
    const h = recorder();
    const w = b.watch('/k/', 2, h);
    await waitFor('3 events', () => h.got.length >= 3);
    assert.deepEqual(putKeys(h.got), ['/k/1', '/k/2', '/k/3']);
    await w.close();
    await b.close();
  });

  test('history beyond historyLimit is trimmed: old watches get compacted', async () => {
    const store = await openEmbeddedStore({ dir: tempDir(), historyLimit: 5 });
    let rev = 0;
    for (let i = 1; i <= 20; i++) rev = await store.put(`/h/${i}`, String(i));
    const old = recorder();
    store.watch('/h/', 2, old);
    await waitFor('compacted', () => old.compactedAt);
    assert.equal(old.compactedAt, rev - 4);
    const kept = recorder();
    const w = store.watch('/h/', rev - 4, kept);
    await waitFor('5 events', () => kept.got.length >= 5);
    assert.deepEqual(putKeys(kept.got), ['/h/16', '/h/17', '/h/18', '/h/19', '/h/20']);
    await w.close();
    await store.close();
  });

  test('a child process writes while the parent watches: every write once, in order', async () => {
    const dir = tempDir();
    const store = await openEmbeddedStore({ dir });
    await store.put('/p/0', 'parent');
    const from = (await store.list('')).revision + 1;
    const h = recorder();
    const w = store.watch('/c/', from, h);
    const N = 300;
    const child = spawnChild('writer', dir, String(N), '/c/');
    // The parent writes too, under another prefix, so revisions interleave.
    for (let i = 1; i <= 50; i++) await store.put(`/p/${i}`, String(i));
    await waitLine(child, 'done');
    assert.equal(await child.exited, 0);
    await waitFor(`${N} events`, () => h.got.length >= N);
    // A sentinel written after everything else: once it arrives, nothing else is pending.
    await store.put('/c/sentinel', 'x');
    await waitFor('sentinel', () => h.got.length > N);
    assert.equal(h.got.length, N + 1);
    const expected = Array.from({ length: N }, (_, i) => `/c/${i + 1}`);
    assert.deepEqual(putKeys(h.got).slice(0, N), expected);
    const revs = h.got.map((e) => (e.type === 'put' ? e.kv.modRevision : e.modRevision));
    for (let i = 1; i < revs.length; i++) assert.ok(revs[i]! > revs[i - 1]!, 'revisions increase');
    assert.equal(revs[revs.length - 1], (await store.list('')).revision);
    await w.close();
    await store.close();
  });

  test('concurrent compare-and-swap increments from several processes lose no update', async () => {
    const dir = tempDir();
    const store = await openEmbeddedStore({ dir });
    const N = 150;
    const kids = [
      spawnChild('cas', dir, String(N), '/counter'),
      spawnChild('cas', dir, String(N), '/counter'),
    ];
    let mine = 0;
    for (let i = 0; i < N; i++) {
      for (;;) {
        const cur = await store.get('/counter');
        const r = await store.txn({
          compare: [{ key: '/counter', op: 'modRevision', modRevision: cur?.modRevision ?? 0 }],
          success: [{ op: 'put', key: '/counter', value: String(Number(cur?.value ?? '0') + 1) }],
        });
        if (r.succeeded) break;
      }
      mine++;
      if (i % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    for (const k of kids) {
      await waitLine(k, 'done');
      assert.equal(await k.exited, 0);
    }
    const kv = (await store.get('/counter'))!;
    assert.equal(mine, N);
    assert.equal(kv.value, String(3 * N));
    assert.equal(kv.version, 3 * N);
    await store.close();
  });

  test('a process killed in the middle of writing leaves only whole transactions', async () => {
    const dir = tempDir();
    const store = await openEmbeddedStore({ dir });
    const size = 100;
    for (let round = 0; round < 3; round++) {
      const child = spawnChild('bulk', dir, String(size), `/bulk/${round}/`);
      await waitLine(child, 'ready');
      // Let it get a few transactions further, then kill it wherever it is.
      await waitFor(
        '5 transactions',
        async () => (await store.list(`/bulk/${round}/`)).kvs.length >= 5 * size,
      );
      child.proc.kill('SIGKILL');
      await child.exited;
    }
    const { revision, kvs } = await store.list('/bulk/');
    // Every transaction is all there or not at all: whole groups of `size` keys, one revision each.
    const byRev = new Map<number, number>();
    for (const kv of kvs) byRev.set(kv.modRevision, (byRev.get(kv.modRevision) ?? 0) + 1);
    for (const [rev, n] of byRev) assert.equal(n, size, `revision ${rev} has ${n} keys`);
    const h = recorder();
    const w = store.watch('/bulk/', 2, h);
    await waitFor('replay', () => h.got.length >= kvs.length);
    assert.equal(h.got.length, kvs.length);
    await w.close();
    // The write lock was not left held: this process can write. The revision may be one more
    // than expected: a process killed inside LMDB's commit window (meta page written, reader
    // table not yet updated) leaves a whole transaction that readers see only from the next
    // write on (see README "Limits"). Either way, still only whole transactions.
    const after = await store.put('/bulk/after', 'x');
    assert.ok(after === revision + 1 || after === revision + 2, `put at ${after} after list at ${revision}`);
    const relist = await store.list('/bulk/');
    const byRev2 = new Map<number, number>();
    for (const kv of relist.kvs) {
      if (kv.key !== '/bulk/after') byRev2.set(kv.modRevision, (byRev2.get(kv.modRevision) ?? 0) + 1);
    }
    for (const [rev, n] of byRev2) assert.equal(n, size, `revision ${rev} has ${n} keys`);
    await store.close();
  });

  test("a killed process's lease expires: its key goes, with a delete event", async () => {
    const dir = tempDir();
    const store = await openEmbeddedStore({ dir });
    const child = spawnChild('lease', dir, '1', '/svc/alive');
    const [, lease, rev] = (await waitLine(child, 'ready')).split(' ');
    const kv = await store.get('/svc/alive');
    assert.equal(kv?.lease, lease);
    assert.equal(kv?.modRevision, Number(rev));
    const h = recorder();
    const w = store.watch('/svc/', Number(rev) + 1, h);
    child.proc.kill('SIGKILL');
    await child.exited;
    await waitFor('delete event', () => h.got.length >= 1);
    assert.deepEqual(h.got, [{ type: 'delete', key: '/svc/alive', modRevision: Number(rev) + 1 }]);
    assert.equal(await store.get('/svc/alive'), undefined);
    assert.equal(await store.keepAliveLease(lease!), 0);
    await w.close();
    await store.close();
  });
});
