import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeServerCert } from '../../../test/harness/certs.js';
import { type EtcdProcess, freePort, startEtcd } from '../../../test/harness/etcd.js';
import { RecordingHandler, storeConformance } from '../conformance.js';
import { StoreError, type StoreErrorCode } from '../types.js';
import { openEtcdStore, tlsFromEnv } from './etcd.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function hasCode(code: StoreErrorCode) {
  return (err: unknown) => err instanceof StoreError && err.code === code;
}

let etcd: EtcdProcess;
before(async () => {
  etcd = await startEtcd();
});
after(async () => {
  await etcd?.stop();
});

storeConformance('etcd', async () => {
  const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
  return { store, close: () => store.close() };
});

describe('etcd backend', () => {
  it('a watcher gets every acknowledged write exactly once, in order, across kill -9 and restart', {
    timeout: 60_000,
  }, async (t) => {
    const e = await startEtcd();
    const watcherStore = await openEtcdStore({ endpoints: [e.endpoint], requestTimeoutMs: 2000 });
    const writerStore = await openEtcdStore({ endpoints: [e.endpoint], requestTimeoutMs: 2000 });
    try {
      const p = '/resilience/';
      const r0 = await writerStore.put(`${p}start`, 'x');
      const rec = new RecordingHandler();
      const w = watcherStore.watch(p, r0 + 1, rec);

      const acked = new Map<string, number>();
      let unavailable = 0;
      let stop = false;
      let n = 0;
      const writer = (async () => {
        while (!stop) {
          // Every attempt writes a fresh key: an unacknowledged write may or may not have landed.
          const key = `${p}k${String(n++).padStart(6, '0')}`;
          try {
            acked.set(key, await writerStore.put(key, key));
          } catch (err) {
            if (!(err instanceof StoreError) || err.code !== 'ESTORE_UNAVAILABLE') throw err;
            unavailable++;
            await sleep(10);
          }
        }
      })();
      const ackedAtLeast = async (count: number): Promise<void> => {
        while (acked.size < count) {
          if (stop) return;
          await sleep(5);
        }
      };

      await ackedAtLeast(50);
      const cycles = 3;
      for (let cycle = 1; cycle <= cycles; cycle++) {
        const failedBefore = unavailable;
        await e.kill('SIGKILL');
        while (unavailable < failedBefore + 3) await sleep(5);
        await e.restart();
        await ackedAtLeast(acked.size + 50);
      }
      stop = true;
      await writer;

      const sentinel = await writerStore.put(`${p}zz-sentinel`, 'end');
      await rec.until(
        () => rec.all.some((ev) => ev.type === 'put' && ev.kv.modRevision === sentinel),
        'the sentinel write',
      );
      await w.close();

      const seen = new Map<string, number>();
      let last = r0;
      for (const ev of rec.all) {
        assert.equal(ev.type, 'put');
        if (ev.type !== 'put') continue;
        assert.ok(ev.kv.modRevision > last, `revision order: ${ev.kv.modRevision} after ${last}`);
        last = ev.kv.modRevision;
        assert.ok(!seen.has(ev.kv.key), `duplicate event for ${ev.kv.key}`);
        seen.set(ev.kv.key, ev.kv.modRevision);
      }
      for (const [key, rev] of acked) assert.equal(seen.get(key), rev, `acknowledged write ${key}@${rev}`);
      assert.deepEqual(rec.compactions, []);
      assert.ok(unavailable >= 9);
      t.diagnostic(
        `${n} writes tried, ${acked.size} acknowledged, ${unavailable} unavailable, ${seen.size} watched`,
      );
      assert.ok(rec.statuses.includes('disconnected'), `statuses: ${rec.statuses.join(', ')}`);
      assert.equal(rec.statuses.at(-1), 'connected');
    } finally {
      await watcherStore.close();
      await writerStore.close();
      await e.stop();
    }
  });

  it('lists a prefix larger than one page at one revision, while writes go on', {
    timeout: 60_000,
  }, async () => {
    const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    try {
      const p = '/paged/';
      const total = 12_345; // more than two pages of 5000
      for (let i = 0; i < total; i += 100) {
        const success = [];
        for (let j = i; j < Math.min(i + 100, total); j++) {
          success.push({ op: 'put' as const, key: `${p}${String(j).padStart(6, '0')}`, value: String(j) });
        }
        await store.txn({ compare: [], success });
      }
      let stop = false;
      const writes: number[] = [];
      const writer = (async () => {
        for (let i = 0; !stop; i++) writes.push(await store.put(`${p}late-${i}`, 'x'));
      })();
      while (writes.length === 0) await sleep(1);
      const res = await store.list(p);
      stop = true;
      await writer;
      const late = writes.filter((rev) => rev <= res.revision).length;
      assert.equal(res.kvs.length, total + late, 'exactly the keys that existed at the list revision');
      assert.ok(res.kvs.every((kv) => kv.modRevision <= res.revision));
      assert.equal(res.kvs[0].key, `${p}000000`);
      assert.equal(res.kvs[total - 1].key, `${p}${String(total - 1).padStart(6, '0')}`);
      for (let i = 1; i < res.kvs.length; i++) assert.ok(res.kvs[i - 1].key < res.kvs[i].key);
      // listPages with the backend's page size: the same keys, in pages of at most 5000.
      const sizes: number[] = [];
      const paged: string[] = [];
      const rev = await store.listPages(p, (kvs) => {
        sizes.push(kvs.length);
        for (const kv of kvs) paged.push(kv.key);
      });
      const now = await store.list(p);
      assert.equal(rev, now.revision);
      assert.deepEqual(
        paged,
        now.kvs.map((kv) => kv.key),
      );
      assert.ok(sizes.length >= 3 && sizes.every((n) => n <= 5000), `page sizes ${sizes}`);
      assert.equal(await store.deletePrefix(p), total + writes.length);
    } finally {
      await store.close();
    }
  });

  it('reports ESTORE_UNAVAILABLE while etcd is down and recovers by itself', {
    timeout: 30_000,
  }, async () => {
    const e = await startEtcd();
    const store = await openEtcdStore({ endpoints: [e.endpoint], requestTimeoutMs: 1000 });
    try {
      await store.put('/down/k', 'v');
      await e.kill();
      await assert.rejects(store.get('/down/k'), hasCode('ESTORE_UNAVAILABLE'));
      await assert.rejects(store.put('/down/k', 'v2'), hasCode('ESTORE_UNAVAILABLE'));
      await assert.rejects(store.keepAliveLease('12345'), hasCode('ESTORE_UNAVAILABLE'));
      await e.restart();
      let value: string | undefined;
      for (let i = 0; i < 100 && value === undefined; i++) {
        try {
          value = (await store.get('/down/k'))?.value;
        } catch (err) {
          if (!hasCode('ESTORE_UNAVAILABLE')(err)) throw err;
          await sleep(50);
        }
      }
      assert.equal(value, 'v');
    } finally {
      await store.close();
      await e.stop();
    }
  });

  it('works with a dead endpoint listed first', { timeout: 30_000 }, async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const store = await openEtcdStore({ endpoints: [dead, etcd.endpoint], requestTimeoutMs: 2000 });
    try {
      const p = '/multi-endpoint/';
      const r0 = await store.put(`${p}0`, '0');
      const rec = new RecordingHandler();
      const w = store.watch(p, r0, rec);
      for (let i = 1; i <= 20; i++) {
        await store.put(`${p}${i}`, String(i));
        assert.equal((await store.get(`${p}${i}`))?.value, String(i));
      }
      assert.equal((await store.list(p)).kvs.length, 21);
      const t = await store.txn({
        compare: [{ key: `${p}0`, op: 'exists' }],
        success: [{ op: 'delete', key: `${p}0` }],
      });
      assert.equal(t.succeeded, true);
      const lease = await store.grantLease(10);
      assert.equal(await store.keepAliveLease(lease), 10);
      await store.revokeLease(lease);
      await rec.untilCount(22);
      await w.close();
      assert.equal(await store.deletePrefix(p), 20);
    } finally {
      await store.close();
    }
  });

  it('open rejects with ESTORE_UNAVAILABLE when no endpoint answers', { timeout: 30_000 }, async () => {
    const endpoints = [`http://127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    await assert.rejects(openEtcdStore({ endpoints, dialTimeoutMs: 300 }), (err: unknown) => {
      assert.ok(err instanceof StoreError && err.code === 'ESTORE_UNAVAILABLE');
      assert.match(
        err.message,
        /no endpoint of http:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+ answered/,
      );
      return true;
    });
  });

  it('open rejects bad options with ESTORE_INVALID', async () => {
    const cases: [string, Parameters<typeof openEtcdStore>[0]][] = [
      ['no endpoints', { endpoints: [] }],
      ['a path in the endpoint', { endpoints: ['http://127.0.0.1:2379/v3'] }],
      ['no port', { endpoints: ['http://127.0.0.1'] }],
      ['mixed schemes', { endpoints: ['http://127.0.0.1:1', 'https://127.0.0.1:2'] }],
      ['unreadable CA file', { endpoints: ['https://127.0.0.1:1'], tls: { ca: '/nonexistent/ca.pem' } }],
      ['key without cert', { endpoints: ['https://127.0.0.1:1'], tls: { key: '/nonexistent/key.pem' } }],
    ];
    for (const [what, opts] of cases)
      await assert.rejects(openEtcdStore(opts), hasCode('ESTORE_INVALID'), what);
  });

  it('tlsFromEnv reads the seed variables', () => {
    assert.equal(tlsFromEnv({}), undefined);
    const names = { ca: '$ETCD_CACERT', key: '$ETCD_TLSKEY', cert: '$ETCD_TLSPEM' };
    assert.deepEqual(tlsFromEnv({ ETCD_CACERT: '/ca.pem', ETCD_TLSKEY: '/k.pem', ETCD_TLSPEM: '/c.pem' }), {
      ca: '/ca.pem',
      key: '/k.pem',
      cert: '/c.pem',
      names,
    });
    assert.deepEqual(tlsFromEnv({ ETCD_CACERT: '/ca.pem' }), { ca: '/ca.pem', names });
  });

  const openssl = ['/usr/bin/openssl', '/bin/openssl'].find((f) => existsSync(f));
  it('TLS with client certificates', {
    skip: openssl ? false : 'openssl is not installed',
    timeout: 30_000,
  }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hades-etcd-tls-'));
    const f = (name: string) => path.join(dir, name);
    let e: EtcdProcess | undefined;
    try {
      await makeServerCert(dir, { dns: ['localhost'], ips: ['127.0.0.1'] }, 'server');
      await makeServerCert(dir, { dns: ['hades-test-client'] }, 'client');
      e = await startEtcd({
        tls: {
          certFile: f('server.pem'),
          keyFile: f('server.key'),
          caFile: f('ca.pem'),
          clientCertAuth: true,
          clientCertFile: f('client.pem'),
          clientKeyFile: f('client.key'),
        },
      });
      assert.match(e.endpoint, /^https:/);
      const tls = tlsFromEnv({
        ETCD_CACERT: f('ca.pem'),
        ETCD_TLSKEY: f('client.key'),
        ETCD_TLSPEM: f('client.pem'),
      });
      // A bare host:port becomes https when TLS files are given.
      const store = await openEtcdStore({ endpoints: [e.endpoint.replace('https://', '')], tls });
      try {
        const r = await store.put('/tls/k', 'secret');
        const rec = new RecordingHandler();
        const w = store.watch('/tls/', r, rec);
        await rec.untilCount(1);
        await w.close();
        assert.equal((await store.get('/tls/k'))?.value, 'secret');
      } finally {
        await store.close();
      }
      // Without a client certificate etcd refuses us, and open says so.
      await assert.rejects(
        openEtcdStore({ endpoints: [e.endpoint], tls: { ca: f('ca.pem') }, dialTimeoutMs: 500 }),
        hasCode('ESTORE_UNAVAILABLE'),
      );
    } finally {
      await e?.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
