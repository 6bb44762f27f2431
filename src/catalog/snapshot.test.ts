/**
 * Snapshots on the embedded store: a catalog's records, health (drain too) and zones written
 * atomically and read back into another catalog, which answers from them (stale) until its own
 * first list replaces them; unusable files refused with one line; the writer writes only after a
 * change and never a half file.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Record } from '../records/types.js';
import { openEmbeddedStore } from '../store/embedded/embedded.js';
import type { Store } from '../store/types.js';
import { Catalog } from './catalog.js';
import { readSnapshot, SnapshotError, SnapshotWriter, snapshotText, writeFileAtomic } from './snapshot.js';

async function withStore(fn: (store: Store, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hades-snapshot-'));
  const store = await openEmbeddedStore({ dir: path.join(dir, 'db') });
  try {
    await fn(store, dir);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const targets = (c: Catalog, name: string): string[] => {
  const out: Record[] = [];
  c.lookup(name, out);
  return out.map((r) => r.target).sort();
};

const zoneOf = (c: Catalog, ip: string): string => {
  const id = new Uint8Array(6);
  id.set([4, 32, ...ip.split('.').map(Number)]);
  return c.topology.zoneOf(id, 6);
};

async function fill(store: Store): Promise<void> {
  await store.put('/hades/local/hades/web/a', '{"host":"10.0.0.1","zone":"z1","priority":20}');
  await store.put('/hades/local/hades/web/b', '{"host":"10.0.0.2","weight":3}');
  await store.put('/hades/local/hades/alias', '{"host":"web.hades.local"}');
  await store.put('/hades/monitor/status/10.0.0.1', '{"status":"DOWN"}');
  await store.put('/hades/monitor/status/10.0.0.2', '{"status":"UP","admin":"drain"}');
  await store.put('/hades/topology/z1', '{"cidrs":["10.1.0.0/16"]}');
}

describe('snapshots', () => {
  it('round trip: another catalog answers from it, stale, until its first list', async () => {
    await withStore(async (store, dir) => {
      await fill(store);
      const a = new Catalog({ store });
      await a.start();
      const file = path.join(dir, 'snap.json');
      await writeFileAtomic(file, snapshotText(a));
      await a.stop();

      const snap = await readSnapshot(file, '/hades');
      assert.equal(snap.revision, a.revision);
      const b = new Catalog({});
      assert.equal(b.installSnapshot(snap), true);
      assert.equal(b.stale, true);
      assert.equal(b.ready, false);
      assert.equal(b.revision, a.revision);
      assert.deepEqual(targets(b, 'web.hades.local.'), ['10.0.0.1', '10.0.0.2']);
      assert.deepEqual(targets(b, 'alias.hades.local.'), ['web.hades.local.']);
      const rec = b.index.get('/hades/local/hades/web/a');
      assert.equal(rec?.zone, 'z1');
      assert.equal(rec?.priority, 20);
      assert.equal(b.health('10.0.0.1'), 'DOWN');
      assert.equal(b.drained('10.0.0.2'), true);
      assert.equal(zoneOf(b, '10.1.2.3'), 'z1');

      // the store moved on meanwhile: the first list replaces the snapshot whole
      await store.delete('/hades/local/hades/web/b');
      await store.put('/hades/local/hades/new', '{"host":"10.0.0.9"}');
      await b.start(store);
      assert.equal(b.stale, false);
      assert.equal(b.ready, true);
      assert.equal(b.installSnapshot(snap), false, 'never after a list');
      assert.deepEqual(targets(b, 'web.hades.local.'), ['10.0.0.1']);
      assert.deepEqual(targets(b, 'new.hades.local.'), ['10.0.0.9']);
      await b.stop();
    });
  });

  it('unusable files: one line saying why', async () => {
    await withStore(async (store, dir) => {
      const c = new Catalog({ store });
      await c.start();
      const good = snapshotText(c);
      await c.stop();
      const cases: [string, string | null, RegExp][] = [
        ['missing', null, /no such file/],
        ['not-json', '{"format":', /not JSON/],
        ['other', '{"format":"x"}', /not a hades snapshot/],
        ['prefix', good.replace('"prefix":"/hades"', '"prefix":"/skydns"'), /written for prefix \/skydns/],
        ['revision', good.replace(/"revision":\d+/, '"revision":-1'), /bad revision/],
        ['records', good.replace('"records":[', '"recordz":['), /records, health or topology missing/],
      ];
      for (const [what, text, msg] of cases) {
        const file = path.join(dir, what);
        if (text !== null) await writeFile(file, text);
        await assert.rejects(readSnapshot(file, '/hades'), (e: unknown) => {
          assert.ok(e instanceof SnapshotError, what);
          assert.match((e as Error).message, msg, what);
          assert.equal((e as Error).message.split('\n').length, 1);
          return true;
        });
      }
    });
  });

  it('the writer: after the first list and after changes only; atomic (no temporary file left)', async () => {
    await withStore(async (store, dir) => {
      await fill(store);
      const c = new Catalog({ store });
      await c.start();
      const file = path.join(dir, 'snap.json');
      const w = new SnapshotWriter({ catalog: c, file, intervalMs: 60_000 });
      await w.flush();
      assert.equal(w.writes, 1);
      await w.flush();
      assert.equal(w.writes, 1, 'nothing changed: nothing written');
      const rev = await store.put('/hades/local/hades/later', '{"host":"10.0.0.7"}');
      for (let i = 0; i < 500 && c.revision < rev; i++) await new Promise((r) => setTimeout(r, 10));
      await w.flush();
      assert.equal(w.writes, 2);
      const snap = await readSnapshot(file, '/hades');
      assert.equal(snap.revision, rev);
      assert.ok(snap.index.get('/hades/local/hades/later'));
      assert.deepEqual(
        (await readdir(dir)).filter((f) => f.includes('tmp')),
        [],
      );
      JSON.parse(await readFile(file, 'utf8'));
      await w.stop();
      await c.stop();
    });
  });

  it('the writer never writes while the catalog serves a snapshot; a failed write is retried', async () => {
    await withStore(async (store, dir) => {
      await fill(store);
      const a = new Catalog({ store });
      await a.start();
      const file = path.join(dir, 'snap.json');
      await writeFileAtomic(file, snapshotText(a));
      await a.stop();
      const before = await readFile(file, 'utf8');
      const b = new Catalog({});
      b.installSnapshot(await readSnapshot(file, '/hades'));
      const w = new SnapshotWriter({ catalog: b, file, intervalMs: 60_000 });
      await w.flush();
      assert.equal(w.writes, 0);
      assert.equal(await readFile(file, 'utf8'), before);
      await w.stop();
      // a directory that does not exist: the write fails, is logged once, and stays due
      const warnings: string[] = [];
      const log = {
        debug() {},
        info() {},
        warn(_o: object, m?: string) {
          warnings.push(m ?? '');
        },
        error() {},
      };
      const c = new Catalog({ store });
      await c.start();
      const bad = new SnapshotWriter({
        catalog: c,
        file: path.join(dir, 'no', 'snap.json'),
        intervalMs: 60_000,
        logger: log,
      });
      await bad.flush();
      await bad.flush();
      assert.equal(bad.writes, 0);
      assert.deepEqual(warnings, ['snapshot write failed']);
      await bad.stop();
      await c.stop();
    });
  });
});
