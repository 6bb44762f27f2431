import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type EtcdProcess, startEtcd } from '../../test/harness/etcd.js';
import { waitFor as waitUntil } from '../../test/lib/wait.js';
import { Election } from './election.js';
import { openEmbeddedStore } from './embedded/embedded.js';
import { openEtcdStore } from './etcd/etcd.js';
import type { Store } from './types.js';

function electionSuite(label: string, open: () => Promise<Store>): void {
  describe(`Election on ${label}`, () => {
    let store: Store;
    let n = 0;
    const key = (): string => `/test/election/${process.pid}/${label}/${++n}`;
    before(async () => {
      store = await open();
    });
    after(async () => {
      await store?.close();
    });

    test('one leader among two; leader() names it', async () => {
      const k = key();
      const events: string[] = [];
      const a = new Election(store, k, 'a', { ttlSeconds: 2, onElected: () => events.push('a') });
      const b = new Election(store, k, 'b', { ttlSeconds: 2, onElected: () => events.push('b') });
      await a.campaign();
      const bElected = b.campaign();
      // a negative check: b must NOT win while a holds the key; 300 ms gives a wrong win the time
      // to happen (a slow machine makes the check weaker, never makes it fail)
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(a.isLeader, true);
      assert.equal(b.state, 'campaigning');
      assert.equal(await a.leader(), 'a');
      assert.equal(await b.leader(), 'a');
      assert.deepEqual(events, ['a']);
      await a.resign();
      await bElected; // resign hands over at once (no TTL wait: the watch sees the delete)
      assert.equal(b.isLeader, true);
      assert.equal(await a.leader(), 'b');
      assert.equal(a.state, 'stopped');
      await b.resign();
      assert.equal(await a.leader(), undefined);
    });

    test('a leader that stops renewing (dies) loses the key when its lease expires; the other takes over', async () => {
      const k = key();
      const a = new Election(store, k, 'a', { ttlSeconds: 1 });
      const lostB: string[] = [];
      const b = new Election(store, k, 'b', { ttlSeconds: 1, onLost: (w) => lostB.push(w) });
      await a.campaign();
      const bElected = b.campaign();
      // leadership holds across several renewal periods
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(a.isLeader, true);
      assert.equal(b.isLeader, false);
      await a.abandon(); // no revoke: the key stays until the lease expires
      assert.equal(await b.leader(), 'a');
      await bElected;
      assert.equal(await b.leader(), 'b');
      assert.deepEqual(lostB, []);
      await b.resign();
    });

    test('a leader whose lease is revoked behind its back sees the loss and campaigns again', async () => {
      const k = key();
      const lost: string[] = [];
      let elected = 0;
      const a = new Election(store, k, 'a', {
        ttlSeconds: 2,
        onLost: (w) => lost.push(w),
        onElected: () => elected++,
      });
      await a.campaign();
      const kv = await store.get(k);
      assert.ok(kv);
      await store.revokeLease(kv.lease);
      await waitUntil('onLost', () => lost.length === 1);
      await waitUntil('re-elected', () => elected === 2 && a.isLeader);
      await a.resign();
      assert.equal(await store.get(k), undefined);
    });

    test('resign before being elected rejects campaign() and leaves the leader alone', async () => {
      const k = key();
      const a = new Election(store, k, 'a', { ttlSeconds: 2 });
      const b = new Election(store, k, 'b', { ttlSeconds: 2 });
      await a.campaign();
      const p = b.campaign();
      // lets b's campaign get as far as waiting for a's key; a resign at any earlier point is a
      // resign before being elected too, so what follows holds whatever the timing
      await new Promise((r) => setTimeout(r, 100));
      await b.resign();
      await assert.rejects(p, /resigned/);
      assert.equal(await a.leader(), 'a');
      assert.equal(a.isLeader, true);
      await a.resign();
    });
  });
}

let etcd: EtcdProcess | undefined;
electionSuite('etcd', async () => {
  etcd = await startEtcd();
  return openEtcdStore({ endpoints: [etcd.endpoint] });
});
after(async () => {
  await etcd?.stop();
});

const dir = mkdtempSync(path.join(os.tmpdir(), 'hades-election-'));
electionSuite('embedded', () => openEmbeddedStore({ dir }));
after(() => rmSync(dir, { recursive: true, force: true }));
