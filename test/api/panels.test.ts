/**
 * The web UI's data endpoints on a real etcd: GET /v1/zones, /v1/scanners (heartbeat keys written
 * by the real Scanner engine, report keys, the Election's lock key), /v1/dns-metrics (stand-in
 * metrics servers on loopback: counting, down, garbage, hanging), `changed` in /v1/health and the
 * OpenAPI document; every one 401 without a token.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Authenticator, RateLimiter } from '../../src/api/auth.js';
import { DnsMetrics } from '../../src/api/dns-metrics.js';
import type { MonitorPaths } from '../../src/api/scanners.js';
import { type ApiServer, startApiServer } from '../../src/api/server.js';
import { RecordService } from '../../src/api/service.js';
import { silentLogger } from '../../src/config/logger.js';
import { Scanner } from '../../src/health/scanner.js';
import { Election } from '../../src/store/election.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { type EtcdProcess, freePort, startEtcd } from '../harness/etcd.js';
import { waitFor } from '../lib/wait.js';
import { TOKEN } from './helpers.js';
import { validateOpenApi } from './openapi-check.js';

const PATHS: MonitorPaths = { heartPath: '/p/heart/', reportPath: '/p/report/', lockPath: '/p/lock' };
const STATUS = '/hades/monitor/status/';

/** A stand-in /metrics: hades's families with counters the test moves. */
function metricsText(requests: number): string {
  return [
    '# HELP hades_requests_total DNS requests received, by transport and query type.',
    '# TYPE hades_requests_total counter',
    `hades_requests_total{protocol="udp",type="A"} ${requests - 2}`,
    'hades_requests_total{protocol="tcp",type="AAAA"} 2',
    '# TYPE hades_responses_total counter',
    `hades_responses_total{protocol="udp",rcode="NOERROR"} ${requests - 3}`,
    'hades_responses_total{protocol="tcp",rcode="NOERROR"} 1',
    'hades_responses_total{protocol="udp",rcode="NXDOMAIN"} 2',
    '# TYPE hades_cache_hits_total counter',
    'hades_cache_hits_total 3',
    '# TYPE hades_cache_misses_total counter',
    'hades_cache_misses_total 1',
    '',
  ].join('\n');
}

async function listen(handler: http.RequestListener): Promise<http.Server> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}
const portOf = (s: http.Server): number => (s.address() as AddressInfo).port;

describe('web UI endpoints: /v1/zones, /v1/scanners, /v1/dns-metrics, changed', () => {
  let etcd: EtcdProcess;
  let store: Store;
  let api: ApiServer;
  let bare: ApiServer;
  let base: string;
  let requests = 100;
  const servers: http.Server[] = [];
  const auth = { authorization: `Bearer ${TOKEN}` };
  let deadPort: number;

  before(async () => {
    etcd = await startEtcd();
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    const counting = await listen((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(metricsText(requests));
    });
    const garbage = await listen((_req, res) => res.end('<html>not metrics</html>\n'));
    const hanging = await listen(() => {
      // never answers
    });
    const notFound = await listen((_req, res) => {
      res.statusCode = 404;
      res.end('no\n');
    });
    servers.push(counting, garbage, hanging, notFound);
    deadPort = await freePort();
    const service = new RecordService({ store, prefix: '/hades', monitorPath: STATUS });
    const common = {
      service,
      domain: 'hades.local.',
      auth: new Authenticator([{ token: TOKEN, scopes: ['read', 'write'] }]),
      limiter: new RateLimiter(0, 1),
    };
    api = await startApiServer(
      { host: '127.0.0.1', port: 0, family: 4 },
      {
        ...common,
        monitor: PATHS,
        dnsMetrics: new DnsMetrics({
          targets: [counting, garbage, hanging, notFound]
            .map((s) => ({ host: '127.0.0.1', port: portOf(s) }))
            .concat([{ host: '127.0.0.1', port: deadPort }]),
          timeoutMs: 500,
          minIntervalMs: 0,
        }),
      },
    );
    bare = await startApiServer({ host: '127.0.0.1', port: 0, family: 4 }, common);
    base = `http://127.0.0.1:${api.port}`;
  });

  after(async () => {
    await api?.close();
    await bare?.close();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
    await store?.close();
    await etcd?.stop();
  });

  const get = async (p: string, headers: Record<string, string> = auth, at = base) => {
    const res = await fetch(`${at}${p}`, { headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('every new endpoint needs a token (401), a read token is enough', async () => {
    for (const p of ['/v1/zones', '/v1/scanners', '/v1/dns-metrics', '/v1/health']) {
      assert.equal((await get(p, {})).status, 401, p);
      assert.equal((await get(p, { authorization: 'Bearer wrong-token-123' })).status, 401, p);
    }
    for (const p of ['/ui', '/ui/app.js', '/ui/app.css'])
      assert.equal((await fetch(`${base}${p}`)).status, 200, `${p} loads without a token`);
  });

  it('/v1/zones: the domain and the reverse trees', async () => {
    const r = await get('/v1/zones');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      zones: [
        { name: 'hades.local.', kind: 'forward' },
        { name: 'in-addr.arpa.', kind: 'reverse' },
        { name: 'ip6.arpa.', kind: 'reverse' },
      ],
    });
  });

  it('/v1/health returns changed when the status has it', async () => {
    await store.put(
      `${STATUS}10.1.0.1`,
      '{"status":"DOWN","ports":["80"],"changed":"2026-11-25T18:00:00.000Z"}',
    );
    await store.put(`${STATUS}10.1.0.2`, '{"status":"UP"}');
    const all = (await get('/v1/health')).body.health as Record<string, unknown>[];
    assert.deepEqual(
      all.filter((h) => String(h.ip).startsWith('10.1.0.')),
      [
        { ip: '10.1.0.1', status: 'DOWN', ports: ['80'], changed: '2026-11-25T18:00:00.000Z' },
        { ip: '10.1.0.2', status: 'UP' },
      ],
    );
    assert.deepEqual((await get('/v1/health/10.1.0.1')).body, {
      ip: '10.1.0.1',
      status: 'DOWN',
      ports: ['80'],
      changed: '2026-11-25T18:00:00.000Z',
    });
  });

  it('/v1/scanners: live scanners with heartbeat age and assigned counts, the active scheduler', async () => {
    // nothing yet
    let r = await get('/v1/scanners');
    assert.deepEqual(r.body, { scanners: [], unassigned: 0, scheduler: null, paths: PATHS });

    const scanner = (hostname: string) =>
      new Scanner({
        store,
        hostname,
        statusPath: STATUS,
        reportPath: PATHS.reportPath,
        heartPath: PATHS.heartPath,
        heartbeatIntervalMs: 500,
        checkTimeoutMs: 100,
        checkIntervalMs: 60_000,
        scanPorts: [],
        enableIcmp: false,
        pingTimeoutMs: 100,
        pingCount: 1,
        fall: 3,
        rise: 2,
        maxConcurrency: 4,
        logger: silentLogger,
        probes: { tcp: async () => ({ ok: true, reason: 'connected', class: 'ok' }) },
      });
    const a = scanner('scan-a');
    const b = scanner('scan-b');
    const election = new Election(store, PATHS.lockPath, `sched-1#${process.pid}`, { ttlSeconds: 5 });
    try {
      await a.start();
      await b.start();
      for (const ip of ['10.2.0.1', '10.2.0.2', '10.2.0.3'])
        await store.put(`${PATHS.reportPath}${ip}`, '{"hostname":"scan-a"}');
      await store.put(`${PATHS.reportPath}10.2.0.4`, '{"hostname":"scan-b"}');
      await store.put(`${PATHS.reportPath}10.2.0.5`, '{"hostname":"gone"}');
      await store.put(`${PATHS.reportPath}10.2.0.6`, 'not json');
      await store.put(`${PATHS.reportPath}sub/10.2.0.7`, '{"hostname":"scan-a"}'); // not a report key
      await election.campaign();
      // the heartbeat value is renewed every 500 ms: its age stays small
      const heartA = JSON.parse((await store.get(`${PATHS.heartPath}scan-a`))?.value ?? '{}');
      await waitFor('a renewal', async () => {
        const v = JSON.parse((await store.get(`${PATHS.heartPath}scan-a`))?.value ?? '{}');
        return v.renewed !== heartA.renewed;
      });
      r = await get('/v1/scanners');
      assert.equal(r.status, 200);
      const sc = r.body.scanners as Record<string, unknown>[];
      assert.deepEqual(
        sc.map((s) => [s.hostname, s.live, s.assigned, s.pid]),
        [
          ['gone', false, 1, undefined],
          ['scan-a', true, 3, process.pid],
          ['scan-b', true, 1, process.pid],
        ],
      );
      for (const s of sc.filter((x) => x.live)) {
        assert.equal(typeof s.heartbeatAgeSeconds, 'number');
        assert.ok((s.heartbeatAgeSeconds as number) >= 0);
        assert.ok(typeof s.renewed === 'string' && typeof s.since === 'string');
      }
      assert.equal(sc[0].heartbeatAgeSeconds, undefined);
      assert.equal(r.body.unassigned, 1);
      assert.deepEqual(r.body.scheduler, {
        id: `sched-1#${process.pid}`,
        hostname: 'sched-1',
        pid: process.pid,
      });

      // a heartbeat written by hand without "renewed" (an older scanner): no age
      await store.put(`${PATHS.heartPath}old-scanner`, '{"hostname":"old-scanner"}');
      const old = ((await get('/v1/scanners')).body.scanners as Record<string, unknown>[]).find(
        (s) => s.hostname === 'old-scanner',
      );
      assert.deepEqual(old, { hostname: 'old-scanner', live: true, assigned: 0 });

      // a stopped scanner's key goes with its lease; the scheduler resigns: none
      await b.stop();
      await election.resign();
      r = await get('/v1/scanners');
      const names = (r.body.scanners as Record<string, unknown>[]).map((s) => `${s.hostname}:${s.live}`);
      assert.deepEqual(names, ['gone:false', 'old-scanner:true', 'scan-a:true', 'scan-b:false']);
      assert.equal(r.body.scheduler, null);
    } finally {
      await a.stop();
      await b.stop();
      await election.resign().catch(() => {});
    }
  });

  it('/v1/dns-metrics: per server and in total; down servers say why; queries/s from two scrapes', async () => {
    const first = await get('/v1/dns-metrics');
    assert.equal(first.status, 200);
    assert.equal(first.body.configured, true);
    const s1 = first.body.servers as Record<string, unknown>[];
    assert.equal(s1.length, 5);
    assert.deepEqual(s1[0], {
      server: `127.0.0.1:${portOf(servers[0])}`,
      up: true,
      queriesPerSecond: null, // one scrape: no rate yet
      requests: 100,
      responses: { NOERROR: 98, NXDOMAIN: 2 },
      cacheHits: 3,
      cacheMisses: 1,
      cacheHitRatio: 0.75,
    });
    const why = s1.slice(1).map((s) => [s.up, s.error]);
    assert.equal(why[0][0], false);
    assert.match(String(why[0][1]), /not Prometheus text: line 1/);
    assert.match(String(why[1][1]), /no answer within 500 ms/);
    assert.match(String(why[2][1]), /HTTP 404/);
    assert.match(String(why[3][1]), /ECONNREFUSED/);
    assert.equal((first.body.total as Record<string, unknown>).up, 1);
    assert.equal((first.body.total as Record<string, unknown>).down, 4);

    requests += 50;
    const second = await get('/v1/dns-metrics');
    const s2 = (second.body.servers as Record<string, unknown>[])[0];
    assert.equal(s2.requests, 150);
    assert.ok((s2.queriesPerSecond as number) > 0, `queries/s ${s2.queriesPerSecond}`);
    const total = second.body.total as Record<string, unknown>;
    assert.equal(total.requests, 150);
    assert.equal(total.queriesPerSecond, s2.queriesPerSecond);
    assert.deepEqual(total.responses, { NOERROR: 148, NXDOMAIN: 2 });
    assert.equal(total.cacheHitRatio, 0.75);

    // a counter that went back (a restart): no rate rather than a negative one
    requests = 10;
    const third = await get('/v1/dns-metrics');
    assert.equal((third.body.servers as Record<string, unknown>[])[0].queriesPerSecond, null);
  });

  it('/v1/dns-metrics without configured servers', async () => {
    const r = await get('/v1/dns-metrics', auth, `http://127.0.0.1:${bare.port}`);
    assert.deepEqual(r.body, { configured: false, servers: [] });
  });

  it('the OpenAPI document describes them and stays valid', async () => {
    const doc = (await get('/v1/openapi.json', {})).body as { paths: Record<string, unknown> };
    assert.deepEqual(validateOpenApi(doc), []);
    for (const p of ['/v1/zones', '/v1/scanners', '/v1/dns-metrics']) assert.ok(doc.paths[p], p);
    const health = (doc as unknown as { components: { schemas: { Health: { properties: object } } } })
      .components.schemas.Health.properties;
    assert.ok('changed' in health);
  });
});
