/**
 * hades-kubeapi's -metrics-port on the real binary against real etcd and the fake Kubernetes API
 * server: /health and /ready answer; /metrics scraped before and after an API request, a refused
 * token and a Service event: the request, auth-failure, watch-event and records-written counters
 * move, and this replica is the writer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../dns/clients.js';
import { type EtcdProcess, freePort, startEtcd } from '../harness/etcd.js';
import { FakeApiServer, service } from '../kube/fake-apiserver.js';
import { scrape as scrapePort, metricValue as value } from '../lib/scrape.js';
import { type Kubeapi, req, startKubeapi, TOKEN } from './helpers.js';

describe('hades-kubeapi -metrics-port', () => {
  let etcd: EtcdProcess;
  let fake: FakeApiServer;
  let kubeapi: Kubeapi;
  let base: string;
  let metricsPort: number;

  const get = (p: string) => fetch(`http://127.0.0.1:${metricsPort}${p}`);

  before(async () => {
    etcd = await startEtcd();
    fake = new FakeApiServer();
    await fake.start();
    fake.apply('Service', service({ name: 'first', clusterIP: '10.96.8.1' }));
    const port = await freePort();
    metricsPort = await freePort();
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
      '-metrics-port',
      String(metricsPort),
      '-logtostderr',
    ]);
  });

  after(async () => {
    await kubeapi?.stop();
    await fake?.close();
    await etcd?.stop();
  });

  it('/health and /ready answer', async () => {
    const h = await get('/health');
    assert.equal(h.status, 200);
    await waitFor('ready', async () => (await get('/ready')).status === 200);
  });

  it('API requests, auth failures and kube events move their counters', async () => {
    await waitFor('the writer reconciled', async () => {
      const p = await scrapePort(metricsPort);
      return (
        value(p, 'hades_kube_leader') === 1 && value(p, 'hades_kube_records_written_total', { op: 'put' }) > 0
      );
    });
    const before = await scrapePort(metricsPort);
    assert.ok(before.types.has('process_cpu_seconds_total'), 'process metrics');

    const ok = await req(base, 'GET', '/v1/zones', { authorization: `Bearer ${TOKEN}` });
    assert.equal(ok.status, 200);
    const refused = await req(base, 'GET', '/v1/zones', { authorization: 'Bearer not-the-token' });
    assert.equal(refused.status, 401);
    fake.apply('Service', service({ name: 'second', clusterIP: '10.96.8.2' }));

    let after = before;
    await waitFor('the event and its records counted', async () => {
      after = await scrapePort(metricsPort);
      return (
        value(after, 'hades_kube_watch_events_total', { kind: 'services', type: 'ADDED' }) >
          value(before, 'hades_kube_watch_events_total', { kind: 'services', type: 'ADDED' }) &&
        value(after, 'hades_kube_records_written_total', { op: 'health_create' }) >
          value(before, 'hades_kube_records_written_total', { op: 'health_create' })
      );
    });
    const d = (name: string, labels: Record<string, string> = {}) =>
      value(after, name, labels) - value(before, name, labels);
    assert.equal(d('hades_api_requests_total', { method: 'GET', code: '200' }), 1);
    assert.equal(d('hades_api_requests_total', { method: 'GET', code: '401' }), 1);
    assert.equal(d('hades_api_request_duration_seconds_count'), 2);
    assert.equal(d('hades_api_auth_failures_total', { reason: 'rejected' }), 1);
    assert.equal(d('hades_api_rate_limited_total'), 0);
    assert.equal(d('hades_kube_watch_events_total', { kind: 'services', type: 'ADDED' }), 1);
    assert.ok(d('hades_kube_records_written_total', { op: 'put' }) > 0);
    assert.equal(d('hades_kube_records_written_total', { op: 'health_create' }), 1);
    assert.ok(d('hades_kube_reconciles_total', { outcome: 'ok' }) > 0);
    assert.equal(value(after, 'hades_kube_errors_total', { kind: 'services' }), 0);
    assert.equal(value(after, 'hades_kube_leader'), 1);
  });
});
