/**
 * The API on a real etcd (in process): bad input → the right 4xx and etcd unchanged, concurrent
 * writers, scopes, the rate limit, /v1 CRUD and pagination, and the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_BODY } from '../../src/api/server.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { type EtcdProcess, startEtcd } from '../harness/etcd.js';
import { JSON_HEADERS, req, snapshot, startLocalApi, TOKEN } from './helpers.js';
import { validateOpenApi } from './openapi-check.js';

const READ_TOKEN = 'read-only-token-1';
const WRITE_TOKEN = 'write-only-token-1';

describe('API on etcd', () => {
  let etcd: EtcdProcess;
  let store: Store;
  let base: string;
  let close: () => Promise<void>;
  const auth = { ...JSON_HEADERS, token: TOKEN };

  before(async () => {
    etcd = await startEtcd();
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    const { api, base: b } = await startLocalApi(store, {
      tokens: [
        { token: TOKEN, scopes: ['read', 'write'] },
        { token: READ_TOKEN, scopes: ['read'] },
        { token: WRITE_TOKEN, scopes: ['write'] },
      ],
    });
    base = b;
    close = () => api.close();
    await store.put('/hades/local/hades/svc/default/web', '{"host":"10.1.0.1","source":"svc"}');
    const a = await req(
      base,
      'POST',
      '/hades',
      { ...auth, domain: 'cctv1' },
      '{"type":"A","ips":["192.168.10.1"]}',
    );
    assert.equal(a.status, 200, a.text);
    const c = await req(
      base,
      'POST',
      '/hades',
      { ...auth, domain: 'cctv1' },
      '{"type":"cname","alias":"tv1"}',
    );
    assert.equal(c.status, 200, c.text);
  });

  after(async () => {
    await close?.();
    await store?.close();
    await etcd?.stop();
  });

  describe('bad input: the right 4xx, a message naming the problem, etcd unchanged', () => {
    const A = '{"type":"A","ips":["192.168.10.7"]}';
    const cases: [
      what: string,
      method: string,
      path: string,
      headers: Record<string, string>,
      body: string | undefined,
      status: number,
      msg: RegExp,
    ][] = [
      ['no token', 'POST', '/hades', { ...JSON_HEADERS, domain: 'x1' }, A, 401, /no token/],
      [
        'wrong token',
        'POST',
        '/hades',
        { ...JSON_HEADERS, token: 'abcdef123456780', domain: 'x1' },
        A,
        401,
        /not accepted/,
      ],
      [
        'wrong bearer',
        'POST',
        '/hades',
        { ...JSON_HEADERS, authorization: 'Bearer nope', domain: 'x1' },
        A,
        401,
        /not accepted/,
      ],
      [
        'read-only token writes',
        'POST',
        '/hades',
        { ...JSON_HEADERS, token: READ_TOKEN, domain: 'x1' },
        A,
        403,
        /"write" scope/,
      ],
      ['write-only token reads', 'GET', '/hades', { token: WRITE_TOKEN }, undefined, 403, /"read" scope/],
      [
        'bad IPv4',
        'POST',
        '/hades',
        { ...auth, domain: 'x1' },
        '{"type":"A","ips":["192.168.10.300"]}',
        400,
        /ips\[0\]/,
      ],
      [
        'second IP bad',
        'POST',
        '/hades',
        { ...auth, domain: 'x1' },
        '{"type":"A","ips":["10.0.0.1","fe80::1%eth0"]}',
        400,
        /ips\[1\]/,
      ],
      [
        'IPv6 as A',
        'POST',
        '/hades',
        { ...auth, domain: 'x1' },
        '{"type":"A","ips":["2001:db8::1"]}',
        400,
        /not an IPv4/,
      ],
      ['empty ips', 'POST', '/hades', { ...auth, domain: 'x1' }, '{"type":"A","ips":[]}', 400, /"ips"/],
      [
        'ips not an array',
        'POST',
        '/hades',
        { ...auth, domain: 'x1' },
        '{"type":"A","ips":"10.0.0.1"}',
        400,
        /"ips"/,
      ],
      ['name with a space', 'POST', '/hades', { ...auth, domain: 'bad name' }, A, 400, /domain/],
      ['name with a slash', 'POST', '/hades', { ...auth, domain: 'a/b' }, A, 400, /has a "\/"/],
      ['label too long', 'POST', '/hades', { ...auth, domain: 'a'.repeat(64) }, A, 400, /longer than 63/],
      ['leading hyphen', 'POST', '/hades', { ...auth, domain: '-x' }, A, 400, /hyphen/],
      ['wildcard', 'POST', '/hades', { ...auth, domain: '*' }, A, 400, /wildcard/],
      ['no domain header', 'POST', '/hades', auth, A, 400, /header "domain"/],
      ['malformed JSON', 'POST', '/hades', { ...auth, domain: 'x1' }, '{"type":"A",', 400, /not valid JSON/],
      ['JSON array', 'POST', '/hades', { ...auth, domain: 'x1' }, '[1]', 400, /JSON object/],
      ['empty body', 'POST', '/hades', { ...auth, domain: 'x1' }, '', 400, /empty/],
      [
        'oversize body',
        'POST',
        '/hades',
        { ...auth, domain: 'x1' },
        `{"type":"A","ips":["${'1'.repeat(MAX_BODY)}"]}`,
        413,
        /larger than/,
      ],
      [
        'unknown type',
        'POST',
        '/hades',
        { ...auth, domain: 'x1' },
        '{"type":"MX","ips":["10.0.0.1"]}',
        400,
        /unknown type "MX"/,
      ],
      [
        'missing type',
        'POST',
        '/hades',
        { ...auth, domain: 'x1' },
        '{"ips":["10.0.0.1"]}',
        400,
        /"type" is missing/,
      ],
      [
        'unknown field',
        'POST',
        '/hades',
        { ...auth, domain: 'x1' },
        '{"type":"A","ips":["10.0.0.1"],"color":"red"}',
        400,
        /unknown field "color"/,
      ],
      [
        'alias to a missing name',
        'POST',
        '/hades',
        { ...auth, domain: 'nosuch' },
        '{"type":"cname","alias":"tv9"}',
        404,
        /not found/,
      ],
      [
        'alias exists',
        'POST',
        '/hades',
        { ...auth, domain: 'cctv1' },
        '{"type":"cname","alias":"tv1"}',
        409,
        /already exists/,
      ],
      [
        'bad alias',
        'POST',
        '/hades',
        { ...auth, domain: 'cctv1' },
        '{"type":"cname","alias":"t v"}',
        400,
        /alias/,
      ],
      [
        'address already there',
        'POST',
        '/hades',
        { ...auth, domain: 'cctv1' },
        '{"type":"A","ips":["192.168.10.1"]}',
        409,
        /already has/,
      ],
      ['A on an alias', 'POST', '/hades', { ...auth, domain: 'tv1' }, A, 409, /alias/],
      [
        'write under svc',
        'POST',
        '/hades',
        { ...auth, domain: 'web.default.svc.hades.local' },
        A,
        403,
        /Kubernetes/,
      ],
      [
        'outside the zone',
        'POST',
        '/v1/records',
        auth,
        '{"name":"a.example.com","type":"A","address":"10.0.0.1"}',
        400,
        /outside the zone/,
      ],
      [
        'update a missing address',
        'PUT',
        '/hades',
        { ...auth, domain: 'cctv1' },
        '{"type":"A","update":{"10.9.9.9":"10.9.9.8"}}',
        404,
        /no address 10.9.9.9/,
      ],
      [
        'update to a bad address',
        'PUT',
        '/hades',
        { ...auth, domain: 'cctv1' },
        '{"type":"A","update":{"192.168.10.1":"x"}}',
        400,
        /update\.192/,
      ],
      [
        'update a missing name',
        'PUT',
        '/hades',
        { ...auth, domain: 'nosuch' },
        '{"type":"A","update":{"10.0.0.1":"10.0.0.2"}}',
        404,
        /not found/,
      ],
      [
        'delete a missing name',
        'DELETE',
        '/hades',
        { ...auth, domain: 'nosuch' },
        undefined,
        404,
        /not found/,
      ],
      [
        'v1 unknown field',
        'POST',
        '/v1/records',
        auth,
        '{"name":"v.hades.local","type":"A","address":"10.0.0.1","host":"x"}',
        400,
        /unknown field "host"/,
      ],
      [
        'v1 unknown type',
        'POST',
        '/v1/records',
        auth,
        '{"name":"v.hades.local","type":"LOC"}',
        400,
        /unknown type/,
      ],
      [
        'v1 CNAME to an address',
        'POST',
        '/v1/records',
        auth,
        '{"name":"v.hades.local","type":"CNAME","target":"10.0.0.1"}',
        400,
        /target/,
      ],
      [
        'v1 SRV port out of range',
        'POST',
        '/v1/records',
        auth,
        '{"name":"_h._tcp.v.hades.local","type":"SRV","target":"a.hades.local","port":70000}',
        400,
        /"port"/,
      ],
      [
        'v1 CNAME beside records',
        'POST',
        '/v1/records',
        auth,
        '{"name":"cctv1.user.hades.local","type":"CNAME","target":"x.hades.local"}',
        409,
        /stand alone/,
      ],
      ['v1 bad limit', 'GET', '/v1/records?limit=0', { token: TOKEN }, undefined, 400, /limit/],
      ['v1 unknown query', 'GET', '/v1/records?color=red', { token: TOKEN }, undefined, 400, /color/],
    ];
    for (const [what, method, path, headers, body, status, msg] of cases) {
      it(`${what} → ${status}`, async () => {
        const before = await snapshot(store);
        const r = await req(base, method, path, headers, body);
        assert.equal(r.status, status, r.text);
        assert.match(JSON.parse(r.text).error, msg);
        assert.deepEqual(await snapshot(store), before);
      });
    }
  });

  it('tokens: Bearer and legacy header; /health and /ready open', async () => {
    assert.equal((await req(base, 'GET', '/hades', { authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await req(base, 'GET', '/hades', { token: READ_TOKEN })).status, 200);
    const w = await req(
      base,
      'POST',
      '/hades',
      { ...JSON_HEADERS, token: WRITE_TOKEN, domain: 'wonly' },
      '{"type":"A","ips":["10.3.0.1"]}',
    );
    assert.equal(w.status, 200, w.text);
    assert.equal((await req(base, 'GET', '/health', {})).status, 200);
    assert.equal((await req(base, 'GET', '/ready', {})).status, 200);
    assert.equal((await req(base, 'GET', '/v1/openapi.json', {})).status, 200);
  });

  it('concurrent writers to one name lose no update', async () => {
    const n = 40;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        req(
          base,
          'POST',
          '/hades',
          { ...auth, domain: 'busy' },
          JSON.stringify({ type: 'A', ips: [`10.50.0.${i + 1}`] }),
        ),
      ),
    );
    for (const r of results) assert.equal(r.status, 200, r.text);
    const got = JSON.parse((await req(base, 'GET', '/hades', { token: TOKEN, domain: 'busy' })).text);
    assert.equal(got['busy.user.hades.local'].ips.length, n);
    // concurrent replacements of different addresses, and deletes, of the same name
    const ups = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        req(
          base,
          'PUT',
          '/hades',
          { ...auth, domain: 'busy' },
          JSON.stringify({ type: 'A', update: { [`10.50.0.${i + 1}`]: `10.60.0.${i + 1}` } }),
        ),
      ),
    );
    for (const r of ups) assert.equal(r.status, 200, r.text);
    const dels = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        req(
          base,
          'DELETE',
          '/hades',
          { ...auth, domain: 'busy' },
          JSON.stringify({ type: 'A', ips: [`10.50.0.${i + 21}`] }),
        ),
      ),
    );
    for (const r of dels) assert.equal(r.status, 200, r.text);
    const after = JSON.parse((await req(base, 'GET', '/hades', { token: TOKEN, domain: 'busy' })).text)[
      'busy.user.hades.local'
    ].ips;
    const want = [
      ...Array.from({ length: 20 }, (_, i) => `10.60.0.${i + 1}`),
      ...Array.from({ length: 10 }, (_, i) => `10.50.0.${i + 31}`),
    ];
    assert.deepEqual([...after].sort(), want.sort());
    // status keys: exactly the addresses in use under busy
    const status = (await store.list('/hades/monitor/status/10.')).kvs.map((kv) => kv.key.split('/').pop());
    assert.deepEqual(
      status.filter((ip) => ip?.startsWith('10.5') || ip?.startsWith('10.6')).sort(),
      want.sort(),
    );
    // two writers racing for the same address: one wins, the other is told
    const same = await Promise.all(
      [0, 1].map(() =>
        req(base, 'POST', '/hades', { ...auth, domain: 'race' }, '{"type":"A","ips":["10.70.0.1"]}'),
      ),
    );
    assert.deepEqual(same.map((r) => r.status).sort(), [200, 409]);
  });

  it('AAAA through /hades: canonical addresses, their status keys', async () => {
    const body = '{"type":"AAAA","ips":["2001:DB8:0::1","2001:db8::2"]}';
    assert.equal((await req(base, 'POST', '/hades', { ...auth, domain: 'six' }, body)).status, 200);
    const got = JSON.parse((await req(base, 'GET', '/hades', { token: TOKEN, domain: 'six' })).text);
    assert.deepEqual(got, { 'six.user.hades.local': { type: 'AAAA', ips: ['2001:db8::1', '2001:db8::2'] } });
    assert.equal((await store.get('/hades/monitor/status/2001:db8::1'))?.value, '{"status":"UP"}');
    const v4 = await req(
      base,
      'POST',
      '/hades',
      { ...auth, domain: 'six' },
      '{"type":"AAAA","ips":["10.0.0.1"]}',
    );
    assert.equal(v4.status, 400);
    assert.match(JSON.parse(v4.text).error, /not an IPv6/);
    assert.equal((await req(base, 'DELETE', '/hades', { ...auth, domain: 'six' })).status, 200);
    assert.equal(await store.get('/hades/monitor/status/2001:db8::1'), undefined);
  });

  it('an address shared by two names keeps its status until the last one goes', async () => {
    for (const d of ['s1', 's2'])
      assert.equal(
        (await req(base, 'POST', '/hades', { ...auth, domain: d }, '{"type":"A","ips":["10.80.0.1"]}'))
          .status,
        200,
      );
    assert.equal((await req(base, 'DELETE', '/hades', { ...auth, domain: 's1' })).status, 200);
    assert.ok(await store.get('/hades/monitor/status/10.80.0.1'));
    assert.equal((await req(base, 'DELETE', '/hades', { ...auth, domain: 's2' })).status, 200);
    assert.equal(await store.get('/hades/monitor/status/10.80.0.1'), undefined);
    // one name drops the address while another takes it up, at the same time: the key stays
    for (let i = 0; i < 10; i++) {
      const ip = `10.81.0.${i + 1}`;
      const body = JSON.stringify({ type: 'A', ips: [ip] });
      assert.equal((await req(base, 'POST', '/hades', { ...auth, domain: `r${i}a` }, body)).status, 200);
      const [d, p] = await Promise.all([
        req(base, 'DELETE', '/hades', { ...auth, domain: `r${i}a` }),
        req(base, 'POST', '/hades', { ...auth, domain: `r${i}b` }, body),
      ]);
      assert.equal(d.status, 200, d.text);
      assert.equal(p.status, 200, p.text);
      assert.ok(await store.get(`/hades/monitor/status/${ip}`), `status of ${ip} kept`);
    }
  });

  it('/v1: every record type, list with prefix and pages, get, replace, delete, health', async () => {
    const make = async (body: object) => {
      const r = await req(base, 'POST', '/v1/records', auth, JSON.stringify(body));
      assert.equal(r.status, 201, r.text);
      return JSON.parse(r.text);
    };
    const a = await make({ name: 'web.v1.hades.local', type: 'A', address: '10.90.0.1', ttl: 30 });
    assert.equal(a.type, 'A');
    assert.equal(a.address, '10.90.0.1');
    assert.equal((await store.get(`/hades/local/hades/v1/web/${a.id}`))?.modRevision, a.modRevision);
    await make({ name: 'web.v1.hades.local', type: 'A', address: '10.90.0.2' });
    await make({ name: 'web6.v1.hades.local', type: 'AAAA', address: '2001:db8::90' });
    await make({ name: 'www.v1.hades.local', type: 'CNAME', target: 'web.v1.hades.local' });
    await make({
      name: '_http._tcp.web.v1.hades.local',
      type: 'SRV',
      target: 'web.v1.hades.local',
      port: 80,
    });
    await make({ name: 'txt.v1.hades.local', type: 'TXT', text: 'hello' });
    await make({ name: 'v1.hades.local', type: 'MX', target: 'mail.v1.hades.local', preference: 5 });
    await make({ name: 'hades.local', type: 'NS', target: 'ns1.example.net' });
    const dup = await req(
      base,
      'POST',
      '/v1/records',
      auth,
      JSON.stringify({ name: 'web.v1.hades.local', type: 'A', address: '10.90.0.1' }),
    );
    assert.equal(dup.status, 409);
    // list under v1.hades.local, two at a time
    const seen: { type: string; name: string }[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const q = `/v1/records?prefix=v1.hades.local&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const r = await req(base, 'GET', q, { token: TOKEN });
      assert.equal(r.status, 200, r.text);
      const page = JSON.parse(r.text);
      assert.ok(page.records.length <= 2);
      seen.push(...page.records);
      cursor = page.next;
      pages++;
    } while (cursor);
    assert.equal(seen.length, 7);
    assert.equal(pages, 4);
    assert.deepEqual([...new Set(seen.map((r) => r.type))].sort(), [
      'A',
      'AAAA',
      'CNAME',
      'MX',
      'SRV',
      'TXT',
    ]);
    const onlyA = JSON.parse(
      (await req(base, 'GET', '/v1/records?prefix=v1.hades.local&type=A', { token: TOKEN })).text,
    );
    assert.equal(onlyA.records.length, 2);
    const ns = JSON.parse((await req(base, 'GET', '/v1/records/ns.dns.hades.local', { token: TOKEN })).text);
    assert.equal(ns.records[0].type, 'NS');
    // replace one record: the old address's status goes, the new one's comes
    const web = JSON.parse((await req(base, 'GET', '/v1/records/web.v1.hades.local', { token: TOKEN })).text);
    const one = web.records.find((r: { address: string }) => r.address === '10.90.0.1');
    const stale = await req(
      base,
      'PUT',
      `/v1/records/web.v1.hades.local/${one.id}`,
      { ...auth, 'if-match': '1' },
      '{"type":"A","address":"10.90.0.3"}',
    );
    assert.equal(stale.status, 412, stale.text);
    // GET of one record: its ETag is the quoted modRevision; If-None-Match with it is 304
    const rec = await req(base, 'GET', `/v1/records/web.v1.hades.local/${one.id}`, { token: TOKEN });
    assert.equal(rec.status, 200, rec.text);
    assert.deepEqual(JSON.parse(rec.text), one);
    assert.equal(rec.headers.get('etag'), `"${one.modRevision}"`);
    const notModified = await req(base, 'GET', `/v1/records/web.v1.hades.local/${one.id}`, {
      token: TOKEN,
      'if-none-match': `"1", ${rec.headers.get('etag')}`,
    });
    assert.deepEqual([notModified.status, notModified.text], [304, '']);
    assert.equal(
      (await req(base, 'GET', '/v1/records/web.v1.hades.local/0000', { token: TOKEN })).status,
      404,
    );
    const badTag = await req(
      base,
      'PUT',
      `/v1/records/web.v1.hades.local/${one.id}`,
      { ...auth, 'if-match': 'abc' },
      '{"type":"A","address":"10.90.0.3"}',
    );
    assert.equal(badTag.status, 400, badTag.text);
    assert.equal(JSON.parse(badTag.text).field, 'If-Match');
    // the quoted ETag and the bare number (accepted before ETags) both match
    for (const [tag, address] of [
      [rec.headers.get('etag') ?? '', '10.90.0.4'],
      ['', '10.90.0.3'],
    ]) {
      const cur = JSON.parse(
        (await req(base, 'GET', '/v1/records/web.v1.hades.local', { token: TOKEN })).text,
      );
      const it1 = cur.records.find(
        (r: { address: string }) => r.address === '10.90.0.1' || r.address === '10.90.0.4',
      );
      const put = await req(
        base,
        'PUT',
        `/v1/records/web.v1.hades.local/${it1.id}`,
        { ...auth, 'if-match': tag === '' ? String(it1.modRevision) : tag },
        JSON.stringify({ type: 'A', address }),
      );
      assert.equal(put.status, 200, put.text);
    }
    assert.equal(await store.get('/hades/monitor/status/10.90.0.1'), undefined);
    const h = await req(base, 'GET', '/v1/health/10.90.0.3', { token: TOKEN });
    assert.deepEqual(JSON.parse(h.text), { ip: '10.90.0.3', status: 'UP', admin: 'none' });
    assert.equal((await req(base, 'GET', '/v1/health/10.99.99.99', { token: TOKEN })).status, 404);
    const all = JSON.parse((await req(base, 'GET', '/v1/health', { token: TOKEN })).text);
    assert.ok(all.health.some((x: { ip: string }) => x.ip === '10.90.0.2'));
    const del = await req(base, 'DELETE', '/v1/records/web.v1.hades.local', auth);
    assert.deepEqual(JSON.parse(del.text), { deleted: 2 });
    assert.equal((await req(base, 'GET', '/v1/records/web.v1.hades.local', { token: TOKEN })).status, 404);
    // kube-owned records are not the API's to delete
    assert.equal((await req(base, 'DELETE', '/v1/records/web.default.svc.hades.local', auth)).status, 403);
  });

  it('the OpenAPI document validates', async () => {
    const doc = JSON.parse((await req(base, 'GET', '/v1/openapi.json', {})).text);
    assert.deepEqual(validateOpenApi(doc), []);
    assert.ok(validateOpenApi({ openapi: '3.0.3', paths: { '/x/{id}': { get: {} } } }).length >= 3);
  });
});

describe('rate limit', () => {
  it('429 with Retry-After beyond the burst, per client; /health stays open', async () => {
    const etcd = await startEtcd();
    const store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    const { api, base } = await startLocalApi(store, { rate: 1, burst: 3 });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await req(base, 'GET', '/hades', { token: TOKEN })).status);
      assert.deepEqual(codes.slice(0, 3), [200, 200, 200]);
      assert.equal(codes[4], 429);
      const r = await req(
        base,
        'POST',
        '/hades',
        { ...JSON_HEADERS, token: TOKEN, domain: 'x' },
        '{"type":"A","ips":["10.0.0.1"]}',
      );
      assert.equal(r.status, 429);
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
      assert.match(JSON.parse(r.text).error, /too many requests/);
      assert.equal((await req(base, 'GET', '/health', {})).status, 200);
      assert.equal((await store.list('/hades/local/')).kvs.length, 0);
    } finally {
      await api.close();
      await store.close();
      await etcd.stop();
    }
  });
});
