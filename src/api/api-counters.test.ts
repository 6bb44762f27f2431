/**
 * The API's counters as hades-kubeapi's /metrics shows them (ApiCounters in the request path of
 * server.ts, read by KubeapiMetrics): table-driven requests against a real API server on the
 * embedded store, and the series each must move. The text passes `strictErrors`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KubeapiMetrics } from '../metrics/kubeapi-metrics.js';
import { parsePromText, seriesValue, strictErrors } from '../metrics/prom-text.js';
import { type EmbeddedStore, openEmbeddedStore } from '../store/embedded/embedded.js';
import { ApiCounters } from './api-counters.js';
import { Authenticator, type RateLimiter } from './auth.js';
import { type ApiServer, startApiServer } from './server.js';
import { RecordService } from './service.js';

const RW = 'rw-token-123456';
const RO = 'ro-token-123456';

describe('hades_api_* metrics', () => {
  let dir: string;
  let store: EmbeddedStore;
  let api: ApiServer;
  let base: string;
  let limited = false;
  const counters = new ApiCounters();
  const metrics = new KubeapiMetrics({ processMetrics: false });
  metrics.setApi(counters);

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hades-api-counters-'));
    store = await openEmbeddedStore({ dir });
    api = await startApiServer(
      { host: '127.0.0.1', port: 0, family: 4 },
      {
        service: new RecordService({ store, prefix: '/hades', monitorPath: '/hades/monitor/status/' }),
        domain: 'hades.local.',
        auth: new Authenticator([
          { token: RW, scopes: ['read', 'write'] },
          { token: RO, scopes: ['read'] },
        ]),
        limiter: { take: () => (limited ? 3 : true) } as unknown as RateLimiter,
        counters,
      },
    );
    base = `http://127.0.0.1:${api.port}`;
  });
  after(async () => {
    await api?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function read(): Promise<(name: string, labels?: Record<string, string>) => number> {
    const p = parsePromText(await metrics.registry.metrics());
    assert.deepEqual(strictErrors(p), []);
    return (name, labels = {}) => seriesValue(p, name, labels) ?? 0;
  }

  const req = (method: string, p: string, token?: string, body?: string) =>
    fetch(`${base}${p}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      body,
    }).then(async (r) => {
      await r.text();
      return r.status;
    });

  const REQ = 'hades_api_requests_total';
  const AUTH = 'hades_api_auth_failures_total';
  const cases: {
    name: string;
    send: () => Promise<number>;
    status: number;
    method: string;
    auth?: string;
    limited?: boolean;
  }[] = [
    { name: '/health, open', send: () => req('GET', '/health'), status: 200, method: 'GET' },
    { name: 'a read', send: () => req('GET', '/v1/zones', RO), status: 200, method: 'GET' },
    {
      name: 'a write',
      send: () =>
        req('POST', '/v1/records', RW, '{"name":"www.hades.local","type":"A","address":"10.1.1.1"}'),
      status: 201,
      method: 'POST',
    },
    { name: 'no token', send: () => req('GET', '/v1/zones'), status: 401, method: 'GET', auth: 'missing' },
    {
      name: 'an unknown token',
      send: () => req('DELETE', '/v1/records/www.hades.local', 'nope-nope-nope'),
      status: 401,
      method: 'DELETE',
      auth: 'rejected',
    },
    {
      name: 'a write with a read-only token',
      send: () => req('DELETE', '/v1/records/www.hades.local', RO),
      status: 403,
      method: 'DELETE',
      auth: 'scope',
    },
    { name: 'an unknown path', send: () => req('GET', '/v1/nothing', RO), status: 404, method: 'GET' },
    { name: 'an odd method', send: () => req('PROPFIND', '/hades', RW), status: 405, method: 'other' },
    {
      name: 'rate limited',
      send: async () => {
        limited = true;
        try {
          return await req('GET', '/v1/zones', RO);
        } finally {
          limited = false;
        }
      },
      status: 429,
      method: 'GET',
      limited: true,
    },
  ];

  for (const c of cases)
    it(`${c.name}: ${c.method} ${c.status}`, async () => {
      const before = await read();
      const got = await c.send();
      assert.equal(got, c.status);
      const now = await read();
      const labels = { method: c.method, code: String(c.status) };
      assert.equal(now(REQ, labels) - before(REQ, labels), 1, 'requests_total');
      assert.equal(
        now('hades_api_request_duration_seconds_count') - before('hades_api_request_duration_seconds_count'),
        1,
      );
      assert.ok(
        now('hades_api_request_duration_seconds_sum') > before('hades_api_request_duration_seconds_sum'),
      );
      for (const reason of ['missing', 'rejected', 'scope'])
        assert.equal(now(AUTH, { reason }) - before(AUTH, { reason }), c.auth === reason ? 1 : 0, reason);
      assert.equal(
        now('hades_api_rate_limited_total') - before('hades_api_rate_limited_total'),
        c.limited ? 1 : 0,
      );
    });

  it('the histogram is cumulative and its +Inf bucket is the count', async () => {
    const v = await read();
    const count = v('hades_api_request_duration_seconds_count');
    assert.equal(count, cases.length);
    assert.equal(v('hades_api_request_duration_seconds_bucket', { le: '+Inf' }), count);
    assert.ok(v('hades_api_request_duration_seconds_bucket', { le: '10' }) <= count);
  });

  it('ApiCounters.observe puts a duration in the first bucket it fits', () => {
    const c = new ApiCounters();
    for (const [secs, bucket] of [
      [0.0005, 0],
      [0.001, 0],
      [0.002, 1],
      [10, c.durationBounds.length - 1],
      [11, c.durationBounds.length],
    ] as const) {
      const before = c.durationBuckets[bucket];
      c.observe('GET', 200, secs);
      assert.equal(c.durationBuckets[bucket] - before, 1, String(secs));
    }
    c.observe(undefined, 200, 0);
    assert.equal(c.requests.get('other')?.get(200), 1);
  });
});
