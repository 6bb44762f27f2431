/**
 * End to end: fake API server → startKube → real etcd → a real `hades` child → dig.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type KubeHandle, startKube } from '../../src/kube/index.js';
import type { Store } from '../../src/store/types.js';
import { dig, parseDig, rrset, waitFor } from '../dns/clients.js';
import { etcdArgs, freeDnsPort, type HadesProc, startEtcdStore, startHades } from '../dns/hades-proc.js';
import type { EtcdProcess } from '../harness/etcd.js';
import { endpointSlice, FakeApiServer, service } from './fake-apiserver.js';

let etcd: EtcdProcess;
let store: Store;
let hades: HadesProc;
let port: number;
let fake: FakeApiServer;
let kube: KubeHandle;

before(async () => {
  ({ etcd, store } = await startEtcdStore(async () => {}));
  fake = new FakeApiServer();
  await fake.start();
  fake.apply(
    'Service',
    service({ name: 'qiyf-nginx-5', clusterIP: '192.168.19.113', ports: [{ name: 'http', port: 80 }] }),
  );
  fake.apply('Service', service({ name: 'dual', clusterIPs: ['10.96.0.20', 'fd00:10:96::20'] }));
  fake.apply('Service', service({ name: 'db', clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }));
  fake.apply(
    'EndpointSlice',
    endpointSlice(
      'db',
      [{ ip: '172.0.0.2' }, { ip: '172.0.0.3', hostname: 'db-0' }, { ip: '172.0.0.4', ready: false }],
      { ports: [{ name: 'pg', port: 5432 }] },
    ),
  );
  fake.apply('Service', service({ name: 'ext', externalName: 'www.example.com' }));
  kube = startKube({
    store,
    domain: 'hades.local.',
    prefix: '/hades',
    ipMonitorPath: '/hades/monitor/status/',
    masterUrl: fake.url,
    svcIpSource: 'clusterIP',
    debounceMs: 20,
  });
  await waitFor('kube synced', () => kube.state() === 'synced');
  await kube.reconcileNow();
  port = await freeDnsPort();
  hades = await startHades(etcdArgs(port, etcd, [], 'hades.local.,in-addr.arpa.,ip6.arpa.'), port);
});

after(async () => {
  await hades?.stop();
  await kube?.stop();
  await fake?.close();
  await store?.close();
  await etcd?.stop();
});

async function q(name: string, type: string) {
  return parseDig((await dig(port, [name, type])).stdout);
}

test('ClusterIP, dual-stack, SRV, PTR, dns-version through dig', async () => {
  const a = await q('qiyf-nginx-5.default.svc.hades.local', 'A');
  assert.equal(a.status, 'NOERROR');
  assert.deepEqual(rrset(a.answer), ['A 192.168.19.113']);
  assert.deepEqual(rrset((await q('dual.default.svc.hades.local', 'AAAA')).answer), ['AAAA fd00:10:96::20']);
  assert.deepEqual(rrset((await q('dual.default.svc.hades.local', 'A')).answer), ['A 10.96.0.20']);
  const srv = await q('_http._tcp.qiyf-nginx-5.default.svc.hades.local', 'SRV');
  assert.equal(srv.answer.length, 1);
  assert.match(srv.answer[0].data, / 80 qiyf-nginx-5\.default\.svc\.hades\.local\.$/);
  assert.deepEqual(rrset((await q('113.19.168.192.in-addr.arpa', 'PTR')).answer), [
    'PTR qiyf-nginx-5.default.svc.hades.local.',
  ]);
  assert.deepEqual(rrset((await q('dns-version.hades.local', 'TXT')).answer), ['TXT "1.1.0"']);
});

test('headless: every ready endpoint at once, per-endpoint names; ExternalName CNAME', async () => {
  const all = await q('db.default.svc.hades.local', 'A');
  assert.deepEqual(rrset(all.answer), ['A 172.0.0.2', 'A 172.0.0.3']);
  assert.deepEqual(rrset((await q('db-0.db.default.svc.hades.local', 'A')).answer), ['A 172.0.0.3']);
  assert.deepEqual(rrset((await q('172-0-0-2.db.default.svc.hades.local', 'A')).answer), ['A 172.0.0.2']);
  assert.equal((await q('172-0-0-4.db.default.svc.hades.local', 'A')).status, 'NXDOMAIN');
  const srv = await q('_pg._tcp.db.default.svc.hades.local', 'SRV');
  assert.deepEqual(srv.answer.map((r) => r.data.split(' ').slice(2).join(' ')).sort(), [
    '5432 172-0-0-2.db.default.svc.hades.local.',
    '5432 db-0.db.default.svc.hades.local.',
  ]);
  const cname = await q('ext.default.svc.hades.local', 'A');
  assert.deepEqual(rrset(cname.answer, 'CNAME'), ['CNAME www.example.com.']);
});

test('a change in the cluster reaches DNS', async () => {
  fake.apply(
    'Service',
    service({ name: 'qiyf-nginx-5', clusterIP: '192.168.19.114', ports: [{ name: 'http', port: 80 }] }),
  );
  await waitFor('new address answered', async () => {
    const a = await q('qiyf-nginx-5.default.svc.hades.local', 'A');
    return JSON.stringify(rrset(a.answer)) === JSON.stringify(['A 192.168.19.114']);
  });
  fake.remove('Service', 'default', 'dual');
  await waitFor(
    'deleted service gone',
    async () => (await q('dual.default.svc.hades.local', 'A')).status === 'NXDOMAIN',
  );
});
