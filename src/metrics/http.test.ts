import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { localEndpoints } from './cluster.js';
import { HadesMetrics } from './hades-metrics.js';
import { type MetricsHttpServer, startMetricsServer } from './http.js';
import { parsePromText, seriesValue, strictErrors } from './prom-text.js';

describe('metrics HTTP server', () => {
  let srv: MetricsHttpServer;
  const catalog = {
    ready: false,
    revision: 7,
    recordCount: 3,
    watchState: 'listing',
    lastEventAt: 0,
    stats: { invalidRecords: 0, invalidHealth: 0, invalidTopology: 0, lists: 0, compactions: 0, failures: 0 },
  };
  const metrics = new HadesMetrics({ version: 'test', processMetrics: false });
  metrics.setCatalog(catalog);

  before(async () => {
    srv = await startMetricsServer('127.0.0.1', 0, localEndpoints(metrics));
  });
  after(async () => {
    await srv.close();
  });

  const get = (path: string, method = 'GET') => fetch(`http://127.0.0.1:${srv.port}${path}`, { method });

  it('/health is 200 while the process runs; /ready 503 until the catalog is ready, then 200', async () => {
    assert.equal((await get('/health')).status, 200);
    const r = await get('/ready');
    assert.equal(r.status, 503);
    assert.match(await r.text(), /not ready/);
    catalog.ready = true;
    assert.equal((await get('/ready')).status, 200);
    assert.equal((await get('/ready', 'HEAD')).status, 200);
  });

  it('/metrics serves the text format', async () => {
    catalog.watchState = 'connected';
    const r = await get('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const p = parsePromText(await r.text());
    assert.deepEqual(strictErrors(p), []);
    assert.equal(seriesValue(p, 'hades_catalog_records'), 3);
    assert.equal(seriesValue(p, 'hades_catalog_watch_state', { state: 'connected' }), 1);
    assert.equal(seriesValue(p, 'hades_catalog_seconds_since_last_event'), undefined, 'no event yet');
  });

  it('404 elsewhere, 405 for other methods', async () => {
    assert.equal((await get('/')).status, 404);
    assert.equal((await get('/metrics/x')).status, 404);
    const r = await get('/metrics', 'POST');
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
  });

  it('/explain: 503 before a handler, then the handler JSON; 400 naming a bad parameter', async () => {
    const before = await get('/explain?name=web.hades.local&client=10.0.0.1');
    assert.equal(before.status, 503);
    const seen: object[] = [];
    metrics.setHandler({
      stats: { failOpen: 0, allDownClosed: 0, errors: 0 },
      explain(params) {
        seen.push(params);
        if (params.client === 'bad')
          throw Object.assign(new Error('client: "bad" is not an IP address'), { field: 'client' });
        return { chosen: ['10.0.0.9'] };
      },
    });
    const ok = await get('/explain?name=web.hades.local&type=AAAA&client=10.0.0.1&ecs=10.0.0.0/24&other=x');
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await ok.json(), { chosen: ['10.0.0.9'] });
    assert.deepEqual(seen[0], {
      name: 'web.hades.local',
      type: 'AAAA',
      client: '10.0.0.1',
      ecs: '10.0.0.0/24',
    });
    const bad = await get('/explain?name=web.hades.local&client=bad');
    assert.equal(bad.status, 400);
    assert.deepEqual(await bad.json(), { error: 'client: "bad" is not an IP address', field: 'client' });
    assert.equal((await get('/explain', 'POST')).status, 405);
    // a metrics port without explain (the other programs') has none
    const plain = await startMetricsServer('127.0.0.1', 0, {
      metrics: async () => ({ contentType: 'text/plain', body: '' }),
      ready: async () => ({ ready: true }),
    });
    try {
      assert.equal((await fetch(`http://127.0.0.1:${plain.port}/explain?name=a`)).status, 404);
    } finally {
      await plain.close();
    }
  });

  it('refuses a port in use', async () => {
    await assert.rejects(startMetricsServer('127.0.0.1', srv.port, localEndpoints(metrics)), /EADDRINUSE/);
  });
});
