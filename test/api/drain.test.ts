/**
 * Drain and probes through the API, on a real etcd with a real hades-kubeapi (the API process)
 * and a real hades: PUT /v1/health/{ip} drain/none by compare-and-swap keeping every other
 * field, bad bodies refused with the field and nothing written (every case compares a full etcd
 * listing), GET's shape; POST/PUT /v1/records with a probe writing the record and the status key
 * in one transaction (one revision), a bad probe or a probe on a CNAME refused with nothing
 * written; hades-apicmd -method drain/undrain against the API process with dig through hades,
 * and its bad flags (exit 2, one line). The token never reaches the logs.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { dig, parseDig, waitFor } from '../dns/clients.js';
import { freeDnsPort, type HadesProc, startHades } from '../dns/hades-proc.js';
import { type EtcdProcess, freePort, startEtcd } from '../harness/etcd.js';
import { apicmd, JSON_HEADERS, type Kubeapi, req, snapshot, startKubeapi, TOKEN } from './helpers.js';

const STATUS = '/hades/monitor/status/';
const READ_TOKEN = 'read-only-token-drain';
const PROBE = { httpGet: { path: '/healthz', port: 8080, expectStatus: '200,204' }, periodSeconds: 5 };

describe('drain and probes through hades-kubeapi, hades-apicmd and hades', () => {
  let etcd: EtcdProcess;
  let store: Store;
  let kubeapi: Kubeapi;
  let hades: HadesProc;
  let dns: number;
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
    return { status: r.status, body: json as { [k: string]: unknown } };
  };
  const status = async (ip: string) => {
    const kv = await store.get(`${STATUS}${ip}`);
    return kv ? { value: JSON.parse(kv.value), modRevision: kv.modRevision } : undefined;
  };
  const env = (): NodeJS.ProcessEnv => ({
    HADES_API_ADDR: base.replace('http://', ''),
    HADES_API_TOKEN: TOKEN,
  });

  before(async () => {
    etcd = await startEtcd();
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-drain-'));
    const tokens = path.join(dir, 'tokens');
    writeFileSync(tokens, `${READ_TOKEN} read\n`);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    kubeapi = await startKubeapi([
      '-config-file',
      '',
      '-etcd-server',
      etcd.endpoint,
      '-domain',
      'hades.local.',
      '-hades-auth',
      TOKEN,
      '-tokens-file',
      tokens,
      '-api-address',
      `127.0.0.1:${port}`,
      '-api-rate',
      '0',
      '-logtostderr',
    ]);
    dns = await freeDnsPort();
    hades = await startHades(
      ['-addr', `127.0.0.1:${dns}`, '-machines', etcd.endpoint, '-domain', 'hades.local.'],
      dns,
    );
  });

  after(async () => {
    await hades?.stop();
    await kubeapi?.stop();
    await store?.close();
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('PUT drain / none: compare-and-swap, every other field kept', async () => {
    const r = await call('POST', '/v1/records', { name: 'web.hades.local', type: 'A', address: '10.50.0.1' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    // what a scanner and a person left there: all of it must survive
    const before = {
      status: 'DOWN',
      ports: ['80', 443],
      probe: PROBE,
      reason: 'HTTP 503',
      changed: '2026-12-01T10:00:00.000Z',
      owner: { team: 'web' },
    };
    await store.put(`${STATUS}10.50.0.1`, JSON.stringify(before));
    const d = await call('PUT', '/v1/health/10.50.0.1', { admin: 'drain' });
    assert.equal(d.status, 200, JSON.stringify(d.body));
    assert.equal(d.body.admin, 'drain');
    assert.deepEqual((await status('10.50.0.1'))?.value, { ...before, admin: 'drain' });
    // again: nothing to change, nothing written
    const rev = (await status('10.50.0.1'))?.modRevision;
    assert.equal((await call('PUT', '/v1/health/10.50.0.1', { admin: 'drain' })).status, 200);
    assert.equal((await status('10.50.0.1'))?.modRevision, rev);
    const n = await call('PUT', '/v1/health/10.50.0.1', { admin: 'none' });
    assert.equal(n.status, 200, JSON.stringify(n.body));
    assert.equal(n.body.admin, 'none');
    assert.deepEqual((await status('10.50.0.1'))?.value, before);
  });

  it('GET /v1/health/{ip} and /v1/health: status, ports, probe, reason, changed, admin', async () => {
    await store.put(
      `${STATUS}10.50.0.1`,
      JSON.stringify({
        status: 'DOWN',
        ports: ['80'],
        probe: PROBE,
        reason: 'HTTP 503',
        changed: '2026-12-01T10:00:00.000Z',
        admin: 'drain',
      }),
    );
    const want = {
      ip: '10.50.0.1',
      status: 'DOWN',
      ports: ['80'],
      probe: PROBE,
      probeSummary: 'httpGet HTTP :8080/healthz',
      reason: 'HTTP 503',
      changed: '2026-12-01T10:00:00.000Z',
      admin: 'drain',
    };
    const g = await call('GET', '/v1/health/10.50.0.1', undefined, { authorization: `Bearer ${READ_TOKEN}` });
    assert.equal(g.status, 200);
    assert.deepEqual(g.body, want);
    const all = await call('GET', '/v1/health');
    assert.deepEqual(
      (all.body.health as { ip: string }[]).find((h) => h.ip === '10.50.0.1'),
      want,
    );
    // a stored probe that does not validate: shown with the reason the scanner skips it
    await store.put(`${STATUS}10.50.0.1`, '{"status":"UP","probe":{"tcpSocket":{"port":0}}}');
    const bad = await call('GET', '/v1/health/10.50.0.1');
    assert.match(String(bad.body.probeError), /probe\.tcpSocket\.port/);
    assert.equal(bad.body.probeSummary, undefined);
    assert.equal(bad.body.admin, 'none');
    assert.equal((await call('GET', '/v1/health/10.50.9.9')).status, 404);
  });

  it('drain of an address without a status key creates {"status":"UP","admin":"drain"}; undrain there writes nothing', async () => {
    const d = await call('PUT', '/v1/health/10.50.1.1', { admin: 'drain' });
    assert.equal(d.status, 200, JSON.stringify(d.body));
    assert.deepEqual(d.body, { ip: '10.50.1.1', status: 'UP', admin: 'drain' });
    assert.equal((await store.get(`${STATUS}10.50.1.1`))?.value, '{"status":"UP","admin":"drain"}');
    await store.delete(`${STATUS}10.50.1.1`);
    const before = await snapshot(store);
    const n = await call('PUT', '/v1/health/10.50.1.2', { admin: 'none' });
    assert.equal(n.status, 200);
    assert.deepEqual(n.body, { ip: '10.50.1.2', admin: 'none' });
    assert.deepEqual(await snapshot(store), before);
    // the text form of the address does not matter: one key per address
    assert.equal((await call('PUT', '/v1/health/2001:DB8:0::1', { admin: 'drain' })).status, 200);
    assert.ok(await store.get(`${STATUS}2001:db8::1`));
  });

  it('a status key that is not a usable status: 409 for a drain and for a probe, nothing overwritten', async () => {
    await store.put(`${STATUS}10.50.5.1`, '{"status":"MAYBE","note":"by hand"}');
    const before = await snapshot(store);
    const d = await call('PUT', '/v1/health/10.50.5.1', { admin: 'drain' });
    assert.equal(d.status, 409, JSON.stringify(d.body));
    assert.match(String(d.body.error), /not usable/);
    const p = await call('POST', '/v1/records', {
      name: 'junk.hades.local',
      type: 'A',
      address: '10.50.5.1',
      probe: { icmp: {} },
    });
    assert.equal(p.status, 409, JSON.stringify(p.body));
    assert.deepEqual(await snapshot(store), before);
    await store.delete(`${STATUS}10.50.5.1`);
  });

  describe('bad requests: 4xx naming the field, nothing written', () => {
    const cases: [
      string,
      string,
      string,
      unknown,
      Record<string, string> | undefined,
      number,
      string | undefined,
    ][] = [
      ['no admin', 'PUT', '/v1/health/10.50.0.1', {}, undefined, 400, 'admin'],
      ['admin not a state', 'PUT', '/v1/health/10.50.0.1', { admin: 'maintenance' }, undefined, 400, 'admin'],
      ['admin not a string', 'PUT', '/v1/health/10.50.0.1', { admin: true }, undefined, 400, 'admin'],
      [
        'unknown field',
        'PUT',
        '/v1/health/10.50.0.1',
        { admin: 'drain', status: 'UP' },
        undefined,
        400,
        'status',
      ],
      ['body a list', 'PUT', '/v1/health/10.50.0.1', ['drain'], undefined, 400, undefined],
      ['not an address', 'PUT', '/v1/health/10.50.0.300', { admin: 'drain' }, undefined, 400, 'ip'],
      ['no token', 'PUT', '/v1/health/10.50.0.1', { admin: 'drain' }, JSON_HEADERS, 401, undefined],
      [
        'read-only token',
        'PUT',
        '/v1/health/10.50.0.1',
        { admin: 'drain' },
        { ...JSON_HEADERS, authorization: `Bearer ${READ_TOKEN}` },
        403,
        undefined,
      ],
      [
        'bad probe port',
        'POST',
        '/v1/records',
        { name: 'p1.hades.local', type: 'A', address: '10.50.2.1', probe: { httpGet: { port: 70000 } } },
        undefined,
        400,
        'probe.httpGet.port',
      ],
      [
        'probe with two handlers',
        'POST',
        '/v1/records',
        {
          name: 'p1.hades.local',
          type: 'A',
          address: '10.50.2.1',
          probe: { tcpSocket: { port: 80 }, icmp: {} },
        },
        undefined,
        400,
        'probe',
      ],
      [
        'unknown probe field',
        'POST',
        '/v1/records',
        {
          name: 'p1.hades.local',
          type: 'A',
          address: '10.50.2.1',
          probe: { httpGet: { port: 80, verb: 'HEAD' } },
        },
        undefined,
        400,
        'probe.httpGet.verb',
      ],
      [
        'probe on a CNAME',
        'POST',
        '/v1/records',
        { name: 'p2.hades.local', type: 'CNAME', target: 'web.hades.local', probe: { icmp: {} } },
        undefined,
        400,
        'probe',
      ],
      [
        'probe on a TXT',
        'POST',
        '/v1/records',
        { name: 'p2.hades.local', type: 'TXT', text: 'x', probe: { icmp: {} } },
        undefined,
        400,
        'probe',
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
    it('a body that is not JSON → 400, nothing written', async () => {
      const before = await snapshot(store);
      const r = await req(base, 'PUT', '/v1/health/10.50.0.1', auth, '{"admin":');
      assert.equal(r.status, 400);
      assert.deepEqual(await snapshot(store), before);
    });
  });

  it('POST /v1/records with a probe: the record and the status key in one transaction', async () => {
    const r = await call('POST', '/v1/records', {
      name: 'api.hades.local',
      type: 'A',
      address: '10.50.3.1',
      probe: PROBE,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.deepEqual(r.body.probe, PROBE);
    const rec = (await store.list('/hades/local/hades/api/')).kvs;
    assert.equal(rec.length, 1);
    const st = await status('10.50.3.1');
    assert.deepEqual(st?.value, { status: 'UP', probe: PROBE });
    // one transaction: one revision for both keys
    assert.equal(st?.modRevision, rec[0].modRevision);
    assert.equal(r.body.modRevision, rec[0].modRevision);
    const g = await call('GET', '/v1/health/10.50.3.1');
    assert.equal(g.body.probeSummary, 'httpGet HTTP :8080/healthz');

    // an address that already has a status (drained, probed by a scanner): the probe is set, the rest kept
    await store.put(
      `${STATUS}10.50.3.2`,
      '{"status":"DOWN","admin":"drain","reason":"timeout after 1s","changed":"2026-12-01T10:00:00.000Z"}',
    );
    const probe2 = { tcpSocket: { port: '443' }, timeoutSeconds: 2 };
    const r2 = await call('POST', '/v1/records', {
      name: 'api.hades.local',
      type: 'A',
      address: '10.50.3.2',
      probe: probe2,
    });
    assert.equal(r2.status, 201, JSON.stringify(r2.body));
    const st2 = await status('10.50.3.2');
    assert.deepEqual(st2?.value, {
      status: 'DOWN',
      admin: 'drain',
      reason: 'timeout after 1s',
      changed: '2026-12-01T10:00:00.000Z',
      probe: probe2,
    });
    assert.equal(st2?.modRevision, r2.body.modRevision);
  });

  it('PUT /v1/records/{name}/{id} with a probe sets it in the same transaction; null removes it', async () => {
    const list = await call('GET', '/v1/records/api.hades.local');
    const one = (list.body.records as { id: string; address: string }[]).find(
      (x) => x.address === '10.50.3.1',
    );
    assert.ok(one);
    const icmp = { icmp: {}, failureThreshold: 2 };
    const r = await call('PUT', `/v1/records/api.hades.local/${one.id}`, {
      type: 'A',
      address: '10.50.3.1',
      ttl: 30,
      probe: icmp,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const st = await status('10.50.3.1');
    assert.deepEqual(st?.value, { status: 'UP', probe: icmp });
    assert.equal(st?.modRevision, r.body.modRevision);
    const id = String(r.body.id);
    // a bad probe on PUT: 400 naming the path, record and status unchanged
    const before = await snapshot(store);
    const bad = await call('PUT', `/v1/records/api.hades.local/${id}`, {
      type: 'A',
      address: '10.50.3.1',
      probe: { grpc: { port: 50051, service: 7 } },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'probe.grpc.service');
    assert.deepEqual(await snapshot(store), before);
    // without probe: left as it is; null: removed
    const keep = await call('PUT', `/v1/records/api.hades.local/${id}`, { type: 'A', address: '10.50.3.1' });
    assert.equal(keep.status, 200);
    assert.deepEqual((await status('10.50.3.1'))?.value, { status: 'UP', probe: icmp });
    const rm = await call('PUT', `/v1/records/api.hades.local/${String(keep.body.id)}`, {
      type: 'A',
      address: '10.50.3.1',
      probe: null,
    });
    assert.equal(rm.status, 200, JSON.stringify(rm.body));
    assert.deepEqual((await status('10.50.3.1'))?.value, { status: 'UP' });
  });

  it("the seed's /hades API is unchanged", async () => {
    const r = await req(
      base,
      'POST',
      '/hades',
      { ...JSON_HEADERS, token: TOKEN, domain: 'seed1' },
      '{"type":"A","ips":["10.50.4.1","10.50.4.2"]}',
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text, 'OK');
    assert.equal((await store.get(`${STATUS}10.50.4.1`))?.value, '{"status":"UP"}');
    const g = await req(base, 'GET', '/hades', { token: TOKEN, domain: 'seed1' });
    assert.deepEqual(JSON.parse(g.text), {
      'seed1.user.hades.local': { type: 'A', ips: ['10.50.4.1', '10.50.4.2'] },
    });
  });

  it('hades-apicmd -method drain / undrain: hades stops and resumes serving the address', async () => {
    const a = async () => {
      const r = parseDig((await dig(dns, ['seed1.user.hades.local', 'A', '+tries=2', '+time=2'])).stdout);
      assert.equal(r.status, 'NOERROR', r.raw);
      return r.answer.map((x) => x.data);
    };
    // sticky: one address per client; both are UP, so the drained one must never come back
    const d1 = await apicmd(['-method', 'drain', '-ip', '10.50.4.1'], env());
    assert.equal(d1.code, 0, d1.stderr);
    assert.equal(d1.stdout, 'OK\n');
    const d2 = await apicmd(['-method', 'drain', '-ip', '10.50.4.2', '-json'], env());
    assert.equal(d2.code, 0, d2.stderr);
    assert.deepEqual(JSON.parse(d2.stdout), { ip: '10.50.4.2', status: 'UP', admin: 'drain' });
    assert.equal((await status('10.50.4.1'))?.value.admin, 'drain');
    // both drained: no address at all
    await waitFor('seed1 NODATA', async () => (await a()).length === 0, 30_000, { everyMs: 50 });
    const u = await apicmd(['-method', 'undrain', '-ip', '10.50.4.2'], env());
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual((await status('10.50.4.2'))?.value, { status: 'UP' });
    await waitFor('seed1 → 10.50.4.2', async () => JSON.stringify(await a()) === '["10.50.4.2"]', 30_000, {
      everyMs: 50,
    });
    // the other one is still drained whoever asks
    for (let i = 0; i < 8; i++) {
      const r = await dig(dns, ['-b', `127.0.3.${i + 1}`, '+short', 'seed1.user.hades.local', 'A']);
      assert.equal(r.stdout.trim(), '10.50.4.2', r.stdout + r.stderr);
    }
    assert.equal((await apicmd(['-method', 'undrain', '-ip', '10.50.4.1'], env())).code, 0);
    assert.doesNotMatch(kubeapi.stderr(), new RegExp(TOKEN));
  });

  describe('hades-apicmd bad flags: exit 2 (1 for what the API refuses), one line', () => {
    const cases: [string[], number, RegExp][] = [
      [['-method', 'drain'], 2, /-method drain needs -ip/],
      [['-method', 'undrain', '-ip', ''], 2, /-method undrain needs -ip/],
      [['-method', 'drain', '-ip', '10.50.0.300'], 2, /-ip "10\.50\.0\.300" is not an IPv4 or IPv6 address/],
      [
        ['-method', 'create', '-domain', 'x', '-ips', '10.0.0.1', '-ip', '10.0.0.1'],
        2,
        /-ip goes with -method drain/,
      ],
      [['-method', 'pause', '-ip', '10.50.0.1'], 2, /-method/],
      [['-method', 'drain', '-ip', '10.50.0.1', '-bogus'], 2, /bogus/],
      [['-method', 'drain', '-ip', '10.50.0.1', '-token', 'wrong-token-123'], 1, /401 token not accepted/],
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
