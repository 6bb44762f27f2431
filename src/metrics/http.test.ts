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

  it('refuses a port in use', async () => {
    await assert.rejects(startMetricsServer('127.0.0.1', srv.port, localEndpoints(metrics)), /EADDRINUSE/);
  });
});
