/**
 * Knot DNS as a secondary of hades (test/harness/knot.ts): a real etcd, a real `hades -select
 * all -transfer-allow … -notify <knot>`, a real knotd loading the zones by AXFR and following
 * them by NOTIFY and IXFR. Knot must answer what hades answers, name by name and type by type,
 * after the first load and after records are added, changed, deleted and an address goes DOWN;
 * the same with TSIG on everything; and a zone of 100,000 names loads whole (its time and hades's
 * peak RSS are printed: the figures live in bench/README.md).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Op, Store } from '../../src/store/types.js';
import type { EtcdProcess } from '../harness/etcd.js';
import { type KnotKey, type KnotSecondary, startKnotSecondary } from '../harness/knot.js';
import { metricValue, scrape } from '../lib/scrape.js';
import { type DigRR, dig, kdig, parseDig, waitFor } from './clients.js';
import { etcdArgs, freeDnsPort, type HadesProc, startEtcdStore, startHades } from './hades-proc.js';

const ZONE = 'hades.local.';
const REV = '10.in-addr.arpa.';
const STATUS = '/hades/monitor/status/';
const TYPES = ['A', 'AAAA', 'CNAME', 'TXT', 'MX', 'SRV', 'PTR', 'NS', 'SOA'];

async function load(s: Store): Promise<void> {
  const put = (k: string, v: object) => s.put(k, JSON.stringify(v));
  await put('/hades/local/hades/web/a', { host: '10.0.0.1', ttl: 60 });
  await put('/hades/local/hades/web/b', { host: '10.0.0.2', ttl: 60 });
  await put('/hades/local/hades/web/c', { host: '10.0.0.3', ttl: 60 });
  await put('/hades/local/hades/web/d', { host: 'fd00::1', ttl: 60 });
  await put('/hades/local/hades/alias', { host: 'web.hades.local', ttl: 120 });
  await put('/hades/local/hades/out', { host: 'www.example.net' });
  await put('/hades/local/hades/txt', { text: 'hello world', ttl: 30 });
  await put('/hades/local/hades/mail/mx1', { host: 'smtp.hades.local', mail: true, priority: 5 });
  await put('/hades/local/hades/smtp', { host: '10.0.2.1' });
  await put('/hades/local/hades/_http/_tcp/api/x', { host: '10.0.3.1', port: 8080, priority: 20, weight: 5 });
  await put('/hades/local/hades/dns/ns/ns1', { host: '10.0.0.53' });
  await put('/hades/arpa/in-addr/10/0/0/1', { host: 'web.hades.local' });
  await put(`${STATUS}10.0.0.3`, { status: 'DOWN' });
}

/** Every owner name of a zone's AXFR from `port`, and whether it is an alias (has a CNAME). */
async function axfrNames(port: number, zone: string, key?: KnotKey): Promise<[string, boolean][]> {
  const y = key ? ['-y', `${key.algorithm}:${key.name}:${key.secret}`] : [];
  const r = await kdig(port, [...y, 'AXFR', zone, '+noall', '+answer']);
  const names = new Map<string, boolean>();
  for (const l of r.stdout.split('\n')) {
    const f = l.trim().split(/\s+/);
    if (f.length < 4 || l.startsWith(';') || f[3] === 'TSIG') continue;
    const name = f[0].toLowerCase();
    names.set(name, names.get(name) === true || f[3] === 'CNAME');
  }
  assert.ok(names.size > 0, `AXFR of ${zone} from ${port}: ${r.stdout}${r.stderr}`);
  return [...names].sort();
}

/**
 * The answer of `server` to name/type: rcode and the sorted records (TTL included). An SOA's
 * serial is left out: a zone nothing changed in keeps its serial on the secondary while hades's
 * moves with every revision (the secondary learns it at its next refresh).
 */
async function answer(port: number, name: string, type: string): Promise<string> {
  const r = parseDig((await dig(port, ['+norec', name, type])).stdout);
  const data = (x: DigRR) => (x.type === 'SOA' ? x.data.replace(/^(\S+ \S+) \d+/, '$1 SERIAL') : x.data);
  const rrs = r.answer
    .map((x) => `${x.name.toLowerCase()} ${x.ttl} ${x.type} ${data(x).toLowerCase()}`)
    .sort();
  return `${r.status} ${rrs.join(' | ')}`;
}

/**
 * Knot answers every name of hades's zones as hades does, for every type but those a zone cannot
 * say as hades does (docs/operations.md, secondaries): an alias is asked only CNAME, and A, AAAA,
 * TXT where hades's answer has records (a zone answers every type with the CNAME; hades, as
 * CoreDNS, only those three, and only when the chain ends in records), and no PTR outside
 * reverse zones (hades, as CoreDNS, answers one for a name whose record names a host); in a
 * reverse zone only PTR (hades answers an A question there with the PTR's host as a CNAME).
 */
async function sameAnswers(hadesPort: number, knotPort: number, key?: KnotKey): Promise<number> {
  let compared = 0;
  for (const zone of [ZONE, REV])
    for (const [name, alias] of await axfrNames(hadesPort, zone, key))
      for (const type of zone === REV
        ? ['PTR', 'NS', 'SOA']
        : alias
          ? ['A', 'AAAA', 'TXT', 'CNAME']
          : TYPES) {
        if (type === 'PTR' && zone !== REV) continue;
        const [h, k] = await Promise.all([answer(hadesPort, name, type), answer(knotPort, name, type)]);
        if (alias && type !== 'CNAME' && h === 'NOERROR ') continue;
        assert.equal(k, h, `${name} ${type}: knot (left) and hades (right)`);
        compared++;
      }
  return compared;
}

async function soaSerial(port: number, zone: string): Promise<number> {
  const r = parseDig((await dig(port, [zone, 'SOA'])).stdout);
  const soa = r.answer.find((x) => x.type === 'SOA');
  assert.ok(soa, `SOA of ${zone}`);
  return Number(soa.data.split(/\s+/)[2]);
}

for (const withKey of [false, true])
  describe(`Knot as a secondary of hades${withKey ? ', TSIG' : ''} (etcd, hades, knotd)`, () => {
    const key: KnotKey | undefined = withKey
      ? {
          name: 'xfr.test.',
          algorithm: 'hmac-sha256',
          secret: Buffer.from('a test key of 32 octets, really!').toString('base64'),
        }
      : undefined;
    let etcd: EtcdProcess;
    let store: Store;
    let hades: HadesProc;
    let knot: KnotSecondary;
    let port: number;
    let metrics: number;

    before(async () => {
      ({ etcd, store } = await startEtcdStore(load));
      port = await freeDnsPort();
      metrics = await freeDnsPort();
      knot = await startKnotSecondary({ primary: { host: '127.0.0.1', port }, zones: [ZONE, REV], key });
      const tsig = key ? ['-tsig', `${key.name}:${key.algorithm}:${key.secret}`] : [];
      hades = await startHades(
        etcdArgs(
          port,
          etcd,
          [
            '-select',
            'all',
            '-transfer-allow',
            '127.0.0.1',
            '-notify',
            `127.0.0.1:${knot.port}`,
            '-metrics-port',
            String(metrics),
            ...tsig,
          ],
          `${ZONE},${REV}`,
        ),
        port,
      );
      // Knot's first try may have found nothing listening: try again now
      await waitFor(
        'hades to have built the zones',
        async () => metricValue(await scrape(metrics), 'hades_transfer_names') > 0,
      );
      for (const z of [ZONE, REV]) await knot.refresh(z);
    });
    after(async () => {
      await knot?.stop();
      await hades?.stop();
      await store?.close();
      await etcd?.stop();
    });

    it('loads each zone by AXFR and answers every name and type as hades does', async () => {
      for (const z of [ZONE, REV]) await knot.waitSerial(z, await soaSerial(port, z));
      assert.match(knot.log(), /AXFR, incoming, remote 127\.0\.0\.1@\d+, finished/);
      const n = await sameAnswers(port, knot.port, key);
      assert.ok(n >= 12 * TYPES.length, `${n} answers compared`);
    });

    it('follows adds, changes, deletes and a DOWN address through NOTIFY and IXFR', async () => {
      const put = (k: string, v: object) => store.put(k, JSON.stringify(v));
      await put('/hades/local/hades/web/e', { host: '10.0.0.5', ttl: 60 });
      await put('/hades/local/hades/txt', { text: 'changed', ttl: 45 });
      await store.delete('/hades/local/hades/alias');
      await put(`${STATUS}10.0.0.1`, { status: 'DOWN' });
      await put('/hades/local/hades/new/x', { host: 'fd00::9' });
      const serial = await soaSerial(port, ZONE);
      await knot.waitSerial(ZONE, serial);
      const log = knot.log();
      assert.match(log, /notify, incoming, remote 127\.0\.0\.1@\d+/);
      assert.match(log, /IXFR, incoming, remote 127\.0\.0\.1@\d+, finished/);
      assert.equal(
        await answer(knot.port, 'web.hades.local.', 'A'),
        await answer(port, 'web.hades.local.', 'A'),
      );
      assert.doesNotMatch(await answer(knot.port, 'web.hades.local.', 'A'), /10\.0\.0\.1 /, 'DOWN left out');
      assert.match(await answer(knot.port, 'alias.hades.local.', 'CNAME'), /^NXDOMAIN/);
      await sameAnswers(port, knot.port, key);
      const m = await scrape(metrics);
      assert.ok(metricValue(m, 'hades_transfer_notify_acknowledged_total') >= 1);
      assert.ok(metricValue(m, 'hades_transfer_requests_total', { type: 'ixfr', result: 'ok' }) >= 1);
      if (key) assert.doesNotMatch(log, /TSIG/, 'no TSIG failure in Knot');
      assert.ok(!hades.stderr().includes(key?.secret ?? '\u0000'), 'the secret is never logged');
    });
  });

describe('a zone of 100,000 names to Knot (etcd, hades, knotd)', () => {
  const N = 100_000;
  let etcd: EtcdProcess;
  let store: Store;
  let hades: HadesProc;
  let knot: KnotSecondary;
  let port: number;
  let metrics: number;

  before(async () => {
    ({ etcd, store } = await startEtcdStore(async (s) => {
      const inflight: Promise<unknown>[] = [];
      for (let i = 0; i < N; i += 100) {
        const ops: Op[] = [];
        for (let j = i; j < i + 100; j++)
          ops.push({
            op: 'put',
            key: `/hades/local/hades/big/n${j}`,
            value: JSON.stringify({ host: `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`, ttl: 30 }),
          });
        inflight.push(s.txn({ compare: [], success: ops }));
        if (inflight.length >= 16) await Promise.all(inflight.splice(0));
      }
      await Promise.all(inflight);
    }));
    port = await freeDnsPort();
    metrics = await freeDnsPort();
    knot = await startKnotSecondary({ primary: { host: '127.0.0.1', port }, zones: [ZONE] });
    hades = await startHades(
      etcdArgs(port, etcd, ['-transfer-allow', '127.0.0.1', '-metrics-port', String(metrics)], ZONE),
      port,
    );
  });
  after(async () => {
    await knot?.stop();
    await hades?.stop();
    await store?.close();
    await etcd?.stop();
  });

  it('transfers whole, in many messages; prints the time and hades peak RSS', async () => {
    const rss = () =>
      Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${hades.pid}/status`, 'utf8'))?.[1]) / 1024;
    const current = () => /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${hades.pid}/status`, 'utf8'))?.[1];
    await waitFor(
      'hades to have built the zone',
      async () => metricValue(await scrape(metrics), 'hades_transfer_names') >= N,
      300_000,
    );
    const peakBefore = rss();
    const rssBefore = Number(current()) / 1024;
    const t0 = performance.now();
    await knot.retransfer(ZONE);
    await knot.waitSerial(ZONE, await soaSerial(port, ZONE), 300_000);
    const seconds = (performance.now() - t0) / 1000;
    const done = /AXFR, incoming, remote [^,]+, finished, [\d.]+ seconds, (\d+) messages, (\d+) bytes/.exec(
      knot.log(),
    );
    assert.ok(done, knot.log().slice(-2000));
    assert.ok(Number(done[1]) > 100, `${done[1]} messages`);
    for (const j of [0, 1, 4242, N - 1])
      assert.match(
        await answer(knot.port, `n${j}.big.hades.local.`, 'A'),
        /^NOERROR n\d+\.big\.hades\.local\. 30 A 10\./,
      );
    console.log(
      `100,000 names: Knot loaded the AXFR in ${seconds.toFixed(2)} s (${done[1]} messages, ${(Number(done[2]) / 1e6).toFixed(1)} MB); hades RSS ${rssBefore.toFixed(0)} MB before, peak ${rss().toFixed(0)} MB (peak before the transfer ${peakBefore.toFixed(0)} MB)`,
    );
  });
});
