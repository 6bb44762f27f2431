/**
 * The seed README's session, end to end: hades-kubeapi (INI config file in the seed's layout) on
 * a real etcd, the two curl calls (fetch, same headers and bodies), hades-apicmd -list / -show,
 * and the names answering through a real `hades` via dig; then update/delete through apicmd.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { leafKey, serializeRecordValue } from '../../src/records/record.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { dig, parseDig, waitFor } from '../dns/clients.js';
import { freeDnsPort, type HadesProc, startHades } from '../dns/hades-proc.js';
import { type EtcdProcess, freePort, startEtcd } from '../harness/etcd.js';
import { apicmd, JSON_HEADERS, type Kubeapi, req, startKubeapi, TOKEN } from './helpers.js';

const SVC = [
  ['qiyf-nginx-5', '192.168.19.113'],
  ['qiyf-nginx-9', '192.168.19.120'],
  ['qiyf-nginx-14', '192.168.19.125'],
];

describe('the seed session: curl, hades-apicmd, nslookup', () => {
  let etcd: EtcdProcess;
  let store: Store;
  let kubeapi: Kubeapi;
  let hades: HadesProc;
  let dns: number;
  let base: string;
  let dir: string;
  const env = (): NodeJS.ProcessEnv => ({
    HADES_API_ADDR: base.replace('http://', ''),
    HADES_API_TOKEN: TOKEN,
  });

  before(async () => {
    etcd = await startEtcd();
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    for (const [svc, ip] of SVC) {
      // as Hades 1.x's kube2hades wrote them
      const v = serializeRecordValue({ host: ip, priority: 10, weight: 10, ttl: 30, type: 'A' });
      await store.put(leafKey(`/hades/local/hades/svc/default/${svc}`, v), v);
    }
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-api-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const conf = path.join(dir, 'hades-api.conf');
    writeFileSync(
      conf,
      [
        '[General]',
        'domain = hades.local.',
        `etcd-server = ${etcd.endpoint}`,
        'ip-monitor-path = /hades/monitor/status/',
        'log-level = 0',
        '[Kube2Hades]',
        'kube-enable = NO',
        'kube-master-url = http://127.0.0.1:8080',
        '[HadesApi]',
        'api-enable = YES',
        `api-address = 127.0.0.1:${port}`,
        `hades-auth = ${TOKEN}`,
        '',
      ].join('\n'),
    );
    kubeapi = await startKubeapi(['-config-file', conf, '-logtostderr']);
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

  it('curl POST A and POST cname answer OK', async () => {
    const a = await req(
      base,
      'POST',
      '/hades',
      { ...JSON_HEADERS, token: TOKEN, domain: 'cctv1' },
      '{"type":"A","ips":["192.168.10.1","192.168.10.2","192.168.10.3"]}',
    );
    assert.equal(a.status, 200, a.text);
    assert.equal(a.text, 'OK');
    const c = await req(
      base,
      'POST',
      '/hades',
      { ...JSON_HEADERS, token: TOKEN, domain: 'cctv1.user.hades.local' },
      '{"type":"cname","alias":"tv1"}',
    );
    assert.equal(c.status, 200, c.text);
    assert.equal(c.text, 'OK');
    // each address has its status key
    for (const ip of ['192.168.10.1', '192.168.10.2', '192.168.10.3'])
      assert.equal((await store.get(`/hades/monitor/status/${ip}`))?.value, '{"status":"UP"}');
    const recs = await store.list('/hades/local/hades/user/cctv1/');
    assert.equal(recs.kvs.length, 3);
    for (const kv of recs.kvs) assert.match(kv.value, /"source":"api"/);
  });

  it('hades-apicmd -list and -show print the seed lines', async () => {
    const list = await apicmd(['-list'], env());
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    const w = 'qiyf-nginx-14.default.svc.hades.local'.length;
    assert.ok(
      lines.includes(
        `domain:  ${'qiyf-nginx-5.default.svc.hades.local'.padStart(w)}  val: { type:A  ips:[192.168.19.113] }`,
      ),
      list.stdout,
    );
    assert.ok(
      lines.includes(
        `domain:  ${'cctv1.user.hades.local'.padStart(w)}  val: { type:A  ips:[192.168.10.1 192.168.10.2 192.168.10.3] }`,
      ),
      list.stdout,
    );
    assert.ok(
      lines.includes(
        `domain:  ${'tv1.user.hades.local'.padStart(w)}  val: { type:cname  host:cctv1.user.hades.local }`,
      ),
      list.stdout,
    );
    assert.equal(lines.length, 5);
    const show = await apicmd(['-show', 'qiyf-nginx-5.default'], env());
    assert.equal(show.code, 0, show.stderr);
    assert.equal(
      show.stdout,
      'domain:  qiyf-nginx-5.default.svc.hades.local  val: { type:A  ips:[192.168.19.113] }\n',
    );
    const json = await apicmd(['-show', 'cctv1', '-json', '-addr', base, '-token', TOKEN]);
    assert.deepEqual(JSON.parse(json.stdout), {
      'cctv1.user.hades.local': { type: 'A', ips: ['192.168.10.1', '192.168.10.2', '192.168.10.3'] },
    });
  });

  it('the names answer through hades (nslookup → dig)', async () => {
    const ips = ['192.168.10.1', '192.168.10.2', '192.168.10.3'];
    let answered = '';
    await waitFor('cctv1 to answer', async () => {
      const r = parseDig((await dig(dns, ['cctv1.user.hades.local', 'A'])).stdout);
      answered = r.answer.find((x) => x.type === 'A')?.data ?? '';
      return ips.includes(answered);
    });
    const svc = parseDig((await dig(dns, ['qiyf-nginx-5.default.svc.hades.local', 'A'])).stdout);
    assert.deepEqual(
      svc.answer.map((x) => x.data),
      ['192.168.19.113'],
    );
    const tv1 = parseDig((await dig(dns, ['tv1.user.hades.local', 'A'])).stdout);
    assert.equal(tv1.answer[0].type, 'CNAME');
    assert.equal(tv1.answer[0].data, 'cctv1.user.hades.local.');
    assert.ok(ips.includes(tv1.answer[1].data), tv1.raw);
    // the scanner marks the answered address DOWN: hades picks another
    await store.put(`/hades/monitor/status/${answered}`, '{"status":"DOWN"}');
    await waitFor('another address', async () => {
      const r = parseDig((await dig(dns, ['cctv1.user.hades.local', 'A'])).stdout);
      const a = r.answer.find((x) => x.type === 'A')?.data ?? '';
      return a !== '' && a !== answered;
    });
  });

  it('/v1 records of every type answer through hades', async () => {
    const h = { ...JSON_HEADERS, authorization: `Bearer ${TOKEN}` };
    const bodies = [
      { name: 'web.v1.hades.local', type: 'A', address: '10.20.0.1' },
      { name: 'web6.v1.hades.local', type: 'AAAA', address: '2001:db8::20' },
      { name: 'www.v1.hades.local', type: 'CNAME', target: 'web.v1.hades.local' },
      { name: '_http._tcp.web.v1.hades.local', type: 'SRV', target: 'web.v1.hades.local', port: 8080 },
      { name: 'txt.v1.hades.local', type: 'TXT', text: 'hello api' },
      { name: 'v1.hades.local', type: 'MX', target: 'mail.v1.hades.local', preference: 5 },
    ];
    for (const b of bodies) {
      const r = await req(base, 'POST', '/v1/records', h, JSON.stringify(b));
      assert.equal(r.status, 201, r.text);
    }
    const ask = async (name: string, type: string) => parseDig((await dig(dns, [name, type])).stdout);
    await waitFor(
      'the /v1 records to answer',
      async () => (await ask('v1.hades.local', 'MX')).answer.length > 0,
    );
    assert.deepEqual(
      (await ask('web.v1.hades.local', 'A')).answer.map((x) => x.data),
      ['10.20.0.1'],
    );
    assert.deepEqual(
      (await ask('web6.v1.hades.local', 'AAAA')).answer.map((x) => x.data),
      ['2001:db8::20'],
    );
    const www = await ask('www.v1.hades.local', 'A');
    assert.deepEqual(
      www.answer.map((x) => `${x.type} ${x.data}`),
      ['CNAME web.v1.hades.local.', 'A 10.20.0.1'],
    );
    const srv = (await ask('_http._tcp.web.v1.hades.local', 'SRV')).answer;
    assert.equal(srv.length, 1);
    assert.match(srv[0].data, /^10 \d+ 8080 web\.v1\.hades\.local\.$/);
    assert.deepEqual(
      (await ask('txt.v1.hades.local', 'TXT')).answer.map((x) => x.data),
      ['"hello api"'],
    );
    assert.deepEqual(
      (await ask('v1.hades.local', 'MX')).answer.map((x) => x.data),
      ['5 mail.v1.hades.local.'],
    );
  });

  it('hades-apicmd update and delete; status keys follow', async () => {
    const up = await apicmd(
      ['-method', 'update', '-domain', 'cctv1', '-updates', 'ips:192.168.10.1->192.168.10.9'],
      env(),
    );
    assert.equal(up.code, 0, up.stderr);
    assert.equal(up.stdout, 'OK\n');
    assert.equal(await store.get('/hades/monitor/status/192.168.10.1'), undefined);
    assert.equal((await store.get('/hades/monitor/status/192.168.10.9'))?.value, '{"status":"UP"}');
    const ren = await apicmd(['-method', 'update', '-domain', 'cctv1', '-updates', 'alias:tv1->tv2'], env());
    assert.equal(ren.code, 0, ren.stderr);
    await waitFor('tv2 answers', async () => {
      const r = parseDig((await dig(dns, ['tv2.user.hades.local', 'A'])).stdout);
      return r.answer[0]?.data === 'cctv1.user.hades.local.';
    });
    const delAlias = await apicmd(['-method', 'delete', '-domain', 'cctv1', '-alias', 'tv2'], env());
    assert.equal(delAlias.code, 0, delAlias.stderr);
    const del = await apicmd(['-method', 'delete', '-domain', 'cctv1'], env());
    assert.equal(del.code, 0, del.stderr);
    assert.equal((await store.list('/hades/local/hades/user/')).kvs.length, 0);
    assert.equal((await store.list('/hades/monitor/status/192.168.10.')).kvs.length, 0);
    await waitFor(
      'cctv1 NXDOMAIN',
      async () => parseDig((await dig(dns, ['cctv1.user.hades.local', 'A'])).stdout).status === 'NXDOMAIN',
    );
    // errors: one line, exit ≠ 0
    const missing = await apicmd(['-show', 'nosuch'], env());
    assert.notEqual(missing.code, 0);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^hades-apicmd: 404 domain nosuch\.user\.hades\.local not found\n$/);
    const badTok = await apicmd(['-list'], { ...env(), HADES_API_TOKEN: 'wrong-token' });
    assert.notEqual(badTok.code, 0);
    assert.match(badTok.stderr, /^hades-apicmd: 401 token not accepted\n$/);
    // requests were logged, secrets were not
    assert.match(kubeapi.stderr(), /api: request/);
    assert.ok(!kubeapi.stderr().includes(TOKEN));
    assert.ok(!kubeapi.stderr().includes('wrong-token'));
  });
});
