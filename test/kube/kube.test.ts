/**
 * Kubernetes → records against a real etcd and the fake API server: every record kind, updates,
 * deletes, user records untouched, health keys, 410 relists, dropped streams, an API-server
 * restart, paging, auth, and two replicas with one writer. Loopback only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { electionGate, type KubeHandle, type KubeOptions, startKube } from '../../src/kube/index.js';
import { fnv1a32, leafKey, nameToKey, reverseName, serializeRecordValue } from '../../src/records/index.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store, WatchEvent } from '../../src/store/types.js';
import { waitFor } from '../dns/clients.js';
import { type EtcdProcess, startEtcd } from '../harness/etcd.js';
import { endpointSlice, FakeApiServer, service } from './fake-apiserver.js';

const DOMAIN = 'hades.local.';
let etcd: EtcdProcess;
let store: Store;
let seq = 0;

before(async () => {
  etcd = await startEtcd();
  store = await openEtcdStore({ endpoints: [etcd.endpoint] });
});
after(async () => {
  await store?.close();
  await etcd?.stop();
});

interface Env {
  fake: FakeApiServer;
  kube: KubeHandle;
  prefix: string;
  monitor: string;
  /** Values (parsed) of the records at and below `name`. */
  at(name: string): Promise<{ [k: string]: unknown }[]>;
  /** Sorted `host[:port]` of the records at and below `name`. */
  hosts(name: string): Promise<string[]>;
  health(ip: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

/** A fresh fake API server, and startKube on its own prefix and monitor path in the shared etcd. */
async function setup(extra: Partial<KubeOptions> = {}, fill?: (f: FakeApiServer) => void): Promise<Env> {
  const fake = new FakeApiServer();
  await fake.start();
  fill?.(fake);
  const n = ++seq;
  const prefix = `/t${n}`;
  const monitor = `/t${n}/monitor/status/`;
  const kube = startKube({
    store,
    domain: DOMAIN,
    prefix,
    ipMonitorPath: monitor,
    masterUrl: fake.url,
    svcIpSource: 'clusterIP',
    debounceMs: 20,
    backoffMs: 20,
    maxBackoffMs: 200,
    ...extra,
  });
  const at = async (name: string) => {
    const key = nameToKey(name, prefix);
    const l = await store.list(`${key}/`);
    return l.kvs.map((kv) => JSON.parse(kv.value) as { [k: string]: unknown });
  };
  return {
    fake,
    kube,
    prefix,
    monitor,
    at,
    async hosts(name) {
      return (await at(name))
        .map((v) => (v.port !== undefined ? `${v.host}:${v.port}` : String(v.host)))
        .sort();
    },
    async health(ip) {
      return (await store.get(`${monitor}${ip}`))?.value;
    },
    async stop() {
      await kube.stop();
      await fake.close();
    },
  };
}

async function eventually(env: Env, name: string, want: string[], what = name): Promise<void> {
  let last: string[] = [];
  try {
    await waitFor(what, async () => {
      last = await env.hosts(name);
      return JSON.stringify(last) === JSON.stringify([...want].sort());
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}: have ${JSON.stringify(last)}, want ${JSON.stringify(want)}`);
  }
}

const svcName = (svc: string, ns = 'default') => `${svc}.${ns}.svc.${DOMAIN}`;

describe('kube → records', () => {
  test('ClusterIP: A, dual-stack AAAA, SRV for named ports, PTR, dns-version TXT, health; updates and deletes', async () => {
    const env = await setup({}, (f) => {
      f.apply(
        'Service',
        service({
          name: 'qiyf-nginx-5',
          clusterIP: '10.96.0.15',
          ports: [{ name: 'http', port: 80 }, { port: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }],
        }),
      );
      f.apply(
        'Service',
        service({ name: 'dual', namespace: 'prod', clusterIPs: ['10.96.0.20', 'fd00:10:96::20'] }),
      );
    });
    try {
      await eventually(env, svcName('qiyf-nginx-5'), [
        '10.96.0.15',
        'qiyf-nginx-5.default.svc.hades.local:80',
        'qiyf-nginx-5.default.svc.hades.local:53',
      ]);
      const recs = await env.at(svcName('qiyf-nginx-5'));
      const a = recs.find((r) => r.host === '10.96.0.15');
      assert.deepEqual(a, { host: '10.96.0.15', ttl: 30, type: 'A', source: 'svc' });
      // the record sits at its FNV-1a leaf
      const key = nameToKey(svcName('qiyf-nginx-5'), env.prefix);
      const value = serializeRecordValue({ host: '10.96.0.15', ttl: 30, type: 'A', source: 'svc' });
      assert.equal((await store.get(`${key}/${fnv1a32(value)}`))?.value, value);
      assert.deepEqual(await env.hosts(`_http._tcp.${svcName('qiyf-nginx-5')}`), [
        'qiyf-nginx-5.default.svc.hades.local:80',
      ]);
      assert.deepEqual(await env.hosts(`_dns._udp.${svcName('qiyf-nginx-5')}`), [
        'qiyf-nginx-5.default.svc.hades.local:53',
      ]);
      assert.deepEqual(await env.hosts(reverseName('10.96.0.15')), ['qiyf-nginx-5.default.svc.hades.local']);
      assert.deepEqual(await env.hosts(svcName('dual', 'prod')), ['10.96.0.20', 'fd00:10:96::20']);
      assert.deepEqual(await env.hosts(reverseName('fd00:10:96::20')), ['dual.prod.svc.hades.local']);
      const txt = await env.at(`dns-version.${DOMAIN}`);
      assert.deepEqual(txt, [{ text: '1.1.0', ttl: 30, type: 'TXT', source: 'svc' }]);
      assert.deepEqual(JSON.parse((await env.health('10.96.0.15')) ?? '{}'), {
        status: 'UP',
        ports: ['80', '8080', '53'],
        source: 'svc', // created by kubeapi: it may delete it again
      });
      assert.ok(await env.health('fd00:10:96::20'));

      // update: a new ClusterIP replaces the old one (records, PTR and health follow)
      env.fake.apply(
        'Service',
        service({ name: 'qiyf-nginx-5', clusterIP: '10.96.0.16', ports: [{ port: 80 }] }),
      );
      await eventually(env, svcName('qiyf-nginx-5'), ['10.96.0.16']);
      await waitFor('old health key removed', async () => (await env.health('10.96.0.15')) === undefined);
      assert.deepEqual(await env.hosts(reverseName('10.96.0.15')), []);
      assert.deepEqual(await env.hosts(reverseName('10.96.0.16')), ['qiyf-nginx-5.default.svc.hades.local']);
      assert.ok(await env.health('10.96.0.16'));

      // delete
      env.fake.remove('Service', 'prod', 'dual');
      await eventually(env, svcName('dual', 'prod'), []);
      await waitFor('dual health removed', async () => (await env.health('10.96.0.20')) === undefined);
      assert.deepEqual(await env.hosts(reverseName('fd00:10:96::20')), []);
    } finally {
      await env.stop();
    }
  });

  test('svcIpSource loadBalancer and externalIPs', async () => {
    const fill = (f: FakeApiServer) => {
      f.apply(
        'Service',
        service({
          name: 'web',
          type: 'LoadBalancer',
          clusterIP: '10.96.1.1',
          externalIPs: ['198.51.100.7'],
          lbIngress: ['203.0.113.9'],
          ports: [{ name: 'http', port: 80 }],
        }),
      );
    };
    const lb = await setup({ svcIpSource: 'loadBalancer' }, fill);
    try {
      await eventually(lb, svcName('web'), ['203.0.113.9', 'web.default.svc.hades.local:80']);
      assert.deepEqual(await lb.hosts(reverseName('203.0.113.9')), ['web.default.svc.hades.local']);
      assert.equal(await lb.health('10.96.1.1'), undefined);
    } finally {
      await lb.stop();
    }
    const ext = await setup({ svcIpSource: 'externalIPs' }, fill);
    try {
      await eventually(ext, svcName('web'), ['198.51.100.7', 'web.default.svc.hades.local:80']);
    } finally {
      await ext.stop();
    }
  });

  test('headless: ready endpoints only, hostnames, dashed IPv4/IPv6, select all, SRV per endpoint; ExternalName → CNAME', async () => {
    const env = await setup({ pageSize: 1 }, (f) => {
      f.apply('Service', service({ name: 'db', clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }));
      f.apply(
        'EndpointSlice',
        endpointSlice(
          'db',
          [{ ip: '172.0.0.2' }, { ip: '172.0.0.3', hostname: 'db-0' }, { ip: '172.0.0.4', ready: false }],
          { ports: [{ name: 'pg', port: 5432 }] },
        ),
      );
      f.apply(
        'EndpointSlice',
        endpointSlice('db', [{ ip: '5678:abcd::1' }], { ipv6: true, ports: [{ name: 'pg', port: 5432 }] }),
      );
      f.apply('Service', service({ name: 'ext', externalName: 'www.example.com' }));
    });
    try {
      const db = svcName('db');
      await eventually(env, `172-0-0-2.${db}`, ['172.0.0.2']);
      await eventually(env, `db-0.${db}`, ['172.0.0.3']);
      assert.deepEqual(await env.hosts(`5678-abcd--1.${db}`), ['5678:abcd::1']);
      assert.deepEqual(await env.hosts(`172-0-0-4.${db}`), []);
      // the service name aggregates every ready endpoint (and the SRV records below it)
      const all = await env.at(db);
      assert.deepEqual(
        all
          .filter((r) => r.type === 'A' || r.type === 'AAAA')
          .map((r) => r.host)
          .sort(),
        ['172.0.0.2', '172.0.0.3', '5678:abcd::1'],
      );
      assert.ok(all.every((r) => r.select === 'all'));
      assert.deepEqual(await env.hosts(`_pg._tcp.${db}`), [
        '172-0-0-2.db.default.svc.hades.local:5432',
        '5678-abcd--1.db.default.svc.hades.local:5432',
        'db-0.db.default.svc.hades.local:5432',
      ]);
      assert.deepEqual(await env.hosts(reverseName('172.0.0.3')), ['db-0.db.default.svc.hades.local']);
      assert.deepEqual(await env.hosts(reverseName('5678:abcd::1')), [
        '5678-abcd--1.db.default.svc.hades.local',
      ]);
      assert.deepEqual(JSON.parse((await env.health('172.0.0.2')) ?? '{}'), {
        status: 'UP',
        ports: ['5432'],
        source: 'svc',
      });
      assert.equal(await env.health('172.0.0.4'), undefined);
      assert.deepEqual(await env.at(svcName('ext')), [
        { host: 'www.example.com', ttl: 30, type: 'CNAME', source: 'svc' },
      ]);
      assert.ok(
        env.fake.requests.some((r) => r.includes('continue=')),
        'lists were paged',
      );

      // readiness flips: 172.0.0.4 becomes ready, 172.0.0.2 goes away
      env.fake.apply(
        'EndpointSlice',
        endpointSlice(
          'db',
          [
            { ip: '172.0.0.3', hostname: 'db-0' },
            { ip: '172.0.0.4', ready: true },
          ],
          { ports: [{ name: 'pg', port: 5432 }] },
        ),
      );
      await eventually(env, `172-0-0-4.${db}`, ['172.0.0.4']);
      await eventually(env, `172-0-0-2.${db}`, []);
      await waitFor(
        'health of a gone endpoint removed',
        async () => (await env.health('172.0.0.2')) === undefined,
      );
    } finally {
      await env.stop();
    }
  });

  test('endpoint zones: on the endpoint records (not the ClusterIP), moved by a watch event, an invalid one left out and warned once', async () => {
    const warns: { o: { [k: string]: unknown }; m: string }[] = [];
    const logger = {
      debug() {},
      info() {},
      warn(o: object, m: string) {
        warns.push({ o: o as { [k: string]: unknown }, m });
      },
      error() {},
    };
    const pg = { ports: [{ name: 'pg', port: 5432 }] };
    const dbSlice = (zone1: string, bad: string) =>
      endpointSlice(
        'zdb',
        [
          { ip: '10.97.0.1', zone: zone1 },
          { ip: '10.97.0.2', hostname: 'zdb-1', zone: 'eu-1b' },
          { ip: '10.97.0.3' },
          { ip: '10.97.0.4', zone: bad },
        ],
        pg,
      );
    const env = await setup({ logger }, (f) => {
      f.apply('Service', service({ name: 'zdb', clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }));
      f.apply('EndpointSlice', dbSlice('eu-1a', 'bad zone!'));
      f.apply(
        'EndpointSlice',
        endpointSlice('zdb', [{ ip: 'fd00:97::1', zone: 'eu-1a' }], { ipv6: true, ...pg }),
      );
      // a ClusterIP service's endpoints are in zones; its address is not
      f.apply(
        'Service',
        service({ name: 'zweb', clusterIP: '10.96.9.1', ports: [{ name: 'http', port: 80 }] }),
      );
      f.apply('EndpointSlice', endpointSlice('zweb', [{ ip: '10.97.1.1', zone: 'eu-1a' }]));
    });
    const db = svcName('zdb');
    /** `host[:port] zone` of the records at and below `name` ('-': none). */
    const zones = async (name: string) =>
      (await env.at(name))
        .map((v) => `${v.host}${v.port !== undefined ? `:${v.port}` : ''} ${v.zone ?? '-'}`)
        .sort();
    try {
      await eventually(env, `10-97-0-4.${db}`, ['10.97.0.4']);
      await eventually(env, `fd00-97--1.${db}`, ['fd00:97::1']);
      assert.deepEqual(await zones(`10-97-0-1.${db}`), ['10.97.0.1 eu-1a']);
      assert.deepEqual(await zones(`zdb-1.${db}`), ['10.97.0.2 eu-1b']);
      assert.deepEqual(await zones(`10-97-0-3.${db}`), ['10.97.0.3 -']);
      assert.deepEqual(await zones(`10-97-0-4.${db}`), ['10.97.0.4 -'], 'an invalid zone is left out');
      assert.deepEqual(await zones(`fd00-97--1.${db}`), ['fd00:97::1 eu-1a']);
      assert.deepEqual(await zones(`_pg._tcp.${db}`), [
        '10-97-0-1.zdb.default.svc.hades.local:5432 eu-1a',
        '10-97-0-3.zdb.default.svc.hades.local:5432 -',
        '10-97-0-4.zdb.default.svc.hades.local:5432 -',
        'fd00-97--1.zdb.default.svc.hades.local:5432 eu-1a',
        'zdb-1.zdb.default.svc.hades.local:5432 eu-1b',
      ]);
      assert.deepEqual(await zones(reverseName('10.97.0.1')), [
        '10-97-0-1.zdb.default.svc.hades.local eu-1a',
      ]);
      assert.deepEqual(await zones(svcName('zweb')), ['10.96.9.1 -', 'zweb.default.svc.hades.local:80 -']);
      assert.deepEqual(await zones(reverseName('10.96.9.1')), ['zweb.default.svc.hades.local -']);
      const warned = () => warns.filter((w) => w.m === 'kube: invalid endpoint zone ignored');
      assert.equal(warned().length, 1);
      assert.equal(warned()[0].o.zone, 'bad zone!');
      assert.equal(warned()[0].o.endpointslice, 'default/zdb-abcde');
      assert.equal(env.kube.stats.invalidZones, 1);
      // resyncs do not repeat the warning
      await env.kube.reconcileNow();
      await env.kube.reconcileNow();
      assert.equal(warned().length, 1);
      assert.equal(env.kube.stats.invalidZones, 1);

      // a MODIFIED event moving 10.97.0.1 to eu-1c: new leaves put and old ones deleted in one
      // txn (one store revision), the health key left as it was
      const health = await store.get(`${env.monitor}10.97.0.1`);
      assert.ok(health);
      const epKey = `${nameToKey(`10-97-0-1.${db}`, env.prefix)}/`;
      const { revision } = await store.list(epKey);
      const events: WatchEvent[] = [];
      const watch = store.watch(epKey, revision + 1, {
        events: (evs) => events.push(...evs),
        compacted: () => assert.fail('compacted'),
      });
      try {
        env.fake.apply('EndpointSlice', dbSlice('eu-1c', 'bad zone!'));
        await waitFor(
          'zone moved',
          async () => (await zones(`10-97-0-1.${db}`)).join() === '10.97.0.1 eu-1c',
        );
        await waitFor('both events seen', () => events.length >= 2);
      } finally {
        await watch.close();
      }
      assert.deepEqual(
        events.map((e) => e.type),
        ['put', 'delete'],
        'the put comes first: the address is never absent',
      );
      const rev = (e: WatchEvent) => (e.type === 'put' ? e.kv.modRevision : e.modRevision);
      assert.equal(rev(events[0]), rev(events[1]), 'one transaction');
      assert.deepEqual(await zones(`_pg._tcp.${db}`), [
        '10-97-0-1.zdb.default.svc.hades.local:5432 eu-1c',
        '10-97-0-3.zdb.default.svc.hades.local:5432 -',
        '10-97-0-4.zdb.default.svc.hades.local:5432 -',
        'fd00-97--1.zdb.default.svc.hades.local:5432 eu-1a',
        'zdb-1.zdb.default.svc.hades.local:5432 eu-1b',
      ]);
      assert.deepEqual(await zones(reverseName('10.97.0.1')), [
        '10-97-0-1.zdb.default.svc.hades.local eu-1c',
      ]);
      assert.equal((await store.get(`${env.monitor}10.97.0.1`))?.modRevision, health.modRevision);

      // another invalid value is warned (and counted) again; a valid one is written
      env.fake.apply('EndpointSlice', dbSlice('eu-1c', '-x'));
      await waitFor('second warning', () => warned().length === 2);
      assert.equal(warned()[1].o.zone, '-x');
      assert.equal(env.kube.stats.invalidZones, 2);
      env.fake.apply('EndpointSlice', dbSlice('eu-1c', 'eu-1b'));
      await waitFor(
        'zone written',
        async () => (await zones(`10-97-0-4.${db}`)).join() === '10.97.0.4 eu-1b',
      );
      assert.equal(warned().length, 2);
    } finally {
      await env.stop();
    }
  });

  test('user records and their health keys are never touched', async () => {
    const env = await setup({ election: false }, (f) => {
      f.apply('Service', service({ name: 'web', clusterIP: '10.96.2.1' }));
    });
    try {
      const web = svcName('web');
      const userValue = serializeRecordValue({ host: '10.96.2.1', type: 'A', source: 'api' });
      const userKey = leafKey(nameToKey(web, env.prefix), userValue);
      const userOther = `${nameToKey(`x.user.${DOMAIN}`, env.prefix)}`;
      await store.put(userKey, userValue);
      await store.put(userOther, serializeRecordValue({ host: '10.96.2.1' }));
      await store.put(`${nameToKey(`legacy.default.svc.${DOMAIN}`, env.prefix)}/1`, '{"host":"10.1.1.1"}');
      await env.kube.reconcileNow();
      await waitFor('svc record', async () => (await env.at(web)).some((r) => r.source === 'svc'));
      // the service goes: our record goes, the user's stays, and so does the health key (a user record uses it)
      env.fake.remove('Service', 'default', 'web');
      await waitFor('svc record removed', async () => !(await env.at(web)).some((r) => r.source === 'svc'));
      await env.kube.reconcileNow();
      assert.equal((await store.get(userKey))?.value, userValue);
      assert.ok(await store.get(userOther));
      assert.equal(
        (await store.get(`${nameToKey(`legacy.default.svc.${DOMAIN}`, env.prefix)}/1`))?.value,
        '{"host":"10.1.1.1"}',
      );
      assert.ok(await env.health('10.96.2.1'), 'health key kept: a user record still names the address');
      // a concurrent change to one of our records between read and write is not clobbered: the next pass fixes it
      const r = await env.kube.reconcileNow();
      assert.equal(r?.conflicts, 0);
    } finally {
      await env.stop();
    }
  });

  test('410 Gone: ERROR event and HTTP 410 both relist; a delete missed during the gap is applied', async () => {
    for (const [goneAsHttp, keepOpen] of [
      [false, false],
      [true, false],
      [false, true],
    ]) {
      const env = await setup({}, (f) => {
        f.goneAsHttp = goneAsHttp;
        f.keepOpenAfterError = keepOpen;
        f.apply('Service', service({ name: 'a', clusterIP: '10.96.3.1' }));
        f.apply('Service', service({ name: 'b', clusterIP: '10.96.3.2' }));
      });
      try {
        await eventually(env, svcName('b'), ['10.96.3.2']);
        const lists = env.kube.stats.services.lists;
        env.fake.dropStreams();
        // while nobody watches: b goes, c comes; then history is compacted away
        env.fake.remove('Service', 'default', 'b');
        env.fake.apply('Service', service({ name: 'c', clusterIP: '10.96.3.3' }));
        env.fake.compact();
        await eventually(env, svcName('b'), [], `b removed (goneAsHttp=${goneAsHttp})`);
        await eventually(env, svcName('c'), ['10.96.3.3']);
        assert.ok(env.kube.stats.services.gone >= 1);
        assert.ok(env.kube.stats.services.lists > lists);
        assert.deepEqual(await env.hosts(svcName('a')), ['10.96.3.1']);
      } finally {
        await env.stop();
      }
    }
  });

  test('dropped streams resume from the last resourceVersion; bookmarks; API-server restart', async () => {
    const env = await setup({}, (f) => {
      f.apply('Service', service({ name: 'a', clusterIP: '10.96.4.1' }));
    });
    try {
      await eventually(env, svcName('a'), ['10.96.4.1']);
      await waitFor('two watches', () => env.fake.watcherCount === 2);
      env.fake.bookmark();
      await waitFor('bookmark seen', () => env.kube.stats.services.bookmarks >= 1);
      const lists = env.kube.stats.services.lists + env.kube.stats.slices.lists;
      assert.equal(env.fake.dropStreams(), 2);
      env.fake.apply('Service', service({ name: 'b', clusterIP: '10.96.4.2' }));
      await eventually(env, svcName('b'), ['10.96.4.2']);
      // resumed, not relisted
      assert.equal(env.kube.stats.services.lists + env.kube.stats.slices.lists, lists);
      const resumed = env.fake.requests.filter((r) => r.includes('watch=1'));
      assert.ok(resumed.length >= 4);

      // restart: the server goes away (connections refused for a while), changes happen, it comes back
      await env.fake.close();
      env.fake.apply('Service', service({ name: 'a', clusterIP: '10.96.4.9' }));
      await waitFor(
        'a watch error seen',
        () => env.kube.stats.services.errors + env.kube.stats.slices.errors >= 1,
      );
      await env.fake.restart();
      await eventually(env, svcName('a'), ['10.96.4.9']);
      assert.deepEqual(await env.hosts(svcName('b')), ['10.96.4.2']);
    } finally {
      await env.stop();
    }
  });

  test('bearer token required by the server', async () => {
    const fake = new FakeApiServer();
    fake.token = 'sekret';
    await fake.start();
    fake.apply('Service', service({ name: 'tok', clusterIP: '10.96.5.1' }));
    const prefix = `/t${++seq}`;
    const kube = startKube({
      store,
      domain: DOMAIN,
      prefix,
      ipMonitorPath: `${prefix}/monitor/status/`,
      masterUrl: fake.url,
      token: 'sekret',
      debounceMs: 20,
    });
    try {
      await waitFor(
        'record written',
        async () => (await store.list(`${nameToKey(svcName('tok'), prefix)}/`)).kvs.length === 1,
      );
    } finally {
      await kube.stop();
      await fake.close();
    }
  });

  test('two replicas: one writer at a time, the other takes over', async () => {
    const fake = new FakeApiServer();
    await fake.start();
    fake.apply('Service', service({ name: 'r', clusterIP: '10.96.6.1' }));
    const prefix = `/t${++seq}`;
    const common = {
      store,
      domain: DOMAIN,
      prefix,
      ipMonitorPath: `${prefix}/monitor/status/`,
      masterUrl: fake.url,
      debounceMs: 20,
      election: true,
      electionKey: `${prefix}-writer`,
      electionTtlSeconds: 2,
    } as const;
    const k1 = startKube({ ...common, id: 'one' });
    const k2 = startKube({ ...common, id: 'two' });
    try {
      await waitFor(
        'record written',
        async () => (await store.list(`${nameToKey(svcName('r'), prefix)}/`)).kvs.length === 1,
      );
      await waitFor('both synced', () => k1.state() === 'synced' && k2.state() === 'synced');
      const leader = (await store.get(`${prefix}-writer`))?.value;
      assert.ok(leader === 'one' || leader === 'two');
      const [lead, other] = leader === 'one' ? [k1, k2] : [k2, k1];
      await other.reconcileNow();
      await lead.reconcileNow();
      assert.ok(lead.stats.reconciles >= 1);
      assert.equal(other.stats.reconciles, 0, 'the non-leader never reconciled');
      await lead.stop();
      fake.apply('Service', service({ name: 'r', clusterIP: '10.96.6.2' }));
      await waitFor('the other replica writes', async () => {
        const l = await store.list(`${nameToKey(svcName('r'), prefix)}/`);
        return l.kvs.length === 1 && l.kvs[0].value.includes('10.96.6.2');
      });
      // the pass is counted once it has finished, a little after its write lands
      await waitFor("the other replica's pass counted", () => other.stats.reconciles >= 1);
    } finally {
      await k1.stop();
      await k2.stop();
      await fake.close();
    }
  });
  test('a crashed writer (lease not revoked) is replaced within the lease TTL', async () => {
    const fake = new FakeApiServer();
    await fake.start();
    fake.apply('Service', service({ name: 'c', clusterIP: '10.96.7.1' }));
    const prefix = `/t${++seq}`;
    const key = `${prefix}-writer`;
    const g1 = electionGate(store, { key, id: 'one', ttlSeconds: 1 });
    await g1.election.campaign();
    const g2 = electionGate(store, { key, id: 'two', ttlSeconds: 1 });
    const common = {
      store,
      domain: DOMAIN,
      prefix,
      ipMonitorPath: `${prefix}/monitor/status/`,
      masterUrl: fake.url,
      debounceMs: 20,
    };
    const k1 = startKube({ ...common, election: g1 });
    const k2 = startKube({ ...common, election: g2 });
    const name = `${nameToKey(svcName('c'), prefix)}/`;
    try {
      await waitFor('written by one', async () => (await store.list(name)).kvs.length === 1);
      assert.equal(k2.stats.reconciles, 0);
      await g1.election.abandon(); // as a crash: the key stays until the lease expires
      fake.apply('Service', service({ name: 'c', clusterIP: '10.96.7.2' }));
      await waitFor('two took over', async () => {
        const l = await store.list(name);
        return l.kvs.length === 1 && l.kvs[0].value.includes('10.96.7.2');
      });
      assert.equal((await store.get(key))?.value, 'two');
    } finally {
      await k1.stop();
      await k2.stop();
      await fake.close();
    }
  });

  test('startKube(ctx) as bin/hades-kubeapi calls it: a stop function, election on by default', async () => {
    const fake = new FakeApiServer();
    await fake.start();
    fake.apply('Service', service({ name: 'ctx', clusterIP: '10.96.8.1' }));
    const prefix = `/t${++seq}`;
    const ac = new AbortController();
    const logs: string[] = [];
    const logger = {
      debug() {},
      info(_o: object, m: string) {
        logs.push(m);
      },
      warn(_o: object, m: string) {
        logs.push(m);
      },
      error(_o: object, m: string) {
        logs.push(m);
      },
    };
    const stop = await startKube({
      store,
      config: {
        domain: DOMAIN,
        prefix,
        ipMonitorPath: `${prefix}/monitor/status/`,
        kube: { enable: true, masterUrl: fake.url } as { masterUrl: string },
      },
      logger,
      signal: ac.signal,
    });
    try {
      await waitFor(
        'record written',
        async () => (await store.list(`${nameToKey(svcName('ctx'), prefix)}/`)).kvs.length === 1,
      );
      assert.ok(logs.includes('kube: elected writer'));
    } finally {
      ac.abort();
      await stop();
      await fake.close();
    }
  });
});
