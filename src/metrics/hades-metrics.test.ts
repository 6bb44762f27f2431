import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AggregatorRegistry } from 'prom-client';
import { LATENCY_BUCKETS } from '../dns/forward/upstream.js';
import { DURATION_BUCKETS, QueryCounters } from '../dns/query-counters.js';
import { queryLogEntry } from '../dns/query-log.js';
import { RRType } from '../dns/wire/constants.js';
import { encode } from '../dns/wire/encode.js';
import { histogramSamples } from './collected.js';
import {
  type CatalogSource,
  type ForwarderSource,
  HadesMetrics,
  type ServerSource,
} from './hades-metrics.js';
import { parsePromText, seriesValue, strictErrors, sumOf } from './prom-text.js';

function reply(rcode: number): Buffer {
  return encode({ id: 1, qr: true, rcode, questions: [{ name: 'x.', type: RRType.A, class: 1 }] });
}

function fakeServer(): ServerSource & { counters: QueryCounters } {
  return {
    counters: new QueryCounters(),
    stats: {
      dropped: 3,
      udpBusyDrops: 1,
      truncated: 2,
      handlerErrors: 1,
      tcpConnections: 7,
      tcpRejected: 0,
      tcpIdleTimeouts: 4,
    },
    tcpOpen: 2,
  };
}

function fakeForwarder(): ForwarderSource {
  const buckets = new Array<number>(LATENCY_BUCKETS.length + 1).fill(0);
  buckets[0] = 2; // ≤ 1 ms
  buckets[3] = 1; // ≤ 10 ms
  buckets[LATENCY_BUCKETS.length] = 1; // > 5 s
  const upstream = (address: string, down: boolean, requests: number) => ({
    address,
    down,
    stats: {
      requests,
      failures: 1,
      timeouts: 1,
      rcodeErrors: 0,
      tcpRetries: 0,
      spoofed: 0,
      latencySum: 6.5,
      latencyBuckets: buckets,
    },
  });
  return {
    stats: {
      queries: 10,
      external: 2,
      answered: 9,
      servfail: 1,
      refusedInflight: 0,
      noUpstream: 0,
      refusedTransfers: 1,
      failOpen: 0,
    },
    inflight: 3,
    upstreams: () => [upstream('127.0.0.1:5301', false, 8), upstream('[::1]:53', true, 4)],
  };
}

function fakeCatalog(over: Partial<CatalogSource> = {}): CatalogSource {
  return {
    ready: true,
    revision: 42,
    recordCount: 1234,
    watchState: 'connected',
    lastEventAt: Date.now() - 2000,
    stats: { invalidRecords: 1, invalidHealth: 2, invalidTopology: 3, lists: 1, compactions: 0, failures: 2 },
    ...over,
  };
}

describe('QueryCounters', () => {
  it('counts by transport and type (unknown → other), rcode, and duration buckets', () => {
    const c = new QueryCounters();
    c.request(0, RRType.A);
    c.request(0, RRType.A);
    c.request(1, RRType.TXT);
    c.request(0, 65000);
    c.request(0, -1); // no readable question
    const n = c.qtypeLabels.length;
    assert.equal(c.requests[c.qtypeLabels.indexOf('A')], 2);
    assert.equal(c.requests[n + c.qtypeLabels.indexOf('TXT')], 1);
    assert.equal(c.requests[c.qtypeLabels.indexOf('other')], 2);
    c.response(1, reply(3));
    assert.equal(c.responses[16 + 3], 1);
    c.observe(0.00001);
    c.observe(0.00005); // on a bound: that bucket (le is inclusive)
    c.observe(0.003);
    c.observe(99);
    assert.equal(c.durationBuckets[0], 2);
    assert.equal(c.durationBuckets[DURATION_BUCKETS.indexOf(0.005)], 1);
    assert.equal(c.durationBuckets[DURATION_BUCKETS.length], 1);
    assert.equal(c.durationCount, 4);
  });
});

describe('HadesMetrics', () => {
  it('maps the live counters to hades_ series at scrape time, in a text format that parses', async () => {
    const m = new HadesMetrics({ version: '9.9.9', processMetrics: false });
    const before = parsePromText(await m.text());
    assert.deepEqual(strictErrors(before), []);
    assert.equal(seriesValue(before, 'hades_requests_total'), undefined, 'no server yet: no series');
    assert.equal(seriesValue(before, 'hades_cache_hits_total'), 0);
    assert.equal(seriesValue(before, 'hades_ready'), 0);

    const srv = fakeServer();
    const c = srv.counters;
    c.request(0, RRType.A);
    c.request(0, RRType.A);
    c.request(1, RRType.AAAA);
    c.request(0, RRType.NAPTR);
    c.request(0, 4242);
    c.response(0, reply(0));
    c.response(0, reply(3));
    c.response(1, reply(2));
    c.observe(0.00002);
    c.observe(0.02);
    const handler = { stats: { failOpen: 5, allDownClosed: 3, errors: 1 } };
    const cache = { hits: 0, misses: 0, entries: 0, evictions: 0 };
    m.setServer(srv);
    m.setHandler(handler);
    m.setForwarder(fakeForwarder(), LATENCY_BUCKETS);
    m.setCatalog(fakeCatalog());
    m.setCacheSource(cache);
    cache.hits = 11; // read live at scrape time
    cache.misses = 4;
    cache.entries = 9;
    cache.evictions = 3;

    const text = await m.text();
    const p = parsePromText(text);
    assert.deepEqual(strictErrors(p), []);
    assert.equal(p.types.get('hades_requests_total'), 'counter');
    assert.equal(p.types.get('hades_request_duration_seconds'), 'histogram');
    assert.equal(p.types.get('hades_catalog_records'), 'gauge');
    assert.equal(seriesValue(p, 'hades_build_info', { version: '9.9.9' }), 1);
    assert.equal(seriesValue(p, 'hades_requests_total', { protocol: 'udp', type: 'A' }), 2);
    assert.equal(seriesValue(p, 'hades_requests_total', { protocol: 'tcp', type: 'AAAA' }), 1);
    assert.equal(seriesValue(p, 'hades_requests_total', { protocol: 'udp', type: 'NAPTR' }), 1);
    assert.equal(seriesValue(p, 'hades_requests_total', { protocol: 'udp', type: 'other' }), 1);
    assert.equal(sumOf(p, 'hades_requests_total'), 5);
    assert.equal(seriesValue(p, 'hades_responses_total', { protocol: 'udp', rcode: 'NOERROR' }), 1);
    assert.equal(seriesValue(p, 'hades_responses_total', { protocol: 'udp', rcode: 'NXDOMAIN' }), 1);
    assert.equal(seriesValue(p, 'hades_responses_total', { protocol: 'tcp', rcode: 'SERVFAIL' }), 1);
    // histogram: cumulative buckets, +Inf = _count
    assert.equal(seriesValue(p, 'hades_request_duration_seconds_bucket', { le: '0.00005' }), 1);
    assert.equal(seriesValue(p, 'hades_request_duration_seconds_bucket', { le: '0.01' }), 1);
    assert.equal(seriesValue(p, 'hades_request_duration_seconds_bucket', { le: '0.025' }), 2);
    assert.equal(seriesValue(p, 'hades_request_duration_seconds_bucket', { le: '+Inf' }), 2);
    assert.equal(seriesValue(p, 'hades_request_duration_seconds_count'), 2);
    assert.ok(Math.abs((seriesValue(p, 'hades_request_duration_seconds_sum') ?? 0) - 0.02002) < 1e-12);
    assert.equal(seriesValue(p, 'hades_requests_dropped_total', { reason: 'unanswerable' }), 3);
    assert.equal(seriesValue(p, 'hades_requests_dropped_total', { reason: 'busy' }), 1);
    assert.equal(seriesValue(p, 'hades_internal_errors_total'), 2);
    assert.equal(seriesValue(p, 'hades_tcp_connections'), 2);
    assert.equal(seriesValue(p, 'hades_selection_all_down_total'), 5);
    assert.equal(seriesValue(p, 'hades_selection_all_down_closed_total'), 3);
    assert.equal(seriesValue(p, 'hades_cache_hits_total'), 11);
    assert.equal(seriesValue(p, 'hades_cache_misses_total'), 4);
    assert.equal(seriesValue(p, 'hades_cache_entries'), 9);
    assert.equal(seriesValue(p, 'hades_cache_evictions_total'), 3);
    // forwarder, per upstream
    assert.equal(seriesValue(p, 'hades_forward_queries_total'), 10);
    assert.equal(seriesValue(p, 'hades_forward_requests_total', { to: '127.0.0.1:5301' }), 8);
    assert.equal(seriesValue(p, 'hades_forward_requests_total', { to: '[::1]:53' }), 4);
    assert.equal(seriesValue(p, 'hades_forward_failures_total', { to: '[::1]:53' }), 1);
    assert.equal(seriesValue(p, 'hades_forward_upstream_up', { to: '127.0.0.1:5301' }), 1);
    assert.equal(seriesValue(p, 'hades_forward_upstream_up', { to: '[::1]:53' }), 0);
    assert.equal(seriesValue(p, 'hades_forward_refused_total', { reason: 'transfer' }), 1);
    assert.equal(seriesValue(p, 'hades_forward_inflight'), 3);
    const up = { to: '127.0.0.1:5301' };
    assert.equal(seriesValue(p, 'hades_forward_duration_seconds_bucket', { ...up, le: '0.001' }), 2);
    assert.equal(seriesValue(p, 'hades_forward_duration_seconds_bucket', { ...up, le: '0.01' }), 3);
    assert.equal(seriesValue(p, 'hades_forward_duration_seconds_bucket', { ...up, le: '5' }), 3);
    assert.equal(seriesValue(p, 'hades_forward_duration_seconds_bucket', { ...up, le: '+Inf' }), 4);
    assert.equal(seriesValue(p, 'hades_forward_duration_seconds_count', up), 4);
    assert.equal(seriesValue(p, 'hades_forward_duration_seconds_sum', up), 6.5);
    // catalog
    assert.equal(seriesValue(p, 'hades_catalog_records'), 1234);
    assert.equal(seriesValue(p, 'hades_catalog_revision'), 42);
    assert.equal(seriesValue(p, 'hades_catalog_ready'), 1);
    assert.equal(seriesValue(p, 'hades_catalog_watch_state', { state: 'connected' }), 1);
    assert.equal(seriesValue(p, 'hades_catalog_watch_state', { state: 'listing' }), 0);
    const since = seriesValue(p, 'hades_catalog_seconds_since_last_event') ?? -1;
    assert.ok(since >= 2 && since < 60, String(since));
    assert.equal(seriesValue(p, 'hades_catalog_failures_total'), 2);
    // record, health and topology keys alike
    assert.equal(seriesValue(p, 'hades_catalog_invalid_records'), 6);
    assert.equal(seriesValue(p, 'hades_ready'), 1);
    // every family is hades_ and declared once with help
    for (const [name] of p.types) {
      assert.match(name, /^hades_/);
      assert.ok((p.help.get(name) ?? '') !== '', `help for ${name}`);
    }
  });

  it('includes the process metrics under their standard names (process_*, nodejs_*) by default', async () => {
    const p = parsePromText(await new HadesMetrics({ version: 'x' }).text());
    assert.deepEqual(strictErrors(p), []);
    for (const name of [
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'process_start_time_seconds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      assert.ok(p.types.has(name), name);
    for (const [name] of p.types) assert.match(name, /^(hades|process|nodejs)_/);
    assert.ok(![...p.types.keys()].some((n) => /^hades_(process|nodejs)_/.test(n)), 'no hades_process_*');
  });

  it('aggregates the process metrics as -workers does: CPU summed, the latest start time kept', async () => {
    const json = await Promise.all([0, 1].map(() => new HadesMetrics({ version: 'x' }).json()));
    const own = parsePromText(await new HadesMetrics({ version: 'x' }).text());
    const p = parsePromText(await AggregatorRegistry.aggregate(json).metrics());
    assert.deepEqual(strictErrors(p), []);
    // prom-client omits process_start_time_seconds from an aggregate; ours keeps the largest
    assert.equal(
      seriesValue(p, 'process_start_time_seconds'),
      seriesValue(own, 'process_start_time_seconds'),
    );
    assert.ok((seriesValue(p, 'process_cpu_seconds_total') ?? 0) > 0);
    assert.ok((seriesValue(p, 'process_resident_memory_bytes') ?? 0) > 0);
    assert.ok(p.types.has('nodejs_eventloop_lag_seconds'));
    assert.equal(p.types.get('nodejs_version_info'), 'gauge');
  });

  it('aggregates two processes as -workers does: sums, the largest record count, the lowest revision', async () => {
    const procs = [0, 1].map((i) => {
      const m = new HadesMetrics({ version: 'x', processMetrics: false });
      const s = fakeServer();
      for (let k = 0; k <= i; k++) s.counters.request(0, RRType.A);
      s.counters.observe(0.001);
      m.setServer(s);
      m.setCatalog(fakeCatalog({ recordCount: 100 + i, revision: 50 - i, ready: i === 0 }));
      m.setForwarder(fakeForwarder(), LATENCY_BUCKETS);
      return m;
    });
    const json = await Promise.all(procs.map((m) => m.json()));
    const p = parsePromText(await AggregatorRegistry.aggregate(json).metrics());
    assert.deepEqual(strictErrors(p), []);
    assert.equal(seriesValue(p, 'hades_workers'), 2);
    assert.equal(seriesValue(p, 'hades_requests_total', { protocol: 'udp', type: 'A' }), 3);
    assert.equal(seriesValue(p, 'hades_request_duration_seconds_count'), 2);
    assert.equal(seriesValue(p, 'hades_request_duration_seconds_bucket', { le: '0.001' }), 2);
    assert.equal(seriesValue(p, 'hades_forward_requests_total', { to: '127.0.0.1:5301' }), 16);
    assert.equal(seriesValue(p, 'hades_forward_upstream_up', { to: '127.0.0.1:5301' }), 1);
    assert.equal(seriesValue(p, 'hades_catalog_records'), 101);
    assert.equal(seriesValue(p, 'hades_catalog_revision'), 49);
    assert.equal(seriesValue(p, 'hades_catalog_ready'), 0);
    assert.equal(seriesValue(p, 'hades_catalog_watch_state', { state: 'connected' }), 2);
  });

  it('histogramSamples makes cumulative buckets ending in +Inf = _count', () => {
    const s = histogramSamples('h', [1, 2], [1, 0, 3], 9, { a: 'b' });
    assert.deepEqual(
      s.map((x) => [x.metricName, x.labels.le ?? '', x.value]),
      [
        ['h_bucket', 1, 1],
        ['h_bucket', 2, 1],
        ['h_bucket', '+Inf', 4],
        ['h_sum', '', 9],
        ['h_count', '', 4],
      ],
    );
  });
});

describe('query log entry', () => {
  it('reads the question, rcode and answer count from the reply', () => {
    const r = encode({
      id: 9,
      qr: true,
      rcode: 0,
      questions: [{ name: 'WeB.hades.local.', type: RRType.AAAA, class: 1 }],
      answers: [{ name: 'WeB.hades.local.', type: RRType.AAAA, ttl: 1, data: '2001:db8::1' }],
    });
    assert.deepEqual(
      queryLogEntry({ address: '127.0.0.1', port: 5000, transport: 'tcp' }, r, r.length, 0.0000425),
      {
        client: '127.0.0.1',
        port: 5000,
        protocol: 'tcp',
        qname: 'WeB.hades.local.',
        qtype: 'AAAA',
        rcode: 'NOERROR',
        answers: 1,
        durationUs: 43,
      },
    );
    const formerr = Buffer.from([0, 1, 0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    const e = queryLogEntry({ address: '::1', port: 1, transport: 'udp' }, formerr, formerr.length, 0);
    assert.equal(e.qname, '');
    assert.equal(e.rcode, 'FORMERR');
  });
});
