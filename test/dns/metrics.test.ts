/**
 * -metrics-port on the real `hades` binary (real etcd, a loopback upstream for forwarded names):
 * /health and /ready, and /metrics scraped before and after a mix of queries (local, NXDOMAIN,
 * TCP, forwarded, an all-DOWN name) to see the named series move; -log-queries lines; /ready 503
 * while the store is unreachable; and with -workers 2, one scrape that sums both workers.
 * All traffic is on 127.0.0.1; -nameservers is always given.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RRType } from '../../src/dns/wire/constants.js';
import { decode } from '../../src/dns/wire/decode.js';
import { encodeQuery } from '../../src/dns/wire/encode.js';
import {
  type PromText,
  parsePromText,
  seriesValue,
  strictErrors,
  sumOf,
} from '../../src/metrics/prom-text.js';
import type { Store } from '../../src/store/types.js';
import { dig, digStatus, frame, TcpClient, waitFor } from './clients.js';
import {
  type EtcdHades,
  freeDnsPort,
  type HadesProc,
  NO_UPSTREAM,
  spawnHades,
  startEtcdHades,
} from './hades-proc.js';
import { testRecords } from './records.js';
import { type FakeUpstream, startUpstream } from './upstream.js';

async function scrape(port: number): Promise<PromText> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(r.status, 200);
  const p = parsePromText(await r.text());
  assert.deepEqual(strictErrors(p), []);
  return p;
}

async function status(port: number, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
}

/** The `query` lines of -log-queries in a child's stderr. */
function queryLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.includes('"msg":"query"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const v = (p: PromText, name: string, labels: Record<string, string> = {}): number =>
  seriesValue(p, name, labels) ?? 0;

describe('hades -metrics-port', () => {
  let fx: EtcdHades;
  let store: Store;
  let up: FakeUpstream;
  let h: HadesProc;
  let port: number;
  let mport: number;

  before(async () => {
    up = await startUpstream({
      answer: (q) => ({ answers: [{ name: q.name, type: RRType.A, ttl: 60, data: '192.0.2.53' }] }),
    });
    mport = await freeDnsPort();
    fx = await startEtcdHades([
      '-nameservers',
      up.address,
      '-metrics-port',
      String(mport),
      '-log-queries',
      '-logtostderr',
    ]);
    ({ store, hades: h, port } = fx);
  });

  after(async () => {
    await fx?.stop();
    await up?.close();
  });

  it('/health and /ready are 200 once answering; elsewhere 404', async () => {
    assert.equal(await status(mport, '/health'), 200);
    assert.equal(await status(mport, '/ready'), 200);
    assert.equal(await status(mport, '/nope'), 404);
  });

  it('the named series move with queries', async () => {
    const a = await scrape(mport);
    const records = testRecords().filter(([k]) => !k.startsWith('/hades/monitor/')).length;
    assert.equal(v(a, 'hades_catalog_records'), records);
    assert.ok(v(a, 'hades_catalog_revision') > 0);
    assert.equal(v(a, 'hades_catalog_ready'), 1);
    assert.equal(v(a, 'hades_ready'), 1);
    assert.equal(v(a, 'hades_catalog_watch_state', { state: 'connected' }), 1);
    assert.ok(seriesValue(a, 'hades_catalog_seconds_since_last_event') !== undefined);
    assert.equal(v(a, 'hades_cache_hits_total'), 0, 'no cache yet: zero');

    // local (UDP A x3, AAAA), NXDOMAIN, TCP TXT, forwarded (UDP), an unknown type
    for (let i = 0; i < 3; i++)
      assert.equal(digStatus((await dig(port, ['web.hades.local', 'A'])).stdout), 'NOERROR');
    assert.equal(digStatus((await dig(port, ['web6.hades.local', 'AAAA'])).stdout), 'NOERROR');
    assert.equal(digStatus((await dig(port, ['nope.hades.local', 'A'])).stdout), 'NXDOMAIN');
    assert.equal(digStatus((await dig(port, ['+tcp', 'txt.hades.local', 'TXT'])).stdout), 'NOERROR');
    assert.equal(digStatus((await dig(port, ['www.example.com', 'A'])).stdout), 'NOERROR');
    assert.equal(digStatus((await dig(port, ['web.hades.local', 'TYPE65000'])).stdout), 'NOERROR');
    // every address of multi.hades.local DOWN (10.0.1.2 already is): fail-open, counted
    await store.put('/hades/monitor/status/10.0.1.1', '{"status":"DOWN"}');
    await store.put('/hades/monitor/status/10.0.1.3', '{"status":"DOWN"}');
    const allDown0 = v(a, 'hades_selection_all_down_total');
    await waitFor('hades_selection_all_down_total to move', async () => {
      await dig(port, ['multi.hades.local', 'A']);
      return v(await scrape(mport), 'hades_selection_all_down_total') > allDown0;
    });

    const b = await scrape(mport);
    const moved = (name: string, labels: Record<string, string> = {}): number =>
      v(b, name, labels) - v(a, name, labels);
    assert.ok(moved('hades_requests_total', { protocol: 'udp', type: 'A' }) >= 4 + 1 + 1, 'udp A');
    assert.equal(moved('hades_requests_total', { protocol: 'udp', type: 'AAAA' }), 1);
    assert.equal(moved('hades_requests_total', { protocol: 'tcp', type: 'TXT' }), 1);
    assert.equal(moved('hades_requests_total', { protocol: 'udp', type: 'other' }), 1);
    assert.equal(moved('hades_responses_total', { protocol: 'udp', rcode: 'NXDOMAIN' }), 1);
    assert.equal(moved('hades_responses_total', { protocol: 'tcp', rcode: 'NOERROR' }), 1);
    assert.ok(moved('hades_responses_total', { protocol: 'udp', rcode: 'NOERROR' }) >= 7);
    const requests = (sumOf(b, 'hades_requests_total') ?? 0) - (sumOf(a, 'hades_requests_total') ?? 0);
    assert.ok(moved('hades_request_duration_seconds_count') >= 9);
    assert.equal(
      v(b, 'hades_request_duration_seconds_count'),
      v(b, 'hades_request_duration_seconds_bucket', { le: '+Inf' }),
    );
    assert.ok(requests >= moved('hades_request_duration_seconds_count'));
    assert.ok(moved('hades_request_duration_seconds_sum') > 0);
    assert.equal(moved('hades_forward_queries_total'), 1);
    assert.equal(moved('hades_forward_requests_total', { to: up.address }), 1);
    assert.equal(moved('hades_forward_duration_seconds_count', { to: up.address }), 1);
    assert.equal(v(b, 'hades_forward_upstream_up', { to: up.address }), 1);
    assert.ok(moved('hades_selection_all_down_total') >= 1);
    assert.ok(moved('hades_catalog_revision') >= 2, 'the two status writes');

    // -log-queries: one line per reply, written after it (wait for the last query's line)
    await waitFor('the query log line of the last query', () =>
      queryLines(h.stderr()).some((l) => l.qname === 'multi.hades.local.'),
    );
    const lines = queryLines(h.stderr());
    const web = lines.find((l) => l.qname === 'web.hades.local.' && l.qtype === 'A');
    assert.ok(web, 'a line for web.hades.local A');
    assert.equal(web.rcode, 'NOERROR');
    assert.equal(web.answers, 1);
    assert.equal(web.protocol, 'udp');
    assert.equal(web.client, '127.0.0.1');
    assert.equal(typeof web.durationUs, 'number');
    assert.ok(
      lines.some((l) => l.qname === 'nope.hades.local.' && l.rcode === 'NXDOMAIN' && l.answers === 0),
    );
    assert.ok(lines.some((l) => l.qname === 'www.example.com.' && l.answers === 1));
    assert.ok(lines.some((l) => l.qname === 'txt.hades.local.' && l.protocol === 'tcp'));
  });
});

describe('hades -metrics-port: /ready before the store is reachable', () => {
  it('/health 200 and /ready 503 while the catalog has not listed', async () => {
    const port = await freeDnsPort();
    const mport = await freeDnsPort();
    const deadEtcd = await freeDnsPort(); // nothing listens there
    const h = spawnHades([
      '-addr',
      `127.0.0.1:${port}`,
      '-machines',
      `http://127.0.0.1:${deadEtcd}`,
      '-nameservers',
      NO_UPSTREAM,
      '-metrics-port',
      String(mport),
    ]);
    try {
      await waitFor('/health', async () => {
        try {
          return (await status(mport, '/health')) === 200;
        } catch {
          return false;
        }
      });
      assert.equal(await status(mport, '/ready'), 503);
      const p = await scrape(mport);
      assert.equal(v(p, 'hades_ready'), 0);
    } finally {
      await h.stop('SIGKILL');
    }
  });
});

describe('hades -workers 2 -metrics-port', () => {
  let fx: EtcdHades;
  let h: HadesProc;
  let port: number;
  let mport: number;

  before(async () => {
    mport = await freeDnsPort();
    fx = await startEtcdHades([
      '-nameservers',
      NO_UPSTREAM,
      '-workers',
      '2',
      '-metrics-port',
      String(mport),
      '-log-queries',
      '-logtostderr',
    ]);
    ({ hades: h, port } = fx);
    await waitFor('both workers ready', async () => (await status(mport, '/ready')) === 200);
  });

  after(async () => {
    await fx?.stop();
  });

  it('/explain is asked of a worker: the answer a client gets, and 400 naming a bad parameter', async () => {
    const r = await fetch(`http://127.0.0.1:${mport}/explain?name=web.hades.local&type=A&client=127.0.0.9`);
    assert.equal(r.status, 200);
    const e = (await r.json()) as { rcode: string; chosen: string[]; answer: { data: string }[] };
    assert.equal(e.rcode, 'NOERROR');
    const got = await dig(port, ['-b', '127.0.0.9', 'web.hades.local', 'A', '+short']);
    assert.deepEqual(e.chosen, got.stdout.trim().split('\n'));
    const bad = await fetch(`http://127.0.0.1:${mport}/explain?name=web.hades.local&client=x`);
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { field: string }).field, 'client');
  });

  it('one scrape shows the sum across workers', async () => {
    const a = await scrape(mport);
    assert.equal(v(a, 'hades_workers'), 2);
    assert.equal(v(a, 'hades_workers_expected'), 2);
    assert.equal(v(a, 'hades_ready'), 1);
    const records = testRecords().filter(([k]) => !k.startsWith('/hades/monitor/')).length;
    assert.equal(v(a, 'hades_catalog_records'), records, 'each worker holds every record: not summed');
    assert.equal(v(a, 'hades_catalog_watch_state', { state: 'connected' }), 2);
    // the workers' process metrics under their standard names; the start time kept (prom-client
    // alone omits it from an aggregate): the latest worker's, so within this test's lifetime
    assert.ok(v(a, 'process_cpu_seconds_total') > 0);
    assert.ok(v(a, 'process_resident_memory_bytes') > 0);
    const started = v(a, 'process_start_time_seconds');
    assert.ok(started > Date.now() / 1000 - 600 && started <= Date.now() / 1000 + 1, String(started));
    // new TCP connections: the primary deals them round-robin, so both workers answer some
    const n = 10;
    for (let i = 0; i < n; i++) {
      const c = await TcpClient.connect(port);
      try {
        await c.write(frame(encodeQuery({ id: 500 + i, name: 'web.hades.local.', type: RRType.A })));
        assert.equal(decode((await c.waitFrames(1))[0]).rcode, 0);
      } finally {
        c.destroy();
      }
    }
    const b = await scrape(mport);
    assert.equal(
      v(b, 'hades_requests_total', { protocol: 'tcp', type: 'A' }) -
        v(a, 'hades_requests_total', { protocol: 'tcp', type: 'A' }),
      n,
    );
    assert.equal(
      v(b, 'hades_responses_total', { protocol: 'tcp', rcode: 'NOERROR' }) -
        v(a, 'hades_responses_total', { protocol: 'tcp', rcode: 'NOERROR' }),
      n,
    );
    // the query log says which worker answered: both did, so the total above is a sum. A worker
    // writes its line after the answer, and it reaches us through the primary's stderr: wait for
    // all n (a missing one times out; one too many fails below)
    const tcpLines = () =>
      queryLines(h.stderr()).filter((l) => l.protocol === 'tcp' && l.qname === 'web.hades.local.');
    await waitFor(`${n} query log lines`, () => tcpLines().length >= n);
    const byPid = new Map<unknown, number>();
    for (const l of tcpLines()) byPid.set(l.pid, (byPid.get(l.pid) ?? 0) + 1);
    assert.equal(byPid.size, 2, `answers per worker: ${JSON.stringify([...byPid])}`);
    assert.equal(
      [...byPid.values()].reduce((x, y) => x + y, 0),
      n,
    );
    assert.equal(await status(mport, '/health'), 200);
  });
});
