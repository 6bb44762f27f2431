/**
 * hades-kubeapi with kube-enable = YES and api-enable = YES in one process: the watcher (src/kube)
 * writes a Service from a fake API server (real list/watch protocol), the API shows it, refuses
 * to change it, and user records written through the API sit beside it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { waitFor } from '../dns/clients.js';
import { type EtcdProcess, freePort, startEtcd } from '../harness/etcd.js';
import { FakeApiServer, service } from '../kube/fake-apiserver.js';
import { apicmd, JSON_HEADERS, type Kubeapi, req, startKubeapi, TOKEN } from './helpers.js';

describe('hades-kubeapi: Kubernetes watcher and API together', () => {
  let etcd: EtcdProcess;
  let store: Store;
  let fake: FakeApiServer;
  let kubeapi: Kubeapi;
  let base: string;

  before(async () => {
    etcd = await startEtcd();
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    fake = new FakeApiServer();
    await fake.start();
    fake.apply(
      'Service',
      service({ name: 'qiyf-nginx-5', clusterIP: '192.168.19.113', ports: [{ name: 'http', port: 80 }] }),
    );
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    kubeapi = await startKubeapi([
      '-config-file',
      '',
      '-etcd-server',
      etcd.endpoint,
      '-kube-enable',
      'YES',
      '-kube-master-url',
      fake.url,
      '-api-address',
      `127.0.0.1:${port}`,
      '-hades-auth',
      TOKEN,
      '-logtostderr',
    ]);
  });

  after(async () => {
    await kubeapi?.stop();
    await fake?.close();
    await store?.close();
    await etcd?.stop();
  });

  it('the service shows through the API and apicmd; the API does not change it', async () => {
    const env = { HADES_API_ADDR: base, HADES_API_TOKEN: TOKEN };
    await waitFor('the watcher to write the service', async () => {
      const r = await req(base, 'GET', '/hades', { token: TOKEN, domain: 'qiyf-nginx-5.default' });
      return r.status === 200;
    });
    const show = await apicmd(['-show', 'qiyf-nginx-5.default'], env);
    assert.equal(
      show.stdout,
      'domain:  qiyf-nginx-5.default.svc.hades.local  val: { type:A  ips:[192.168.19.113] }\n',
    );
    const w = await req(
      base,
      'POST',
      '/hades',
      { ...JSON_HEADERS, token: TOKEN, domain: 'qiyf-nginx-5.default.svc.hades.local' },
      '{"type":"A","ips":["10.0.0.1"]}',
    );
    assert.equal(w.status, 403, w.text);
    const u = await req(
      base,
      'POST',
      '/hades',
      { ...JSON_HEADERS, token: TOKEN, domain: 'cctv1' },
      '{"type":"A","ips":["192.168.10.1"]}',
    );
    assert.equal(u.status, 200, u.text);
    // a new service arrives by watch; the user record stays
    fake.apply('Service', service({ name: 'web', clusterIP: '10.96.0.10' }));
    await waitFor(
      'web.default',
      async () => (await req(base, 'GET', '/hades', { token: TOKEN, domain: 'web.default' })).status === 200,
    );
    const list = await apicmd(['-list'], env);
    assert.match(list.stdout, /cctv1\.user\.hades\.local {2}val: \{ type:A {2}ips:\[192\.168\.10\.1\] \}/);
    assert.match(
      list.stdout,
      /web\.default\.svc\.hades\.local {2}val: \{ type:A {2}ips:\[10\.96\.0\.10\] \}/,
    );
  });
});
