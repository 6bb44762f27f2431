/**
 * Locality through the API, on a real etcd with a real hades-kubeapi whose INI sets `[General]
 * topology-path`: /v1/topology (list sorted, get, put canonical, a put that changes nothing
 * writes nothing, If-Match, delete, a bad stored value listed with its error), the bad-input
 * matrix (each case compares a full etcd listing before and after), the record fields `zone`,
 * `priority`, `select`, `alldown` through /v1/records and /hades, the OpenAPI document, and
 * hades-apicmd's topology methods and -zone/-priority (output, exit codes, one line).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { type EtcdProcess, freePort, startEtcd } from '../harness/etcd.js';
import { apicmd, JSON_HEADERS, type Kubeapi, req, snapshot, startKubeapi, TOKEN } from './helpers.js';
import { validateOpenApi } from './openapi-check.js';

const TOPO = '/t/zones/';
const READ_TOKEN = 'read-only-token-topology';

describe('topology and traffic-policy fields through hades-kubeapi and hades-apicmd', () => {
  let etcd: EtcdProcess;
  let store: Store;
  let kubeapi: Kubeapi;
  let base: string;
  let dir: string;
  const auth = { ...JSON_HEADERS, authorization: `Bearer ${TOKEN}` };
  const call = async (method: string, p: string, body?: unknown, headers: Record<string, string> = auth) => {
    const r = await req(base, method, p, headers, body === undefined ? undefined : JSON.stringify(body));
    let json: unknown;
    try {
      json = JSON.parse(r.text);
    } catch {
      json = r.text;
    }
    return { status: r.status, body: json as { [k: string]: unknown }, etag: r.headers.get('etag') };
  };
  const env = (): NodeJS.ProcessEnv => ({
    HADES_API_ADDR: base.replace('http://', ''),
    HADES_API_TOKEN: TOKEN,
  });
  const stored = async (key: string) => (await store.get(key))?.value;

  before(async () => {
    etcd = await startEtcd();
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-topology-'));
    const tokens = path.join(dir, 'tokens');
    writeFileSync(tokens, `${READ_TOKEN} read\n`);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const ini = path.join(dir, 'hades-api.conf');
    writeFileSync(
      ini,
      [
        '[General]',
        'domain = hades.local.',
        `etcd-server = ${etcd.endpoint}`,
        'topology-path = /t/zones',
        '[Kube2Hades]',
        'kube-enable = NO',
        '[HadesApi]',
        'api-enable = YES',
        `api-address = 127.0.0.1:${port}`,
        `hades-auth = ${TOKEN}`,
        '',
      ].join('\n'),
    );
    kubeapi = await startKubeapi([
      '-config-file',
      ini,
      '-tokens-file',
      tokens,
      '-api-rate',
      '0',
      '-logtostderr',
    ]);
  });

  after(async () => {
    await kubeapi?.stop();
    await store?.close();
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('PUT stores the canonical value at <topology-path><zone>; GET and the sorted list show it', async () => {
    const p = await call('PUT', '/v1/topology/zone-b', {
      cidrs: ['10.2.3.4/16', 'FD00:2:0::1/48', '10.2.0.0/16'],
    });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.deepEqual(p.body.cidrs, ['10.2.0.0/16', 'fd00:2::/48']);
    assert.equal(await stored(`${TOPO}zone-b`), '{"cidrs":["10.2.0.0/16","fd00:2::/48"]}');
    const kv = await store.get(`${TOPO}zone-b`);
    assert.equal(p.body.modRevision, kv?.modRevision);
    assert.equal((await call('PUT', '/v1/topology/zone.a', { cidrs: ['10.1.0.0/16'] })).status, 200);
    const g = await call('GET', '/v1/topology/zone-b', undefined, { authorization: `Bearer ${READ_TOKEN}` });
    assert.equal(g.status, 200);
    assert.deepEqual(g.body, {
      zone: 'zone-b',
      cidrs: ['10.2.0.0/16', 'fd00:2::/48'],
      modRevision: kv?.modRevision,
    });
    const l = await call('GET', '/v1/topology');
    assert.deepEqual(
      (l.body.topology as { zone: string; cidrs: string[] }[]).map((z) => [z.zone, z.cidrs]),
      [
        ['zone-b', ['10.2.0.0/16', 'fd00:2::/48']],
        ['zone.a', ['10.1.0.0/16']],
      ],
    );
  });

  it('a PUT that changes nothing writes nothing; If-Match guards PUT and DELETE (412); GET has the ETag', async () => {
    const rev = (await store.get(`${TOPO}zone.a`))?.modRevision;
    const got = await call('GET', '/v1/topology/zone.a');
    assert.equal(got.etag, `"${rev}"`);
    const cached = await call('GET', '/v1/topology/zone.a', undefined, {
      ...auth,
      'if-none-match': `"${rev}"`,
    });
    assert.deepEqual([cached.status, cached.body, cached.etag], [304, '', `"${rev}"`]);
    const changed = await call('GET', '/v1/topology/zone.a', undefined, { ...auth, 'if-none-match': '"1"' });
    assert.equal(changed.status, 200);
    const same = await call('PUT', '/v1/topology/zone.a', { cidrs: ['10.1.9.9/16'] });
    assert.equal(same.status, 200);
    assert.equal((await store.get(`${TOPO}zone.a`))?.modRevision, rev);
    const stale = await call(
      'PUT',
      '/v1/topology/zone.a',
      { cidrs: ['10.9.0.0/16'] },
      { ...auth, 'if-match': '1' },
    );
    assert.equal(stale.status, 412, JSON.stringify(stale.body));
    const weak = await call(
      'PUT',
      '/v1/topology/zone.a',
      { cidrs: ['10.9.0.0/16'] },
      { ...auth, 'if-match': `W/"${rev}"` },
    );
    assert.equal(weak.status, 412, 'a weak ETag never matches (strong comparison)');
    const fresh = await call(
      'PUT',
      '/v1/topology/zone.a',
      { cidrs: ['10.9.0.0/16'] },
      { ...auth, 'if-match': got.etag ?? '' },
    );
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    const exists = await call('PUT', '/v1/topology/zone.a', { cidrs: [] }, { ...auth, 'if-match': '0' });
    assert.equal(exists.status, 412);
    const created = await call('PUT', '/v1/topology/zone-c', { cidrs: [] }, { ...auth, 'if-match': '0' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal(await stored(`${TOPO}zone-c`), '{"cidrs":[]}');
    assert.equal(
      (await call('DELETE', '/v1/topology/zone-c', undefined, { ...auth, 'if-match': '1' })).status,
      412,
    );
    const d = await call('DELETE', '/v1/topology/zone-c');
    assert.deepEqual([d.status, d.body], [200, { deleted: 1 }]);
    assert.equal(await stored(`${TOPO}zone-c`), undefined);
    assert.equal((await call('DELETE', '/v1/topology/zone-c')).status, 404);
    assert.equal((await call('GET', '/v1/topology/zone-c')).status, 404);
  });

  it('concurrent writers: create-only (If-Match: 0) lets exactly one win; plain PUTs never mix values', async () => {
    const creates = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        call('PUT', '/v1/topology/race', { cidrs: [`10.${40 + i}.0.0/16`] }, { ...auth, 'if-match': '0' }),
      ),
    );
    assert.deepEqual(creates.map((r) => r.status).sort(), [200, 412, 412, 412, 412, 412, 412, 412]);
    const winner = creates.find((r) => r.status === 200)?.body.cidrs;
    assert.equal(await stored(`${TOPO}race`), JSON.stringify({ cidrs: winner }));
    const puts = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        call('PUT', '/v1/topology/race', { cidrs: [`10.${50 + i}.0.0/16`] }),
      ),
    );
    for (const r of puts) assert.ok(r.status === 200 || r.status === 409, JSON.stringify(r.body));
    const last = JSON.parse((await stored(`${TOPO}race`)) ?? '{}');
    assert.ok(
      puts.some((r) => r.status === 200 && JSON.stringify(r.body.cidrs) === JSON.stringify(last.cidrs)),
      JSON.stringify(last),
    );
    assert.equal((await call('DELETE', '/v1/topology/race')).status, 200);
  });

  it('a stored value that does not parse is listed with its error, and can be replaced', async () => {
    await store.put(`${TOPO}broken`, '{"cidrs":["10.0.0.0/33"]}');
    await store.put(`${TOPO}not a zone`, '{"cidrs":[]}');
    const l = await call('GET', '/v1/topology');
    const zones = l.body.topology as { zone: string; cidrs?: string[]; error?: string }[];
    const broken = zones.find((z) => z.zone === 'broken');
    assert.equal(broken?.cidrs, undefined);
    assert.match(broken?.error ?? '', /cidrs\[0\]/);
    assert.equal(
      zones.some((z) => z.zone === 'not a zone'),
      false,
    );
    assert.equal((await call('PUT', '/v1/topology/broken', { cidrs: ['10.0.0.0/8'] })).status, 200);
    assert.equal((await call('DELETE', '/v1/topology/broken')).status, 200);
    await store.delete(`${TOPO}not a zone`);
  });

  describe('bad input → 4xx naming the field, nothing written', () => {
    const read = { ...JSON_HEADERS, authorization: `Bearer ${READ_TOKEN}` };
    const cases: [string, string, string, unknown, Record<string, string> | undefined, number, string?][] = [
      ['zone name starting with "-"', 'PUT', '/v1/topology/-z', { cidrs: [] }, undefined, 400, 'zone'],
      ['zone name too long', 'PUT', `/v1/topology/${'z'.repeat(64)}`, { cidrs: [] }, undefined, 400, 'zone'],
      ['zone name with a space', 'PUT', '/v1/topology/a%20b', { cidrs: [] }, undefined, 400, 'zone'],
      ['zone name empty', 'PUT', '/v1/topology/', { cidrs: [] }, undefined, 400, 'zone'],
      ['bad zone name on GET', 'GET', '/v1/topology/a_', undefined, undefined, 400, 'zone'],
      ['bad zone name on DELETE', 'DELETE', '/v1/topology/.a', undefined, undefined, 400, 'zone'],
      [
        'bad CIDR at index 1',
        'PUT',
        '/v1/topology/z1',
        { cidrs: ['10.0.0.0/8', '10.0.0.0'] },
        undefined,
        400,
        'cidrs[1]',
      ],
      ['prefix too long', 'PUT', '/v1/topology/z1', { cidrs: ['fd00::/129'] }, undefined, 400, 'cidrs[0]'],
      [
        'CIDR not a string',
        'PUT',
        '/v1/topology/z1',
        { cidrs: ['10.0.0.0/8', 7] },
        undefined,
        400,
        'cidrs[1]',
      ],
      ['cidrs not an array', 'PUT', '/v1/topology/z1', { cidrs: '10.0.0.0/8' }, undefined, 400, 'cidrs'],
      ['cidrs missing', 'PUT', '/v1/topology/z1', {}, undefined, 400, 'cidrs'],
      ['unknown field', 'PUT', '/v1/topology/z1', { cidrs: [], zone: 'z1' }, undefined, 400, 'zone'],
      [
        'unknown field next to cidrs',
        'PUT',
        '/v1/topology/z1',
        { cidrs: [], weight: 1 },
        undefined,
        400,
        'weight',
      ],
      ['body an array', 'PUT', '/v1/topology/z1', ['10.0.0.0/8'], undefined, 400],
      [
        'bad If-Match',
        'PUT',
        '/v1/topology/z1',
        { cidrs: [] },
        { ...auth, 'if-match': 'x' },
        400,
        'If-Match',
      ],
      ['a read token writes', 'PUT', '/v1/topology/z1', { cidrs: [] }, read, 403],
      ['a read token deletes', 'DELETE', '/v1/topology/zone-b', undefined, read, 403],
      ['no token', 'GET', '/v1/topology', undefined, JSON_HEADERS, 401],
      ['unknown query', 'GET', '/v1/topology?limit=5', undefined, undefined, 400, 'limit'],
      ['POST', 'POST', '/v1/topology', { cidrs: [] }, undefined, 405],
      ['too deep', 'GET', '/v1/topology/z1/x', undefined, undefined, 404],
      ['malformed escape', 'GET', '/v1/topology/%zz', undefined, undefined, 400],
      [
        'record: bad zone',
        'POST',
        '/v1/records',
        { name: 'a.hades.local', type: 'A', address: '10.7.0.1', zone: 'z!' },
        undefined,
        400,
        'zone',
      ],
      [
        'record: priority out of range',
        'POST',
        '/v1/records',
        { name: 'a.hades.local', type: 'A', address: '10.7.0.1', priority: 65536 },
        undefined,
        400,
        'priority',
      ],
      [
        'record: priority not an integer',
        'POST',
        '/v1/records',
        { name: 'a.hades.local', type: 'AAAA', address: 'fd00::1', priority: 1.5 },
        undefined,
        400,
        'priority',
      ],
      [
        'record: bad select',
        'POST',
        '/v1/records',
        { name: 'a.hades.local', type: 'A', address: '10.7.0.1', select: 'first' },
        undefined,
        400,
        'select',
      ],
      [
        'record: bad alldown',
        'POST',
        '/v1/records',
        { name: 'a.hades.local', type: 'A', address: '10.7.0.1', alldown: 'CLOSED' },
        undefined,
        400,
        'alldown',
      ],
      [
        'record: zone on a CNAME',
        'POST',
        '/v1/records',
        { name: 'a.hades.local', type: 'CNAME', target: 'b.hades.local', zone: 'z1' },
        undefined,
        400,
        'zone',
      ],
      [
        'record: select on an MX',
        'POST',
        '/v1/records',
        { name: 'a.hades.local', type: 'MX', target: 'b.hades.local', select: 'all' },
        undefined,
        400,
        'select',
      ],
      [
        '/hades: bad zone',
        'POST',
        '/hades',
        { type: 'A', ips: ['10.7.0.1'], zone: '' },
        { ...auth, domain: 'h1' },
        400,
        'zone',
      ],
      [
        '/hades: bad priority',
        'POST',
        '/hades',
        { type: 'A', ips: ['10.7.0.1'], priority: -1 },
        { ...auth, domain: 'h1' },
        400,
        'priority',
      ],
      [
        '/hades: zone on a cname',
        'POST',
        '/hades',
        { type: 'cname', alias: 'x1', zone: 'z1' },
        { ...auth, domain: 'h1' },
        400,
        'zone',
      ],
    ];
    for (const [what, method, p, body, headers, code, field] of cases)
      it(`${what} → ${code}${field ? ` (${field})` : ''}`, async () => {
        const before = await snapshot(store);
        const r = await call(method, p, body, headers ?? auth);
        assert.equal(r.status, code, JSON.stringify(r.body));
        assert.equal(typeof r.body.error, 'string');
        assert.equal(r.body.field, field, JSON.stringify(r.body));
        assert.deepEqual(await snapshot(store), before);
      });
  });

  it('/v1/records: zone, priority, select and alldown stored as record fields and shown', async () => {
    const c = await call('POST', '/v1/records', {
      name: 'pol.hades.local',
      type: 'A',
      address: '10.1.0.7',
      zone: 'zone.a',
      priority: 20,
      select: 'random-one',
      alldown: 'closed',
    });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    assert.deepEqual(
      [c.body.zone, c.body.priority, c.body.select, c.body.alldown],
      ['zone.a', 20, 'random-one', 'closed'],
    );
    const recs = await store.list('/hades/local/hades/pol/');
    assert.deepEqual(
      recs.kvs.map((kv) => kv.value),
      [
        '{"host":"10.1.0.7","priority":20,"type":"A","source":"api","select":"random-one","alldown":"closed","zone":"zone.a"}',
      ],
    );
    const g = await call('GET', '/v1/records/pol.hades.local');
    const [r] = g.body.records as {
      id: string;
      zone?: string;
      priority?: number;
      select?: string;
      alldown?: string;
    }[];
    assert.deepEqual([r.zone, r.priority, r.select, r.alldown], ['zone.a', 20, 'random-one', 'closed']);
    // replace: the new value has only what the body says
    const p = await call('PUT', `/v1/records/pol.hades.local/${r.id}`, {
      type: 'A',
      address: '10.1.0.7',
      priority: 0,
    });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.deepEqual([p.body.zone, p.body.priority, p.body.select], [undefined, 0, undefined]);
    const after = await store.list('/hades/local/hades/pol/');
    assert.deepEqual(
      after.kvs.map((kv) => kv.value),
      ['{"host":"10.1.0.7","priority":0,"type":"A","source":"api"}'],
    );
    const srv = await call('POST', '/v1/records', {
      name: '_http._tcp.pol.hades.local',
      type: 'SRV',
      target: 'pol.hades.local',
      port: 80,
      alldown: 'open',
    });
    assert.equal(srv.status, 201, JSON.stringify(srv.body));
    assert.equal(srv.body.alldown, 'open');
  });

  it('the OpenAPI document has the topology operations and the record fields, and validates', async () => {
    const r = await call('GET', '/v1/openapi.json');
    const doc = r.body as {
      paths: { [p: string]: { [m: string]: { operationId: string } } };
      components: { schemas: { [k: string]: { properties: object } } };
    };
    assert.deepEqual(validateOpenApi(doc), []);
    assert.equal(doc.paths['/v1/topology'].get.operationId, 'listTopology');
    assert.deepEqual(Object.keys(doc.paths['/v1/topology/{zone}']).sort(), ['delete', 'get', 'put']);
    for (const s of ['Record', 'RecordInput'])
      for (const f of ['zone', 'priority', 'select', 'alldown'])
        assert.ok(f in doc.components.schemas[s].properties, `${s}.${f}`);
  });

  it('hades-apicmd: set-topology, topology (list and one), delete-topology; create with -zone/-priority', async () => {
    const s = await apicmd(
      ['-method', 'set-topology', '-zone', 'dc-1', '-cidrs', '10.30.0.9/16; fd00:30::/48'],
      env(),
    );
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout, 'zone:  dc-1  cidrs: [10.30.0.0/16 fd00:30::/48]\n');
    assert.equal(await stored(`${TOPO}dc-1`), '{"cidrs":["10.30.0.0/16","fd00:30::/48"]}');
    const l = await apicmd(['-method', 'topology'], env());
    assert.equal(l.code, 0, l.stderr);
    assert.equal(
      l.stdout,
      [
        'zone:    dc-1  cidrs: [10.30.0.0/16 fd00:30::/48]',
        'zone:  zone-b  cidrs: [10.2.0.0/16 fd00:2::/48]',
        'zone:  zone.a  cidrs: [10.9.0.0/16]',
        '',
      ].join('\n'),
    );
    const one = await apicmd(['-method', 'topology', '-zone', 'dc-1', '-json'], env());
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(JSON.parse(one.stdout).cidrs, ['10.30.0.0/16', 'fd00:30::/48']);
    const c = await apicmd(
      [
        '-method',
        'create',
        '-domain',
        'tiered',
        '-ips',
        '10.30.0.1;10.30.0.2',
        '-zone',
        'dc-1',
        '-priority',
        '5',
      ],
      env(),
    );
    assert.equal(c.code, 0, c.stderr);
    const vals = (await store.list('/hades/local/hades/user/tiered/')).kvs.map((kv) => JSON.parse(kv.value));
    assert.deepEqual(vals.map((v) => [v.host, v.zone, v.priority]).sort(), [
      ['10.30.0.1', 'dc-1', 5],
      ['10.30.0.2', 'dc-1', 5],
    ]);
    // an address replaced through /hades keeps its zone and tier
    const u = await apicmd(
      ['-method', 'update', '-domain', 'tiered', '-updates', 'ips:10.30.0.1->10.30.0.9'],
      env(),
    );
    assert.equal(u.code, 0, u.stderr);
    const updated = (await store.list('/hades/local/hades/user/tiered/')).kvs.map((kv) =>
      JSON.parse(kv.value),
    );
    assert.deepEqual(updated.map((v) => [v.host, v.zone, v.priority]).sort(), [
      ['10.30.0.2', 'dc-1', 5],
      ['10.30.0.9', 'dc-1', 5],
    ]);
    const d = await apicmd(['-method', 'delete-topology', '-zone', 'dc-1'], env());
    assert.deepEqual([d.code, d.stdout], [0, 'OK\n']);
    assert.equal(await stored(`${TOPO}dc-1`), undefined);
    assert.doesNotMatch(kubeapi.stderr(), new RegExp(TOKEN));
  });

  describe('hades-apicmd bad flags: exit 2 (1 for what the API refuses), one line, nothing written', () => {
    const cases: [string[], number, RegExp][] = [
      [['-method', 'set-topology', '-cidrs', '10.0.0.0/8'], 2, /-method set-topology needs -zone/],
      [['-method', 'set-topology', '-zone', 'z1'], 2, /needs -cidrs/],
      [['-method', 'set-topology', '-zone', 'z1', '-cidrs', ' ; '], 2, /needs -cidrs/],
      [['-method', 'delete-topology'], 2, /-method delete-topology needs -zone/],
      [['-method', 'topology', '-cidrs', '10.0.0.0/8'], 2, /-cidrs goes with -method set-topology/],
      [['-method', 'topology', '-domain', 'web'], 2, /-domain does not go with -method topology/],
      [['-method', 'drain', '-ip', '10.0.0.1', '-zone', 'z1'], 2, /-zone goes with/],
      [
        ['-method', 'create', '-domain', 'w', '-alias', 'tv', '-priority', '1'],
        2,
        /-priority goes with -method create -ips/,
      ],
      [['-method', 'create', '-domain', 'w', '-ips', '10.0.0.1', '-priority', 'high'], 2, /-priority "high"/],
      [['-method', 'topology', 'stray'], 2, /stray/],
      [['-method', 'topology', '-zones', 'z1'], 2, /zones/],
      [
        ['-method', 'set-topology', '-zone', 'z1', '-cidrs', '10.0.0.0/8;10.0.0.300/8'],
        1,
        /400 .*cidrs\[1\]/,
      ],
      [['-method', 'set-topology', '-zone', '-z1', '-cidrs', '10.0.0.0/8'], 1, /400 zone "-z1"/],
      [['-method', 'delete-topology', '-zone', 'nowhere'], 1, /404 zone nowhere/],
      [
        ['-method', 'create', '-domain', 'w', '-ips', '10.0.0.1', '-zone', 'z 1'],
        1,
        /400 record field "zone"/,
      ],
    ];
    for (const [args, code, re] of cases)
      it(`${args.join(' ')} → exit ${code}`, async () => {
        const before = await snapshot(store);
        const r = await apicmd(args, env());
        assert.equal(r.code, code, r.stderr);
        assert.match(r.stderr, re);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        assert.equal(r.stdout, '');
        assert.deepEqual(await snapshot(store), before);
      });
  });
});
