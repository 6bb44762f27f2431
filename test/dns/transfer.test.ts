/**
 * Zone transfers out end to end: a real etcd (the test records plus a set of this file's: A,
 * AAAA, TXT, MX, SRV to a name and to an address, CNAMEs in and out of the zone, PTRs, nested
 * names, DOWN, all-DOWN and drained addresses, records saying `select: sticky` and `alldown:
 * closed`, and a few hundred bulk names so the zone takes several messages) and four real hades
 * on it: `main` (-select all, -transfer-allow 127.0.0.1), `restricted` (-transfer-allow
 * 127.0.0.2 only), `closed` (no -transfer-allow) and `signed` (-transfer-allow 127.0.0.1 and
 * -tsig), asked by dig and kdig.
 *
 * - AXFR: SOA first and last with the serial a SOA query gives (the etcd revision), the apex
 *   NS set, several messages of about 16 KiB; for every name in it, dig's answers of `main`
 *   (-select all) for each type are the transferred RRset (data and TTL).
 * - IXFR after puts, deletes and health changes: SOA(new) [SOA(old) deletions SOA(new)
 *   additions]… SOA(new); applied to the earlier AXFR it gives a fresh AXFR. From the current
 *   serial: one SOA; from a serial older than the journal or ahead of the server: the whole zone.
 * - UDP: the current SOA alone, with TC unless an IXFR is up to date (raw), and dig retrying over TCP.
 * - Refusals (REFUSED outside -transfer-allow or without it, NOTAUTH for a name that is not an
 *   apex), TSIG (unsigned: REFUSED, bad MAC: BADSIG, unknown key: BADKEY, signed: every message
 *   verified by kdig, a signed SOA query gets a signed reply), the secret never in stderr.
 * - hades_transfer_* on /metrics count exactly what this file did.
 * - A bad -tsig or -transfer-allow exits 2 with one line naming the flag, without the secret.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RRType } from '../../src/dns/wire/constants.js';
import { decode, type SoaData } from '../../src/dns/wire/decode.js';
import { encode, encodeQuery } from '../../src/dns/wire/encode.js';
import { nameToKey } from '../../src/records/keys.js';
import { serializeRecordValue } from '../../src/records/record.js';
import type { RecordValue } from '../../src/records/types.js';
import type { Store } from '../../src/store/types.js';
import type { EtcdProcess } from '../harness/etcd.js';
import { metricValue, scrape } from '../lib/scrape.js';
import { dig, digRecords, kdig, parseDig, tcpFrom, udpQuery, waitFor } from './clients.js';
import {
  etcdArgs,
  freeDnsPort,
  type HadesProc,
  spawnHades,
  startEtcdStore,
  startHades,
} from './hades-proc.js';
import { loadRecords, ZONES } from './records.js';

const STATUS = '/hades/monitor/status/';
const APEX = 'hades.local.';
const REVERSE = '10.in-addr.arpa.';
const X = 'xt.hades.local';
const P = 'pol.hades.local';
const BULK = 'bulk.hades.local';
const BULK_NAMES = 240;
const KEY_NAME = 'xfr.test.';
const SECRET = Buffer.from('hades transfer test secret, 32 o').toString('base64');
const WRONG = Buffer.from('not the transfer test secret 32o').toString('base64');
const TSIG = `hmac-sha256:${KEY_NAME}:${SECRET}`;

async function putName(s: Store, name: string, values: { [leaf: string]: RecordValue }): Promise<void> {
  const key = nameToKey(name);
  for (const [leaf, v] of Object.entries(values)) await s.put(`${key}/${leaf}`, serializeRecordValue(v));
}
const health = (s: Store, ip: string, status: 'UP' | 'DOWN', drain = false) =>
  s.put(`${STATUS}${ip}`, JSON.stringify(drain ? { status, admin: 'drain' } : { status }));

/** This file's records (beside the test records). */
async function loadTransferRecords(s: Store): Promise<void> {
  await loadRecords(s);
  // subtree: web.xt. holds both addresses below it
  await putName(s, `a.web.${X}`, { h: { host: '10.60.0.1', ttl: 60 } });
  await putName(s, `b.web.${X}`, { h: { host: '10.60.0.2', ttl: 60 } });
  await putName(s, `dual.${X}`, {
    v4: { host: '10.60.1.1', ttl: 120 },
    v6: { host: 'fd00:60::1', ttl: 120 },
    t: { text: 'dual text', ttl: 90 },
  });
  // an MX beside an address (an MX alone on a name answers A with a CNAME to its host)
  await putName(s, `mx.${X}`, { h: { host: '10.60.2.1' } });
  await putName(s, `post.${X}`, {
    a: { host: '10.60.2.9' },
    m: { host: `mx.${X}`, mail: true, priority: 10 },
  });
  // SRV to a name and to an address (whose target hades names after the key)
  await putName(s, `_sip._tcp.${X}`, {
    x1: { host: `sip.${X}`, port: 5060, priority: 10, weight: 50 },
    x2: { host: '10.60.3.2', port: 5061, priority: 20, weight: 50 },
  });
  await putName(s, `sip.${X}`, { h: { host: '10.60.3.1' } });
  await putName(s, `cin.${X}`, { c: { host: `web.${X}` } });
  await putName(s, `cout.${X}`, { c: { host: 'www.example.org' } });
  await putName(s, `still.er.deep.${X}`, { h: { host: '10.60.4.1', ttl: 45 } });
  // health: one DOWN of three, one drained; all DOWN (fail-open); only drained (gone)
  await putName(s, `health.${X}`, {
    h1: { host: '10.60.5.1' },
    h2: { host: '10.60.5.2' },
    h3: { host: '10.60.5.3' },
  });
  await health(s, '10.60.5.1', 'UP');
  await health(s, '10.60.5.2', 'DOWN');
  await health(s, '10.60.5.3', 'UP', true);
  await putName(s, `alldown.${X}`, { h1: { host: '10.60.6.1' }, h2: { host: '10.60.6.2' } });
  await health(s, '10.60.6.1', 'DOWN');
  await health(s, '10.60.6.2', 'DOWN');
  await putName(s, `drained.${X}`, { h1: { host: '10.60.7.1' } });
  await putName(s, `dd.${X}`, { h1: { host: '10.60.8.1' }, h2: { host: '10.60.8.2' } });
  await health(s, '10.60.8.1', 'UP', true);
  await health(s, '10.60.8.2', 'DOWN');
  await health(s, '10.60.7.1', 'UP', true);
  await health(s, '10.60.0.1', 'UP');
  // the records' own policies, which transfers ignore (and which answers do not)
  await putName(s, `sticky.${P}`, {
    h1: { host: '10.61.0.1', select: 'sticky' },
    h2: { host: '10.61.0.2', select: 'sticky' },
    h3: { host: '10.61.0.3', select: 'sticky' },
  });
  await putName(s, `closed.${P}`, {
    h1: { host: '10.61.1.1', alldown: 'closed', select: 'all' },
    h2: { host: '10.61.1.2', alldown: 'closed', select: 'all' },
  });
  await health(s, '10.61.1.1', 'DOWN');
  await health(s, '10.61.1.2', 'DOWN');
  // reverse zone
  await s.put('/hades/arpa/in-addr/10/60/0/1', serializeRecordValue({ host: `web.${X}` }));
  await s.put('/hades/arpa/in-addr/10/60/1/1', serializeRecordValue({ host: `dual.${X}`, ttl: 77 }));
  // enough for several messages
  const bulk: Promise<void>[] = [];
  for (let i = 0; i < BULK_NAMES; i++)
    bulk.push(putName(s, `n${i}.${BULK}`, { t: { text: `${i} ${'t'.repeat(110)}` } }));
  await Promise.all(bulk);
}

/** One record of a transfer or answer: `name ttl type data` (name in lower case). */
type RR = string;
const rr = (r: string[]): RR => `${r[0].toLowerCase()} ${r[1]} ${r[3]} ${r[4]}`;
const rrName = (r: RR) => r.slice(0, r.indexOf(' '));
const rrType = (r: RR) => r.split(' ')[2];

/** The records of a dig/kdig transfer (`+noall +answer` or kdig's XFR output), TSIG left out. */
function xfrRecords(out: string): RR[] {
  return digRecords(out)
    .filter((r) => r[3] !== 'TSIG')
    .map(rr);
}
const soaSerial = (r: RR) => Number(r.split(' ')[5]);

interface Xfr {
  records: RR[];
  serial: number;
  /** The records between the SOAs, sorted. */
  body: RR[];
}

/** AXFR form: SOA, body, SOA with the same serial. */
function axfrForm(records: RR[], what: string): Xfr {
  assert.ok(records.length >= 2, `${what}: ${records.length} records`);
  const first = records[0];
  const last = records[records.length - 1];
  assert.equal(rrType(first), 'SOA', `${what}: first is ${first}`);
  assert.equal(last, first, `${what}: last is the first SOA`);
  const body = records.slice(1, -1);
  assert.ok(
    body.every((r) => rrType(r) !== 'SOA'),
    `${what}: one SOA each end`,
  );
  return { records, serial: soaSerial(first), body: body.slice().sort() };
}

interface Ixfr {
  serial: number;
  steps: { from: number; to: number; deleted: RR[]; added: RR[] }[];
}

/** RFC 1995 §4's sequences: SOA(new) [SOA(old) deletions SOA(new) additions]… SOA(new). */
function ixfrForm(records: RR[], what: string): Ixfr {
  assert.ok(records.length >= 4, `${what}: ${records.length} records:\n${records.join('\n')}`);
  assert.equal(rrType(records[0]), 'SOA');
  assert.equal(rrType(records[1]), 'SOA', `${what}: the second record is an SOA (not AXFR form)`);
  const serial = soaSerial(records[0]);
  assert.equal(records[records.length - 1], records[0], `${what}: ends with SOA(new)`);
  const steps: Ixfr['steps'] = [];
  let i = 1;
  let prev: number | undefined;
  while (i < records.length - 1) {
    assert.equal(rrType(records[i]), 'SOA', `${what}: record ${i} starts a sequence`);
    const from = soaSerial(records[i++]);
    if (prev !== undefined) assert.equal(from, prev, `${what}: sequences chain`);
    const deleted: RR[] = [];
    while (rrType(records[i]) !== 'SOA') deleted.push(records[i++]);
    const to = soaSerial(records[i++]);
    const added: RR[] = [];
    while (i < records.length - 1 && rrType(records[i]) !== 'SOA') added.push(records[i++]);
    steps.push({ from, to, deleted, added });
    prev = to;
  }
  assert.equal(prev, serial, `${what}: the last sequence ends at the new serial`);
  return { serial, steps };
}

/** `body` (an AXFR's) with the IXFR's sequences applied. */
function applyIxfr(body: RR[], ixfr: Ixfr): RR[] {
  const set = new Set(body);
  for (const s of ixfr.steps) {
    for (const d of s.deleted) assert.ok(set.delete(d), `IXFR deletes ${d}, which the zone did not hold`);
    for (const a of s.added) {
      assert.ok(!set.has(a), `IXFR adds ${a}, which the zone held`);
      set.add(a);
    }
  }
  return [...set].sort();
}

/** `fn` over `items`, `n` at a time. */
async function eachLimit<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: n }, worker));
}

interface Server {
  hades: HadesProc;
  port: number;
  metrics: number;
  /** `${type} ${result}` → transfers this file asked for. */
  want: Map<string, number>;
}

describe('zone transfers out: AXFR, IXFR, TSIG (etcd, four hades, dig/kdig)', () => {
  let etcd: EtcdProcess;
  let store: Store;
  const srv: { [k in 'main' | 'restricted' | 'closed' | 'signed']?: Server } = {};
  const s = (k: keyof typeof srv): Server => {
    const x = srv[k];
    assert.ok(x, `${k} started`);
    return x;
  };
  const note = (k: keyof typeof srv, type: 'axfr' | 'ixfr', result: string): void => {
    // without -transfer-allow (or -notify) no transfer service runs: REFUSED as before, uncounted
    if (k === 'closed') return;
    const w = s(k).want;
    w.set(`${type} ${result}`, (w.get(`${type} ${result}`) ?? 0) + 1);
  };

  /** `dig AXFR` of `zone` from `main` (counted ok). */
  const axfr = async (zone = APEX): Promise<Xfr & { stats: string }> => {
    const r = await dig(s('main').port, ['+noall', '+answer', '+stats', 'AXFR', zone]);
    note('main', 'axfr', 'ok');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const x = axfrForm(xfrRecords(r.stdout), `AXFR ${zone}`);
    return { ...x, stats: r.stdout };
  };
  /** `kdig AXFR`/`IXFR=serial` records of `main`. */
  const kxfr = async (type: string, zone = APEX): Promise<RR[]> => {
    const r = await kdig(s('main').port, [type, zone]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return xfrRecords(r.stdout);
  };
  const soaOf = async (port: number, zone = APEX): Promise<number> => {
    const r = parseDig((await dig(port, [zone, 'SOA'])).stdout);
    assert.equal(r.status, 'NOERROR');
    return Number(r.answer[0].data.split(' ')[2]);
  };
  const revision = async (): Promise<number> => (await store.list('/hades/none/')).revision;
  /** Waits until `main`'s SOA serial is the store's revision now (every write applied). */
  const settled = async (): Promise<number> => {
    const rev = (await revision()) % 2 ** 32;
    await waitFor(`main's serial ${rev}`, async () => (await soaOf(s('main').port)) === rev);
    return rev;
  };

  before(async () => {
    ({ etcd, store } = await startEtcdStore(loadTransferRecords));
    const start = async (k: keyof typeof srv, extra: string[]): Promise<void> => {
      const port = await freeDnsPort();
      const metrics = await freeDnsPort();
      const hades = await startHades(
        etcdArgs(port, etcd, ['-metrics-port', String(metrics), ...extra], ZONES),
        port,
      );
      srv[k] = { hades, port, metrics, want: new Map() };
    };
    await Promise.all([
      start('main', ['-select', 'all', '-transfer-allow', '127.0.0.1']),
      start('restricted', ['-transfer-allow', '127.0.0.2/32']),
      start('closed', []),
      start('signed', ['-transfer-allow', '127.0.0.0/30', '-tsig', `${KEY_NAME}:hmac-sha256:${SECRET}`]),
    ]);
  });

  after(async () => {
    const codes: number[] = [];
    for (const x of Object.values(srv)) codes.push(await x.hades.stop());
    await store?.close();
    await etcd?.stop();
    assert.deepEqual(
      codes.filter((c) => c !== 0),
      [],
    );
  });

  it('AXFR: SOA first and last (the serial a SOA query gives: the etcd revision), the apex NS, messages of about 16 KiB', async () => {
    const rev = await settled();
    for (const zone of [APEX, REVERSE]) {
      const x = await axfr(zone);
      assert.equal(x.serial, rev, zone);
      assert.equal(await soaOf(s('main').port, zone), x.serial, zone);
      // the SOA a query gives is the transfer's, whole
      const q = parseDig((await dig(s('main').port, [zone, 'SOA'])).stdout).answer.map((a) =>
        rr([a.name, String(a.ttl), a.class, a.type, a.data]),
      );
      assert.deepEqual(q, [x.records[0]], zone);
      // the apex NS set, as an NS query answers it
      const ns = parseDig((await dig(s('main').port, [zone, 'NS'])).stdout)
        .answer.filter((a) => a.type === 'NS')
        .map((a) => rr([a.name, String(a.ttl), a.class, a.type, a.data]))
        .sort();
      assert.ok(ns.length > 0, `${zone} NS`);
      assert.deepEqual(
        x.body.filter((r) => rrName(r) === zone && rrType(r) === 'NS'),
        ns,
        zone,
      );
      // every owner is in the zone, none twice
      assert.ok(
        x.body.every((r) => rrName(r).endsWith(`.${zone}`) || rrName(r) === zone),
        zone,
      );
      assert.equal(new Set(x.body).size, x.body.length, `${zone}: no record twice`);
    }
    const big = await axfr(APEX);
    const m = /XFR size: (\d+) records \(messages (\d+), bytes (\d+)\)/.exec(big.stats);
    assert.ok(m, big.stats.slice(-400));
    const [records, messages, bytes] = [Number(m[1]), Number(m[2]), Number(m[3])];
    assert.equal(records, big.records.length);
    assert.ok(messages >= 2, `${messages} messages for ${bytes} octets`);
    // each message but the last holds at least 16 KiB
    assert.ok(messages <= Math.floor(bytes / 16_384) + 1, `${messages} messages for ${bytes} octets`);
    // a bulk name's TXT, all of them at their parent
    assert.equal(big.body.filter((r) => rrName(r) === `${BULK}.`).length, BULK_NAMES);
  });

  it('AXFR equals what -select all answers: for every name, each type dig asks gets the transferred RRset', async () => {
    const types = (zone: string) => (zone === REVERSE ? ['PTR'] : ['A', 'AAAA', 'TXT', 'MX', 'SRV']);
    for (const zone of [APEX, REVERSE]) {
      const x = await axfr(zone);
      const byName = new Map<string, RR[]>();
      for (const r of x.body) {
        if (rrName(r) === zone && rrType(r) === 'NS') continue;
        const n = rrName(r);
        byName.set(n, [...(byName.get(n) ?? []), r]);
      }
      const bad: string[] = [];
      await eachLimit([...byName], 6, async ([name, recs]) => {
        // the records' own policies answer otherwise: checked below
        if (name.endsWith(`.${P}.`)) return;
        const cname = recs.filter((r) => rrType(r) === 'CNAME');
        if (cname.length > 0 && recs.length !== 1) bad.push(`${name}: a CNAME beside other data: ${recs}`);
        const asked = cname.length > 0 ? ['A'] : types(zone);
        const args = ['+noall', '+answer', '+tcp'];
        for (const t of asked) args.push(name, t);
        const r = await dig(s('main').port, args);
        const got = new Set<RR>();
        for (const a of digRecords(r.stdout).map(rr))
          if (rrName(a) === name && (cname.length > 0 ? rrType(a) === 'CNAME' : asked.includes(rrType(a))))
            got.add(a);
        const want = recs.slice().sort();
        const have = [...got].sort();
        if (JSON.stringify(want) !== JSON.stringify(have))
          bad.push(`${name}\n  transfer: ${want.join(' | ')}\n  answers:  ${have.join(' | ')}`);
      });
      assert.deepEqual(bad, [], `${zone}:\n${bad.join('\n')}`);
    }
  });

  it('AXFR holds each kind of record as the data says (subtree, health, policies ignored, PTR)', async () => {
    const fwd = await axfr(APEX);
    const rev = await axfr(REVERSE);
    const of = (x: Xfr, name: string, types: string) =>
      x.body
        .filter((r) => rrName(r) === name && types.split(',').includes(rrType(r)))
        .map((r) => r.split(' ').slice(1).join(' '))
        .sort();
    // every address record also answers SRV (port 0) in hades: left out here but where asked
    const NO_SRV = 'A,AAAA,TXT,MX,PTR,CNAME';
    const cases: [string, Xfr, string, string, string[]][] = [
      ['subtree', fwd, `web.${X}.`, 'A,CNAME', ['60 A 10.60.0.1', '60 A 10.60.0.2']],
      ['leaf', fwd, `a.web.${X}.`, 'A,CNAME', ['60 A 10.60.0.1']],
      [
        'A, AAAA, TXT on one name',
        fwd,
        `dual.${X}.`,
        'A,AAAA,TXT,CNAME',
        ['120 A 10.60.1.1', '120 AAAA fd00:60::1', '90 TXT "dual text"'],
      ],
      ['MX beside an address', fwd, `post.${X}.`, 'MX', [`3600 MX 10 mx.${X}.`]],
      [
        'SRV to a name and to an address',
        fwd,
        `_sip._tcp.${X}.`,
        'SRV',
        [`3600 SRV 10 100 5060 sip.${X}.`, `3600 SRV 20 100 5061 x2._sip._tcp.${X}.`],
      ],
      ["an SRV address's target", fwd, `x2._sip._tcp.${X}.`, 'A,CNAME', ['3600 A 10.60.3.2']],
      ['CNAME in the zone, alone', fwd, `cin.${X}.`, NO_SRV, [`3600 CNAME web.${X}.`]],
      ['CNAME out of the zone, alone', fwd, `cout.${X}.`, NO_SRV, ['3600 CNAME www.example.org.']],
      ['nested', fwd, `still.er.deep.${X}.`, NO_SRV, ['45 A 10.60.4.1']],
      ['nested: ancestor', fwd, `er.deep.${X}.`, NO_SRV, ['45 A 10.60.4.1']],
      ['nested: top', fwd, `deep.${X}.`, NO_SRV, ['45 A 10.60.4.1']],
      ['DOWN and drained left out', fwd, `health.${X}.`, 'A,CNAME', ['3600 A 10.60.5.1']],
      ['all DOWN: fail-open', fwd, `alldown.${X}.`, 'A,CNAME', ['3600 A 10.60.6.1', '3600 A 10.60.6.2']],
      ['drained, the rest DOWN: the DOWN ones', fwd, `dd.${X}.`, 'A,CNAME', ['3600 A 10.60.8.2']],
      ['only drained: no name', fwd, `drained.${X}.`, `${NO_SRV},SRV`, []],
      [
        'select: sticky ignored',
        fwd,
        `sticky.${P}.`,
        'A,CNAME',
        ['3600 A 10.61.0.1', '3600 A 10.61.0.2', '3600 A 10.61.0.3'],
      ],
      ['alldown: closed ignored', fwd, `closed.${P}.`, 'A,CNAME', ['3600 A 10.61.1.1', '3600 A 10.61.1.2']],
      ['PTR', rev, '1.0.60.10.in-addr.arpa.', NO_SRV, [`3600 PTR web.${X}.`]],
      ['PTR with its TTL', rev, '1.1.60.10.in-addr.arpa.', NO_SRV, [`77 PTR dual.${X}.`]],
      ['PTR subtree', rev, '60.10.in-addr.arpa.', NO_SRV, [`3600 PTR web.${X}.`, `77 PTR dual.${X}.`].sort()],
    ];
    for (const [what, x, name, types, want] of cases) assert.deepEqual(of(x, name, types), want, what);
    // the records' policies are the answers' own: sticky answers one address of the three, a
    // closed all-DOWN name SERVFAIL; the transfer lists them all
    const sticky = parseDig((await dig(s('main').port, [`sticky.${P}`, 'A'])).stdout);
    assert.equal(sticky.answer.length, 1, sticky.raw);
    const closed = parseDig((await dig(s('main').port, [`closed.${P}`, 'A'])).stdout);
    assert.equal(closed.status, 'SERVFAIL', closed.raw);
  });

  it('IXFR: puts, deletes and health changes as RFC 1995 sequences; applied to the earlier AXFR they give a fresh AXFR', async () => {
    const before0 = axfrForm(await kxfr('AXFR'), 'AXFR before');
    note('main', 'axfr', 'ok');
    const s0 = before0.serial;
    // nothing changed since hades started (an empty journal): a serial older than that is
    // still older than the journal, answered with the whole zone
    const early = axfrForm(await kxfr('IXFR=1'), 'IXFR=1 before any change');
    note('main', 'ixfr', 'full');
    assert.deepEqual(early.body, before0.body);
    // from the current serial: one SOA
    const up = await kxfr(`IXFR=${s0}`);
    note('main', 'ixfr', 'uptodate');
    assert.equal(up.length, 1, up.join('\n'));
    assert.equal(soaSerial(up[0]), s0);

    await putName(store, `fresh.${X}`, { h: { host: '10.60.10.1', ttl: 30 } });
    await store.delete(`${nameToKey(`dual.${X}`)}/t`);
    await health(store, '10.60.0.1', 'DOWN'); // web.xt keeps 10.60.0.2
    await putName(store, `n0.${BULK}`, { t: { text: 'changed' } });
    const s1 = await settled();
    assert.ok(s1 > s0);
    const ix = await kxfr(`IXFR=${s0}`);
    note('main', 'ixfr', 'ok');
    const diff = ixfrForm(ix, `IXFR=${s0}`);
    assert.equal(diff.serial, s1);
    assert.equal(diff.steps[0].from, s0);
    const deleted = diff.steps.flatMap((x) => x.deleted);
    const added = diff.steps.flatMap((x) => x.added);
    for (const r of [`fresh.${X}. 30 A 10.60.10.1`, `n0.${BULK}. 3600 TXT "changed"`])
      assert.ok(added.includes(r), `added ${r}:\n${added.join('\n')}`);
    for (const r of [
      `dual.${X}. 90 TXT "dual text"`,
      `t.dual.${X}. 90 TXT "dual text"`,
      `web.${X}. 60 A 10.60.0.1`,
    ])
      assert.ok(deleted.includes(r), `deleted ${r}:\n${deleted.join('\n')}`);
    // a.web.xt's only address is DOWN: fail-open, it stays
    assert.ok(!deleted.some((r) => r.startsWith(`a.web.${X}. `)), deleted.join('\n'));
    const after1 = axfrForm(await kxfr('AXFR'), 'AXFR after');
    note('main', 'axfr', 'ok');
    assert.equal(after1.serial, s1);
    assert.deepEqual(applyIxfr(before0.body, diff), after1.body);

    // the address back UP: it returns, the serial moves, an IXFR from s1 says so
    await health(store, '10.60.0.1', 'UP');
    const s2 = await settled();
    assert.ok(s2 > s1);
    const back = ixfrForm(await kxfr(`IXFR=${s1}`), `IXFR=${s1}`);
    note('main', 'ixfr', 'ok');
    assert.equal(back.serial, s2);
    const readded = back.steps.flatMap((x) => x.added);
    assert.ok(readded.includes(`web.${X}. 60 A 10.60.0.1`), readded.join('\n'));
    assert.ok(
      back.steps.flatMap((x) => [...x.deleted, ...x.added]).every((r) => rrName(r).endsWith(`${X}.`)),
      'only web.xt and its ancestors change',
    );
    const after2 = axfrForm(await kxfr('AXFR'), 'AXFR after UP');
    note('main', 'axfr', 'ok');
    assert.deepEqual(applyIxfr(after1.body, back), after2.body);
    // from s0 again: every change since, chained, to the same content
    const all = ixfrForm(await kxfr(`IXFR=${s0}`), `IXFR=${s0} again`);
    note('main', 'ixfr', 'ok');
    assert.deepEqual(applyIxfr(before0.body, all), after2.body);
    // a change outside the zones' records (an address no record has) moves nothing
    await health(store, '192.0.2.99', 'DOWN');
    const rev = await revision();
    await waitFor('the unrelated change seen', async () => (await soaOf(s('main').port)) >= rev % 2 ** 32);
    const same = await kxfr(`IXFR=${s2}`);
    const sameSerial = soaSerial(same[0]);
    note('main', 'ixfr', sameSerial === s2 ? 'uptodate' : 'ok');
    if (sameSerial !== s2) {
      const d = ixfrForm(same, `IXFR=${s2} after an unrelated change`);
      assert.deepEqual(applyIxfr(after2.body, d), after2.body);
    }

    // older than the journal (serial 1), or ahead of the server: the whole zone, in AXFR form
    for (const from of [1, s2 + 1000]) {
      const whole = await kxfr(`IXFR=${from}`);
      note('main', 'ixfr', 'full');
      const w = axfrForm(whole, `IXFR=${from}`);
      assert.ok(w.serial >= s2);
      assert.deepEqual(w.body, after2.body, `IXFR=${from}`);
    }
  });

  it('over UDP: the current SOA with TC (raw; RFC 1995 §2); dig retries over TCP by itself', async () => {
    const port = s('main').port;
    const serial = await soaOf(port);
    const ixfrReq = encode({
      id: 7,
      rd: false,
      questions: [{ name: APEX, type: RRType.IXFR, class: 1 }],
      authorities: [
        {
          name: APEX,
          type: RRType.SOA,
          data: {
            mname: 'ns.dns.hades.local.',
            rname: 'hostmaster.hades.local.',
            serial: serial - 1,
            refresh: 1,
            retry: 1,
            expire: 1,
            minimum: 1,
          },
        },
      ],
    });
    const cases: [string, 'axfr' | 'ixfr', Buffer][] = [
      ['AXFR', 'axfr', encodeQuery({ id: 6, name: APEX, type: RRType.AXFR, rd: false })],
      ['IXFR', 'ixfr', ixfrReq],
    ];
    for (const [what, type, req] of cases) {
      const m = decode(await udpQuery(port, req));
      note('main', type, 'truncated');
      assert.equal(m.tc, true, what);
      assert.equal(m.rcode, 0, what);
      assert.deepEqual(
        m.answers.map((a) => [a.type, (a.data as SoaData).serial]),
        [[RRType.SOA, serial]],
        what,
      );
      assert.equal(m.id, decode(req).id, what);
    }
    // an IXFR from the current serial: that SOA is the whole answer, over UDP, no TC
    const up = await dig(port, ['+notcp', `IXFR=${serial}`, APEX]);
    note('main', 'ixfr', 'uptodate');
    assert.equal(up.code, 0, up.stdout);
    assert.match(up.stdout, /;; SERVER: 127\.0\.0\.1#\d+\(127\.0\.0\.1\) \(UDP\)/);
    assert.deepEqual(xfrRecords(up.stdout).map(soaSerial), [serial]);
    // dig asks IXFR over UDP with +notcp (AXFR always over TCP), sees TC and asks again over TCP
    const whole = await dig(port, ['+notcp', 'IXFR=1', APEX]);
    note('main', 'ixfr', 'truncated');
    note('main', 'ixfr', 'full');
    assert.equal(whole.code, 0, whole.stdout);
    assert.equal(axfrForm(xfrRecords(whole.stdout), 'dig +notcp IXFR=1').serial, serial);
  });

  it('over UDP with TSIG: the TC reply is signed over what is sent (kdig verifies it)', async () => {
    const r = await kdig(s('signed').port, ['+notcp', '-y', TSIG, 'AXFR', APEX]);
    note('signed', 'axfr', 'truncated');
    const out = r.stdout + r.stderr;
    assert.doesNotMatch(out, /failed to verify TSIG/);
    // the current SOA, signed (kdig verified it); kdig does not go to TCP for a transfer: it
    // waits over UDP for the rest, which never comes
    assert.match(out, /\tSOA\tns\.dns\.hades\.local\. hostmaster\.hades\.local\. \d+ /);
    assert.match(out, /\tTSIG\thmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR 0/);
  });

  it('refusals: outside -transfer-allow or without it REFUSED, a name that is not an apex NOTAUTH', async () => {
    const req = encodeQuery({ id: 9, name: APEX, type: RRType.AXFR, rd: false });
    const cases: [string, keyof typeof srv, string, string, 'REFUSED' | 'NOTAUTH' | 'ok'][] = [
      ['outside the allowed /32', 'restricted', '127.0.0.1', APEX, 'REFUSED'],
      ['inside it', 'restricted', '127.0.0.2', APEX, 'ok'],
      ['no -transfer-allow', 'closed', '127.0.0.1', APEX, 'REFUSED'],
      ['no -transfer-allow (IXFR)', 'closed', '127.0.0.1', APEX, 'REFUSED'],
      ['not an apex', 'main', '127.0.0.1', `web.${X}.`, 'NOTAUTH'],
      ['not an apex (IXFR)', 'main', '127.0.0.1', `web.${X}.`, 'NOTAUTH'],
      ['not a zone at all', 'main', '127.0.0.1', 'example.org.', 'NOTAUTH'],
    ];
    for (const [what, k, src, zone, want] of cases) {
      const type = what.includes('IXFR') ? 'ixfr' : 'axfr';
      const serial = await soaOf(s(k).port);
      const q = type === 'ixfr' ? `IXFR=${serial - 1}` : 'AXFR';
      const r = await kdig(s(k).port, ['-b', src, q, zone]);
      note(k, type, want === 'ok' ? 'ok' : want.toLowerCase());
      if (want === 'ok') {
        assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
        axfrForm(xfrRecords(r.stdout), what);
      } else {
        assert.notEqual(r.code, 0, what);
        assert.match(r.stdout + r.stderr, new RegExp(`server replied with error '${want}'`), what);
      }
    }
    // the rcode itself, raw: REFUSED without AA, empty
    for (const [k, src] of [
      ['restricted', '127.0.0.1'],
      ['closed', '127.0.0.2'],
    ] as const) {
      const m = decode(await tcpFrom(s(k).port, src, req));
      note(k, 'axfr', 'refused');
      assert.equal(m.rcode, 5, `${k} from ${src}`);
      assert.equal(m.answers.length, 0);
    }
    const m = decode(await tcpFrom(s('restricted').port, '127.0.0.2', req));
    note('restricted', 'axfr', 'ok');
    assert.equal(m.rcode, 0);
    assert.equal(m.answers[0].type, RRType.SOA);
  });

  it('TSIG: unsigned REFUSED, bad MAC BADSIG, unknown key BADKEY, signed transfers verified by kdig, a signed SOA query signed; no secret in stderr', async () => {
    const port = s('signed').port;
    const serial = await soaOf(port);
    const other = `hmac-sha256:other.key.:${SECRET}`;
    const cases: [string, string[], 'axfr' | 'ixfr', string][] = [
      ['unsigned AXFR', ['AXFR', APEX], 'axfr', "server replied with error 'REFUSED'"],
      ['unsigned IXFR', [`IXFR=${serial - 1}`, APEX], 'ixfr', "server replied with error 'REFUSED'"],
      ['wrong secret', ['-y', `hmac-sha256:${KEY_NAME}:${WRONG}`, 'AXFR', APEX], 'axfr', "error 'BADSIG'"],
      ['unknown key', ['-y', other, 'AXFR', APEX], 'axfr', "error 'BADKEY'"],
      ['signed, not an apex', ['-y', TSIG, 'AXFR', `web.${X}.`], 'axfr', "error 'NOTAUTH'"],
    ];
    for (const [what, args, type, msg] of cases) {
      const r = await kdig(port, args);
      note('signed', type, what.startsWith('unsigned') ? 'refused' : 'notauth');
      assert.notEqual(r.code, 0, what);
      assert.ok((r.stdout + r.stderr).includes(msg), `${what}: ${r.stdout}${r.stderr}`);
    }
    // signed: kdig verifies every message (a bad MAC on any is an error and a non-zero exit)
    for (const zone of [APEX, REVERSE]) {
      const r = await kdig(port, ['-y', TSIG, 'AXFR', zone]);
      note('signed', 'axfr', 'ok');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.doesNotMatch(r.stdout + r.stderr, /;; (ERROR|WARNING)/, zone);
      axfrForm(xfrRecords(r.stdout), `signed AXFR ${zone}`);
      const tsigs = digRecords(r.stdout).filter((x) => x[3] === 'TSIG');
      const msgs = Number(/\((\d+) messages/.exec(r.stdout)?.[1]);
      assert.ok(msgs >= 1, r.stdout.slice(-300));
      // kdig prints the TSIG of the first and last message at least
      assert.ok(tsigs.length >= 1, `${zone}: the TSIGs shown`);
      assert.ok(
        tsigs.every((x) => x[0].toLowerCase() === KEY_NAME && / NOERROR /.test(` ${x[4]} `)),
        zone,
      );
    }
    const big = await kdig(port, ['-y', TSIG, 'AXFR', APEX]);
    note('signed', 'axfr', 'ok');
    assert.ok(Number(/\((\d+) messages/.exec(big.stdout)?.[1]) >= 2, 'several signed messages');
    const ix = await kdig(port, ['-y', TSIG, `IXFR=${serial}`, APEX]);
    note('signed', 'ixfr', 'uptodate');
    assert.equal(ix.code, 0, ix.stdout + ix.stderr);
    assert.equal(xfrRecords(ix.stdout).length, 1);
    // a signed plain query gets a signed reply
    const soa = parseDig((await kdig(port, ['-y', TSIG, APEX, 'SOA'])).stdout);
    assert.equal(soa.status, 'NOERROR', soa.raw);
    assert.match(
      soa.raw,
      /TSIG PSEUDOSECTION:\n\S+\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR 0/,
    );
    assert.doesNotMatch(soa.raw, /;; (ERROR|WARNING)/);
    assert.equal(soa.answer[0].type, 'SOA');
    // a signed reply too big for UDP: truncated, then signed (kdig +ignore keeps the UDP one)
    const tc = parseDig((await kdig(port, ['+ignore', '-y', TSIG, `${BULK}.`, 'TXT'])).stdout);
    assert.ok(tc.flags.includes('tc'), tc.raw.slice(0, 400));
    assert.match(tc.raw, /TSIG PSEUDOSECTION:/);
    assert.doesNotMatch(tc.raw, /;; (ERROR|WARNING)/);
    // an unsigned one an unsigned reply, as without -tsig
    const plain = parseDig((await kdig(port, [APEX, 'SOA'])).stdout);
    assert.equal(plain.status, 'NOERROR');
    assert.doesNotMatch(plain.raw, /TSIG/);
    // the secret nowhere in what hades wrote
    for (const x of Object.values(srv)) {
      assert.ok(!x.hades.stderr().includes(SECRET), 'secret in stderr');
      assert.ok(!x.hades.stdout().includes(SECRET), 'secret in stdout');
    }
  });

  it('hades_transfer_* count what this file did', async () => {
    const diag: string[] = [];
    for (const k of ['main', 'restricted', 'closed', 'signed'] as const) {
      const x = s(k);
      await waitFor(
        `${k}'s hades_transfer_requests_total`,
        async () => {
          const p = await scrape(x.metrics);
          diag.length = 0;
          let ok = true;
          for (const type of ['axfr', 'ixfr'])
            for (const result of ['ok', 'full', 'uptodate', 'refused', 'notauth', 'truncated', 'aborted']) {
              const got = metricValue(p, 'hades_transfer_requests_total', { type, result });
              const want = x.want.get(`${type} ${result}`) ?? 0;
              if (got !== want) {
                ok = false;
                diag.push(`${type} ${result}: ${got}, want ${want}`);
              }
            }
          return ok;
        },
        15_000,
        { diag: () => diag.join('\n') },
      );
    }
    const sig = await scrape(s('signed').metrics);
    assert.equal(metricValue(sig, 'hades_transfer_tsig_failures_total', { error: 'BADSIG' }), 1);
    assert.equal(metricValue(sig, 'hades_transfer_tsig_failures_total', { error: 'BADKEY' }), 1);
    assert.equal(metricValue(sig, 'hades_transfer_active'), 0);
    const main = await scrape(s('main').metrics);
    assert.ok(metricValue(main, 'hades_transfer_names') > BULK_NAMES);
    assert.equal(metricValue(main, 'hades_transfer_tsig_failures_total', { error: 'BADSIG' }), 0);
    // without -transfer-allow (and -notify) there are no views
    assert.equal(metricValue(await scrape(s('closed').metrics), 'hades_transfer_names'), 0);
  });

  it('a bad -tsig or -transfer-allow exits 2 with one line naming the flag, never the secret', async () => {
    const notB64 = 'not*base64!';
    const cases: [string[], RegExp, string | undefined][] = [
      [['-tsig', 'foo'], /^hades: -tsig: [^\n]*\n$/, undefined],
      [['-tsig', 'x.:hmac-nope:abc='], /^hades: -tsig: [^\n]*hmac-nope[^\n]*\n$/, 'abc='],
      [['-tsig', `x.:hmac-sha256:${notB64}`], /^hades: -tsig: [^\n]*base64[^\n]*\n$/, notB64],
      [['-tsig', `bad..name:hmac-sha256:${SECRET}`], /^hades: -tsig: [^\n]*bad\.\.name[^\n]*\n$/, SECRET],
      [['-transfer-allow', '10.0.0.0/33'], /^hades: -transfer-allow: "10.0.0.0\/33" [^\n]*\n$/, undefined],
      [['-transfer-allow', '127.0.0.1,nope'], /^hades: -transfer-allow: "nope" [^\n]*\n$/, undefined],
    ];
    await Promise.all(
      cases.map(async ([args, msg, secret]) => {
        const h = spawnHades(['-domain', APEX, ...args]);
        const code = await h.exited;
        assert.equal(code, 2, `${args.join(' ')}: ${h.stderr()}`);
        assert.match(h.stderr(), msg, args.join(' '));
        if (secret !== undefined)
          assert.ok(!h.stderr().includes(secret), `${args.join(' ')}: the secret shown`);
      }),
    );
  });
});
