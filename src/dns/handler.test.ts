/**
 * DnsHandler over a real catalog (the embedded store in a temp dir, records in the Hades key
 * layout): handcrafted query packets through handle(), replies decoded and compared as text.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../catalog/catalog.js';
import { nameToKey } from '../records/keys.js';
import { leafKey, serializeRecordValue } from '../records/record.js';
import { reverseName } from '../records/reverse.js';
import type { RecordValue } from '../records/types.js';
import type { EmbeddedStore } from '../store/embedded/embedded.js';
import { openEmbeddedStore } from '../store/embedded/embedded.js';
import { MAX_CNAMES } from './answer.js';
import { DnsHandler, type DnsHandlerOptions } from './handler.js';
import type { Selector } from './select.js';
import { type ClientInfo, DROP, FORWARD } from './types.js';
import { decode } from './wire/decode.js';
import { type EdnsInput, encode, encodeQuery, type MessageInput } from './wire/encode.js';
import {
  className,
  type Message,
  type MxData,
  type ResourceRecord,
  RRClass,
  RRType,
  rcodeName,
  replyLimit,
  type SoaData,
  type SrvData,
  typeFromName,
  typeName,
} from './wire/index.js';
import { newQuery, ParseStatus, parseQuery } from './wire/query.js';
import { ResponseWriter } from './wire/writer.js';

// ---- fixture ---------------------------------------------------------------------------------

const ZONES = ['hades.local.', '10.in-addr.arpa.', '8.b.d.0.1.0.0.2.ip6.arpa.'];
const UP = '{"status":"UP"}';
const DOWN = '{"status":"DOWN"}';

/** key → value written before the catalog starts. */
const DATA: [string, string][] = [];
/** A record under `name` in the Hades layout: `<name key>/<fnv1a32(value)>`. */
function rec(name: string, v: RecordValue | string): void {
  const value = typeof v === 'string' ? v : serializeRecordValue(v);
  DATA.push([leafKey(nameToKey(name), value), value]);
}
/** A record at an explicit key. */
function at(key: string, v: RecordValue): void {
  DATA.push([key, serializeRecordValue(v)]);
}
function health(ip: string, status: string): void {
  DATA.push([`/hades/monitor/status/${ip}`, status]);
}

// the seed's records, Hades 1.0.1 format
rec(
  'qiyf-nginx-5.default.svc.hades.local',
  '{"host":"192.168.19.113","priority":10,"weight":10,"ttl":30,"type":"A"}',
);
for (const ip of ['192.168.10.1', '192.168.10.2', '192.168.10.3'])
  rec('cctv1.user.hades.local', { host: ip, type: 'A' });
rec('tv1.user.hades.local', { host: 'cctv1.user.hades.local', type: 'cname' });
// an SRV whose target is an alias (glue: the CNAME, then the addresses), an MX without priority
rec('srvalias.hades.local', { host: 'tv1.user.hades.local', port: 80 });
rec('mxnoprio.hades.local', { host: 'mail.ext.example', mail: true });
// a CNAME at the name's own key (CoreDNS reads only that key for CNAME questions)
at(`${nameToKey('ownkey.hades.local')}`, { host: 'ownkey-target.hades.local' });
rec('ownkey.hades.local', { host: '10.99.0.1' });
// addresses
rec('web.v6.hades.local', { host: '2001:db8::1' });
rec('web.v6.hades.local', { host: '2001:db8::2' });
rec('dual.hades.local', { host: '10.8.0.1' });
rec('dual.hades.local', { host: '2001:db8::8' });
for (let i = 1; i <= 60; i++) rec('many.hades.local', { host: `10.1.0.${i}` });
at('/hades/local/hades/dup/a', { host: '10.11.0.1' });
at('/hades/local/hades/dup/b', { host: '10.11.0.1' });
// health
for (const ip of ['10.2.0.1', '10.2.0.2', '10.2.0.3']) rec('partial.hades.local', { host: ip });
health('10.2.0.1', UP);
health('10.2.0.2', DOWN);
rec('alldown.hades.local', { host: '10.3.0.1' });
rec('alldown.hades.local', { host: '10.3.0.2' });
health('10.3.0.1', DOWN);
health('10.3.0.2', DOWN);
rec('v6down.hades.local', { host: '2001:db8::d1' });
rec('v6down.hades.local', { host: '2001:db8::d2' });
health('2001:db8::d1', DOWN);
at('/hades/local/hades/srvdown/a', { host: '10.2.0.2', port: 80 });
at('/hades/local/hades/srvdown/b', { host: '10.2.0.1', port: 80 });
rec('live.hades.local', { host: '10.12.0.1' });
rec('live.hades.local', { host: '10.12.0.2' });
// TTLs
rec('ttl0.hades.local', { host: '10.4.0.1', ttl: 0 });
rec('ttlmix.hades.local', { host: '10.4.1.1', ttl: 120 });
rec('ttlmix.hades.local', { host: '10.4.1.2', ttl: 60 });
// CNAMEs
rec('chain1.hades.local', { host: 'chain2.hades.local' });
rec('chain2.hades.local', { host: 'cctv1.user.hades.local', ttl: 50 });
rec('ext.hades.local', { host: 'www.example.com' });
rec('loop1.hades.local', { host: 'loop2.hades.local' });
rec('loop2.hades.local', { host: 'loop1.hades.local' });
for (let i = 0; i < 9; i++) rec(`long${i}.hades.local`, { host: `long${i + 1}.hades.local` });
rec('long9.hades.local', { host: '10.9.0.9' });
rec('dangle.hades.local', { host: 'nothere.hades.local' });
rec('tov6.hades.local', { host: 'web.v6.hades.local' });
rec('self.hades.local', { host: 'self.hades.local' });
at('/hades/local/hades/multi/b', { host: 'chain2.hades.local' });
at('/hades/local/hades/multi/a', { host: 'cctv1.user.hades.local' });
rec('toapex.hades.local', { host: 'hades.local' });
rec('torev.hades.local', { host: '5.0.0.10.in-addr.arpa' });
at('/hades/arpa/in-addr/10/0/0/5/t', { text: 'rev' });
// SRV
at('/hades/local/hades/svc1/a', { host: '10.5.0.1', port: 8080, priority: 10, weight: 10 });
at('/hades/local/hades/svc1/b', { host: '10.5.0.2', port: 8080, priority: 10, weight: 30 });
at('/hades/local/hades/svc1/c', { host: 'mail.ext.example', port: 8080, priority: 20 });
at('/hades/local/hades/svc1/d', { host: 'cctv1.user.hades.local', port: 9090, priority: 20, weight: 0 });
at('/hades/local/hades/strip/x/y1', { host: '10.6.0.1', port: 53, targetstrip: 1 });
at('/hades/local/hades/strip/x/y2', { host: '10.6.0.2', port: 53, targetstrip: 1 });
// TXT, MX
at('/hades/local/hades/txt/t1', { text: 'hello' });
at('/hades/local/hades/txt/t2', { text: 'x'.repeat(600) });
at('/hades/local/hades/mx/m1', { host: '10.7.0.1', mail: true, priority: 10 });
at('/hades/local/hades/mx/m2', { host: 'mx.ext.example', mail: true, priority: 20 });
at('/hades/local/hades/mx/m3', { host: '10.7.0.3' });
// apex
at('/hades/local/hades/dns/ns/ns1', { host: '10.0.0.53' });
at('/hades/local/hades/dns/ns/ns2', { host: '10.0.0.54' });
at('/hades/local/hades/dns/apex/a1', { host: '10.0.0.80' });
at('/hades/local/hades/dns/apex/a2', { host: '2001:db8::80' });
// PTR
at('/hades/arpa/in-addr/10/0/0/1/p1', { host: 'cctv1.user.hades.local' });
at(`${nameToKey(reverseName('2001:db8::1'))}/p1`, { host: 'web.v6.hades.local' });
// selection override
at('/hades/local/hades/sel/a', { host: '10.10.0.1', select: 'all' });
at('/hades/local/hades/sel/b', { host: '10.10.0.2' });
at('/hades/local/hades/sel/c', { host: '10.10.0.3' });

// ---- helpers -------------------------------------------------------------------------------

const UDP: ClientInfo = { address: '192.0.2.7', port: 40000, family: 4, transport: 'udp' };
const TCP: ClientInfo = { ...UDP, transport: 'tcp' };
const writer = new ResponseWriter();

let dir = '';
let store: EmbeddedStore;
let catalog: Catalog;
let h: DnsHandler;

function handler(o: Partial<DnsHandlerOptions> = {}): DnsHandler {
  return new DnsHandler({ catalog, zones: ZONES, hostname: 'test-host', version: 'hades test', ...o });
}

const parsed = newQuery();
/** The out-of-zone CNAME target of the last answer. */
let lastTarget = '';

/** Sends raw bytes as the pipeline does (parse, limit, answer); the decoded reply, or DROP/FORWARD. */
function sendRaw(hd: DnsHandler, pkt: Buffer, client: ClientInfo = UDP): Message | number {
  const st = parseQuery(pkt, pkt.length, parsed);
  if (st === ParseStatus.DROP) return DROP;
  const limit = replyLimit(client.transport, parsed.edns, parsed.udpSize, hd.maxUdpSize);
  const r = hd.answer(parsed, st, client, writer, limit);
  lastTarget = r.externalTarget;
  const n = r.length;
  if (n <= 0) return n;
  return decode(writer.buf, n);
}

interface Ask {
  edns?: EdnsInput;
  cls?: number;
  tcp?: boolean;
  hd?: DnsHandler;
}
function ask(name: string, type: string, o: Ask = {}): Message {
  const pkt = encodeQuery({
    id: 0x4242,
    name,
    type: typeFromName(type)!,
    class: o.cls,
    edns: o.edns ?? null,
  });
  const m = sendRaw(o.hd ?? h, pkt, o.tcp ? TCP : UDP);
  assert.ok(typeof m !== 'number', `${name} ${type}: no reply (${m})`);
  return m;
}

function rdata(r: ResourceRecord): string {
  switch (r.type) {
    case RRType.MX: {
      const d = r.data as MxData;
      return `${d.preference} ${d.exchange}`;
    }
    case RRType.SRV: {
      const d = r.data as SrvData;
      return `${d.priority} ${d.weight} ${d.port} ${d.target}`;
    }
    case RRType.SOA: {
      const d = r.data as SoaData;
      return `${d.mname} ${d.rname} ${d.serial === catalog.revision ? '$REV' : d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    }
    case RRType.TXT:
    case RRType.HINFO: {
      const strings = r.type === RRType.TXT ? (r.data as Buffer[]) : splitStrings(r.data as Buffer);
      return strings.map((b) => (b.length > 20 ? `"${b.length}×${b.toString()[0]}"` : `"${b}"`)).join(' ');
    }
    default:
      return typeof r.data === 'string' ? r.data : (r.data as Buffer).toString('hex');
  }
}
function splitStrings(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < b.length; p += 1 + b[p]) out.push(b.subarray(p + 1, p + 1 + b[p]));
  return out;
}
function text(r: ResourceRecord): string {
  const cls = r.class === RRClass.IN ? '' : `${className(r.class)} `;
  return `${r.name} ${r.ttl} ${cls}${typeName(r.type)} ${rdata(r)}`;
}
/** Sorts runs of records with the same owner and type: address sets are shuffled. */
function runsSorted(rrs: ResourceRecord[]): string[] {
  const out: string[] = [];
  let run: string[] = [];
  let key = '';
  for (const r of rrs) {
    const k = `${r.name.toLowerCase()} ${r.type}`;
    if (k !== key) {
      out.push(...run.sort());
      run = [];
      key = k;
    }
    run.push(text(r));
  }
  out.push(...run.sort());
  return out;
}
function rcode(m: Message): string {
  return rcodeName(((m.edns?.extRcode ?? 0) << 4) | m.rcode);
}
const SOA = 'hades.local. 30 SOA ns.dns.hades.local. hostmaster.hades.local. $REV 7200 1800 86400 30';

interface Case {
  q: [string, string] | [string, string, Ask];
  rcode?: string;
  answer?: string[];
  authority?: string[];
  /** Additional records without the OPT, compared sorted. */
  additional?: string[];
  check?: (m: Message) => void;
}

function run(cases: Record<string, Case>): void {
  for (const [title, c] of Object.entries(cases)) {
    it(title, () => {
      const [name, type, o] = c.q;
      const m = ask(name, type, o);
      assert.equal(m.id, 0x4242);
      assert.equal(m.qr, true);
      assert.equal(m.rd, true, 'RD copied');
      assert.equal(m.ra, false, 'RA never set (authoritative only)');
      assert.equal(rcode(m), c.rcode ?? 'NOERROR');
      assert.equal(m.questions.length, 1);
      assert.equal(m.questions[0].name, name.endsWith('.') ? name : `${name}.`, 'question echoed as sent');
      if (c.answer) assert.deepEqual(runsSorted(m.answers), c.answer);
      if (c.authority) assert.deepEqual(m.authorities.map(text), c.authority);
      if (c.additional)
        assert.deepEqual(
          m.additionals
            .filter((r) => r.type !== RRType.OPT)
            .map(text)
            .sort(),
          [...c.additional].sort(),
        );
      c.check?.(m);
    });
  }
}

// ---- tests ---------------------------------------------------------------------------------

describe('DnsHandler', () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-dns-'));
    store = await openEmbeddedStore({ dir });
    for (const [k, v] of DATA) await store.put(k, v);
    catalog = new Catalog({ store });
    await catalog.start();
    h = handler({ select: 'all' });
  });
  after(async () => {
    await catalog?.stop();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('the seed session (Hades 1.0.1 records)', () => {
    run({
      'qiyf-nginx-5.default.svc.hades.local A → its VIP with the record TTL': {
        q: ['qiyf-nginx-5.default.svc.hades.local', 'A'],
        answer: ['qiyf-nginx-5.default.svc.hades.local. 30 A 192.168.19.113'],
        check: (m) => {
          assert.equal(m.aa, true);
          assert.equal(m.authorities.length, 0);
        },
      },
      'tv1.user.hades.local A → CNAME cctv1.user.hades.local. then its three addresses': {
        q: ['tv1.user.hades.local', 'A'],
        answer: [
          'tv1.user.hades.local. 3600 CNAME cctv1.user.hades.local.',
          'cctv1.user.hades.local. 3600 A 192.168.10.1',
          'cctv1.user.hades.local. 3600 A 192.168.10.2',
          'cctv1.user.hades.local. 3600 A 192.168.10.3',
        ],
      },
      'cctv1.user.hades.local A → all three (select all)': {
        q: ['cctv1.user.hades.local', 'A'],
        answer: [
          'cctv1.user.hades.local. 3600 A 192.168.10.1',
          'cctv1.user.hades.local. 3600 A 192.168.10.2',
          'cctv1.user.hades.local. 3600 A 192.168.10.3',
        ],
      },
    });
  });

  describe('addresses', () => {
    run({
      'owner names echo the query case': {
        q: ['QiYf-NGINX-5.Default.SVC.hades.LOCAL', 'A'],
        answer: ['QiYf-NGINX-5.Default.SVC.hades.LOCAL. 30 A 192.168.19.113'],
      },
      'case echo through a CNAME (names compressed against the question take its case)': {
        q: ['TV1.User.Hades.Local', 'A'],
        check: (m) => {
          assert.equal(m.answers[0].name, 'TV1.User.Hades.Local.');
          assert.equal(m.answers[0].data, 'cctv1.User.Hades.Local.');
          assert.equal(m.answers[1].name, 'cctv1.User.Hades.Local.');
          assert.equal(m.answers.length, 4);
        },
      },
      AAAA: {
        q: ['web.v6.hades.local', 'AAAA'],
        answer: ['web.v6.hades.local. 3600 AAAA 2001:db8::1', 'web.v6.hades.local. 3600 AAAA 2001:db8::2'],
      },
      'A on a dual-stack name: the IPv4 only': {
        q: ['dual.hades.local', 'A'],
        answer: ['dual.hades.local. 3600 A 10.8.0.1'],
      },
      'AAAA on a dual-stack name: the IPv6 only': {
        q: ['dual.hades.local', 'AAAA'],
        answer: ['dual.hades.local. 3600 AAAA 2001:db8::8'],
      },
      'AAAA on an IPv4-only name: NODATA with the SOA': {
        q: ['cctv1.user.hades.local', 'AAAA'],
        answer: [],
        authority: [SOA],
      },
      'the same address under two keys is answered once': {
        q: ['dup.hades.local', 'A'],
        answer: ['dup.hades.local. 3600 A 10.11.0.1'],
      },
      'subtree aggregation: an empty non-terminal answers what lies below': {
        q: ['svc.hades.local', 'A'],
        answer: ['svc.hades.local. 30 A 192.168.19.113'],
      },
      'a leaf record name answers its own address (SRV targets resolve)': {
        q: ['a.svc1.hades.local', 'A'],
        answer: ['a.svc1.hades.local. 3600 A 10.5.0.1'],
      },
      'wildcard label `*`': {
        q: ['*.user.hades.local', 'A'],
        answer: [
          '*.user.hades.local. 3600 A 192.168.10.1',
          '*.user.hades.local. 3600 A 192.168.10.2',
          '*.user.hades.local. 3600 A 192.168.10.3',
        ],
      },
      'ttl 0 (Go omitempty) means the default TTL': {
        q: ['ttl0.hades.local', 'A'],
        answer: ['ttl0.hades.local. 3600 A 10.4.0.1'],
      },
      'one TTL per RRset: the lowest': {
        q: ['ttlmix.hades.local', 'A'],
        answer: ['ttlmix.hades.local. 60 A 10.4.1.1', 'ttlmix.hades.local. 60 A 10.4.1.2'],
      },
    });
  });

  describe('health overlay', () => {
    run({
      'DOWN addresses are left out, UP and unmonitored served': {
        q: ['partial.hades.local', 'A'],
        answer: ['partial.hades.local. 3600 A 10.2.0.1', 'partial.hades.local. 3600 A 10.2.0.3'],
      },
      'AAAA filtered too': {
        q: ['v6down.hades.local', 'AAAA'],
        answer: ['v6down.hades.local. 3600 AAAA 2001:db8::d2'],
      },
      'TCP filtered too': {
        q: ['partial.hades.local', 'A', { tcp: true }],
        answer: ['partial.hades.local. 3600 A 10.2.0.1', 'partial.hades.local. 3600 A 10.2.0.3'],
      },
      'SRV filtered too (weights over what is left)': {
        q: ['srvdown.hades.local', 'SRV'],
        answer: ['srvdown.hades.local. 3600 SRV 10 100 80 b.srvdown.hades.local.'],
        additional: ['b.srvdown.hades.local. 3600 A 10.2.0.1'],
      },
    });

    it('all DOWN: every address is served (fail-open) and counted', () => {
      const before = h.stats.failOpen;
      const m = ask('alldown.hades.local', 'A');
      assert.deepEqual(runsSorted(m.answers), [
        'alldown.hades.local. 3600 A 10.3.0.1',
        'alldown.hades.local. 3600 A 10.3.0.2',
      ]);
      assert.equal(h.stats.failOpen, before + 1);
    });

    it('a status written to the store reaches the next answer', async () => {
      assert.equal(ask('live.hades.local', 'A').answers.length, 2);
      const changed = new Promise<void>((resolve) => {
        const off = catalog.onChange((keys) => {
          if (keys.some((k) => k.endsWith('10.12.0.2'))) {
            off();
            resolve();
          }
        });
      });
      await store.put('/hades/monitor/status/10.12.0.2', DOWN);
      await changed;
      assert.deepEqual(runsSorted(ask('live.hades.local', 'A').answers), [
        'live.hades.local. 3600 A 10.12.0.1',
      ]);
    });
  });

  describe('CNAME', () => {
    run({
      'an in-zone chain is chased, each CNAME before its target': {
        q: ['chain1.hades.local', 'A'],
        answer: [
          'chain1.hades.local. 3600 CNAME chain2.hades.local.',
          'chain2.hades.local. 50 CNAME cctv1.user.hades.local.',
          'cctv1.user.hades.local. 3600 A 192.168.10.1',
          'cctv1.user.hades.local. 3600 A 192.168.10.2',
          'cctv1.user.hades.local. 3600 A 192.168.10.3',
        ],
      },
      'qtype CNAME: the CNAME itself, not chased': {
        q: ['chain1.hades.local', 'CNAME'],
        answer: ['chain1.hades.local. 3600 CNAME chain2.hades.local.'],
      },
      'qtype CNAME on an address name: NODATA': {
        q: ['cctv1.user.hades.local', 'CNAME'],
        answer: [],
        authority: [SOA],
      },
      'out-of-zone target: the CNAME alone (the forwarder resolves it later)': {
        q: ['ext.hades.local', 'A'],
        answer: ['ext.hades.local. 3600 CNAME www.example.com.'],
        authority: [],
        check: () => assert.equal(lastTarget, 'www.example.com.'),
      },
      'a loop: NODATA without its CNAMEs (CoreDNS)': {
        q: ['loop1.hades.local', 'A'],
        answer: [],
        authority: [SOA],
      },
      'qtype CNAME in a loop: the CNAME': {
        q: ['loop1.hades.local', 'CNAME'],
        answer: ['loop1.hades.local. 3600 CNAME loop2.hades.local.'],
      },
      [`a chain longer than ${MAX_CNAMES} CNAMEs: NODATA without them (CoreDNS)`]: {
        q: ['long0.hades.local', 'A'],
        answer: [],
        authority: [SOA],
      },
      [`a chain of exactly ${MAX_CNAMES} CNAMEs is followed to its address`]: {
        q: ['long1.hades.local', 'A', { tcp: true }],
        check: (m) => {
          assert.equal(m.answers.length, 9);
          assert.equal(m.answers[8].type, RRType.A);
          assert.equal(m.answers[8].name, 'long9.hades.local.');
        },
      },
      'a target that does not exist: NODATA without the CNAME (CoreDNS)': {
        q: ['dangle.hades.local', 'A'],
        answer: [],
        authority: [SOA],
      },
      'a dangling alias asked MX: NODATA for the name itself': {
        q: ['dangle.hades.local', 'MX'],
        answer: [],
        authority: [SOA],
      },
      'a target without the type: NODATA without the CNAME (CoreDNS)': {
        q: ['tov6.hades.local', 'A'],
        answer: [],
        authority: [SOA],
      },
      'an alias asked MX: NODATA, not the CNAME (CoreDNS chases A, AAAA and TXT only)': {
        q: ['tv1.user.hades.local', 'MX'],
        answer: [],
        authority: [SOA],
      },
      'AAAA through a CNAME': {
        q: ['tov6.hades.local', 'AAAA'],
        answer: [
          'tov6.hades.local. 3600 CNAME web.v6.hades.local.',
          'web.v6.hades.local. 3600 AAAA 2001:db8::1',
          'web.v6.hades.local. 3600 AAAA 2001:db8::2',
        ],
      },
      'TXT through a CNAME to a name without TXT: NODATA without the CNAME': {
        q: ['tv1.user.hades.local', 'TXT'],
        answer: [],
        authority: [SOA],
      },
      'a CNAME to itself is no alias: NODATA': {
        q: ['self.hades.local', 'A'],
        answer: [],
        authority: [SOA],
      },
      'several name records: one CNAME, from the lowest key': {
        q: ['multi.hades.local', 'A'],
        answer: [
          'multi.hades.local. 3600 CNAME cctv1.user.hades.local.',
          'cctv1.user.hades.local. 3600 A 192.168.10.1',
          'cctv1.user.hades.local. 3600 A 192.168.10.2',
          'cctv1.user.hades.local. 3600 A 192.168.10.3',
        ],
      },
      'a CNAME to the apex: the apex addresses from apex.dns': {
        q: ['toapex.hades.local', 'A'],
        answer: ['toapex.hades.local. 3600 CNAME hades.local.', 'hades.local. 3600 A 10.0.0.80'],
      },
      'a CNAME into another of our zones is chased': {
        q: ['torev.hades.local', 'TXT'],
        answer: [
          'torev.hades.local. 3600 CNAME 5.0.0.10.in-addr.arpa.',
          '5.0.0.10.in-addr.arpa. 3600 TXT "rev"',
        ],
      },
      'a chain that leaves the zone keeps its CNAMEs when the other zone has nothing (CoreDNS)': {
        q: ['torev.hades.local', 'A'],
        answer: ['torev.hades.local. 3600 CNAME 5.0.0.10.in-addr.arpa.'],
        authority: [],
      },
    });
  });

  describe('SRV, TXT, MX, PTR', () => {
    run({
      'SRV: weights as shares within a priority, synthesized targets with glue, name targets': {
        q: ['svc1.hades.local', 'SRV'],
        answer: [
          'svc1.hades.local. 3600 SRV 10 25 8080 a.svc1.hades.local.',
          'svc1.hades.local. 3600 SRV 10 75 8080 b.svc1.hades.local.',
          'svc1.hades.local. 3600 SRV 20 50 8080 mail.ext.example.',
          'svc1.hades.local. 3600 SRV 20 50 9090 cctv1.user.hades.local.',
        ],
        additional: [
          'a.svc1.hades.local. 3600 A 10.5.0.1',
          'b.svc1.hades.local. 3600 A 10.5.0.2',
          'cctv1.user.hades.local. 3600 A 192.168.10.1',
          'cctv1.user.hades.local. 3600 A 192.168.10.2',
          'cctv1.user.hades.local. 3600 A 192.168.10.3',
        ],
      },
      'SRV: targetstrip, duplicates (same target and port) once, every address as glue': {
        q: ['strip.hades.local', 'SRV'],
        answer: ['strip.hades.local. 3600 SRV 10 50 53 x.strip.hades.local.'],
        additional: ['x.strip.hades.local. 3600 A 10.6.0.1', 'x.strip.hades.local. 3600 A 10.6.0.2'],
      },
      'SRV on the seed record: the key leaf as target': {
        q: ['qiyf-nginx-5.default.svc.hades.local', 'SRV'],
        check: (m) => {
          assert.equal(m.answers.length, 1);
          const srv = m.answers[0].data as SrvData;
          assert.equal(m.answers[0].ttl, 30);
          assert.deepEqual([srv.priority, srv.weight, srv.port], [10, 100, 0]);
          assert.match(srv.target, /^[0-9a-f]{1,8}\.qiyf-nginx-5\.default\.svc\.hades\.local\.$/);
          assert.deepEqual(m.additionals.filter((r) => r.type !== RRType.OPT).map(text), [
            `${srv.target} 30 A 192.168.19.113`,
          ]);
        },
      },
      'TXT: one per text, long texts split into 255-octet strings': {
        q: ['txt.hades.local', 'TXT', { tcp: true }],
        answer: ['txt.hades.local. 3600 TXT "255×x" "255×x" "90×x"', 'txt.hades.local. 3600 TXT "hello"'],
      },
      'TXT over 512 octets on UDP: TC': {
        q: ['txt.hades.local', 'TXT'],
        answer: [],
        check: (m) => assert.equal(m.tc, true),
      },
      'MX: mail records only, preference = priority, glue for the synthesized exchange': {
        q: ['mx.hades.local', 'MX'],
        answer: [
          'mx.hades.local. 3600 MX 10 m1.mx.hades.local.',
          'mx.hades.local. 3600 MX 20 mx.ext.example.',
        ],
        additional: ['m1.mx.hades.local. 3600 A 10.7.0.1'],
      },
      'PTR from /hades/arpa/in-addr': {
        q: ['1.0.0.10.in-addr.arpa', 'PTR'],
        answer: ['1.0.0.10.in-addr.arpa. 3600 PTR cctv1.user.hades.local.'],
      },
      'PTR from /hades/arpa/ip6': {
        q: [reverseName('2001:db8::1'), 'PTR'],
        answer: [`${reverseName('2001:db8::1')} 3600 PTR web.v6.hades.local.`],
      },
      'PTR for an unknown address: NXDOMAIN with the reverse zone SOA': {
        q: ['9.0.0.10.in-addr.arpa', 'PTR'],
        rcode: 'NXDOMAIN',
        authority: [
          '10.in-addr.arpa. 30 SOA ns.dns.10.in-addr.arpa. hostmaster.10.in-addr.arpa. $REV 7200 1800 86400 30',
        ],
      },
      'SRV to an alias: glue is its CNAME, then the addresses of its target (CoreDNS)': {
        q: ['srvalias.hades.local', 'SRV'],
        answer: ['srvalias.hades.local. 3600 SRV 10 100 80 tv1.user.hades.local.'],
        additional: [
          'tv1.user.hades.local. 3600 CNAME cctv1.user.hades.local.',
          'cctv1.user.hades.local. 3600 A 192.168.10.1',
          'cctv1.user.hades.local. 3600 A 192.168.10.2',
          'cctv1.user.hades.local. 3600 A 192.168.10.3',
        ],
      },
      'MX without priority: preference 10 (CoreDNS)': {
        q: ['mxnoprio.hades.local', 'MX'],
        answer: ['mxnoprio.hades.local. 3600 MX 10 mail.ext.example.'],
      },
      "qtype CNAME: the name's own key first, even beside an address below it": {
        q: ['ownkey.hades.local', 'CNAME'],
        answer: ['ownkey.hades.local. 3600 CNAME ownkey-target.hades.local.'],
      },
      'SRV on a name record (SkyDNS): the host as target, its addresses as glue': {
        q: ['tv1.user.hades.local', 'SRV'],
        answer: ['tv1.user.hades.local. 3600 SRV 10 100 0 cctv1.user.hades.local.'],
        additional: [
          'cctv1.user.hades.local. 3600 A 192.168.10.1',
          'cctv1.user.hades.local. 3600 A 192.168.10.2',
          'cctv1.user.hades.local. 3600 A 192.168.10.3',
        ],
      },
    });
  });

  describe('apex', () => {
    run({
      'SOA: synthesized, serial = the catalog revision': {
        q: ['hades.local', 'SOA'],
        answer: [SOA],
        authority: [],
      },
      'SOA echoes the query case': {
        q: ['Hades.LOCAL', 'SOA'],
        answer: ['Hades.LOCAL. 30 SOA ns.dns.Hades.LOCAL. hostmaster.Hades.LOCAL. $REV 7200 1800 86400 30'],
      },
      'NS from ns.dns.<zone>, with glue': {
        q: ['hades.local', 'NS'],
        answer: [
          'hades.local. 3600 NS ns1.ns.dns.hades.local.',
          'hades.local. 3600 NS ns2.ns.dns.hades.local.',
        ],
        additional: ['ns1.ns.dns.hades.local. 3600 A 10.0.0.53', 'ns2.ns.dns.hades.local. 3600 A 10.0.0.54'],
      },
      'NS without ns.dns records: ns.dns.<zone> alone': {
        q: ['10.in-addr.arpa', 'NS'],
        answer: ['10.in-addr.arpa. 3600 NS ns.dns.10.in-addr.arpa.'],
        additional: [],
      },
      'A from apex.dns.<zone>': {
        q: ['hades.local', 'A'],
        answer: ['hades.local. 3600 A 10.0.0.80'],
      },
      'AAAA from apex.dns.<zone>': {
        q: ['hades.local', 'AAAA'],
        answer: ['hades.local. 3600 AAAA 2001:db8::80'],
      },
      'other types at the apex: NODATA (the zone is not aggregated)': {
        q: ['hades.local', 'TXT'],
        answer: [],
        authority: [SOA],
      },
      'an empty reverse zone apex exists: NODATA': {
        q: ['8.b.d.0.1.0.0.2.ip6.arpa', 'A'],
        answer: [],
        authority: [
          '8.b.d.0.1.0.0.2.ip6.arpa. 30 SOA ns.dns.8.b.d.0.1.0.0.2.ip6.arpa. hostmaster.8.b.d.0.1.0.0.2.ip6.arpa. $REV 7200 1800 86400 30',
        ],
      },
      'the NS glue names answer A themselves': {
        q: ['ns1.ns.dns.hades.local', 'A'],
        answer: ['ns1.ns.dns.hades.local. 3600 A 10.0.0.53'],
      },
    });
  });

  describe('negative answers', () => {
    run({
      'NXDOMAIN with the zone SOA (TTL = min(SOA TTL, minimum))': {
        q: ['nope.hades.local', 'A'],
        rcode: 'NXDOMAIN',
        answer: [],
        authority: [SOA],
        check: (m) => assert.equal(m.aa, true),
      },
      'NXDOMAIN below a name that has records': {
        q: ['foo.cctv1.user.hades.local', 'A'],
        rcode: 'NXDOMAIN',
        authority: [SOA],
      },
      'NODATA: the name has records, none of the type': {
        q: ['txt.hades.local', 'A'],
        answer: [],
        authority: [SOA],
        check: (m) => assert.equal(m.aa, true),
      },
      'NODATA: MX on an address name': {
        q: ['cctv1.user.hades.local', 'MX'],
        answer: [],
        authority: [SOA],
      },
      'NODATA: an unknown type on an existing name': {
        q: ['cctv1.user.hades.local', 'TYPE65'],
        answer: [],
        authority: [SOA],
      },
      'NXDOMAIN: an unknown type on a missing name': {
        q: ['nope.hades.local', 'TYPE4321'],
        rcode: 'NXDOMAIN',
        authority: [SOA],
      },
      'NODATA: NS below the apex': {
        q: ['cctv1.user.hades.local', 'NS'],
        answer: [],
        authority: [SOA],
      },
      'a name no record can have (escaped dot) in the zone: NXDOMAIN': {
        q: ['a\\.b.hades.local', 'A'],
        rcode: 'NXDOMAIN',
        authority: [SOA],
      },
      'ANY: RFC 8482 HINFO for an existing name': {
        q: ['cctv1.user.hades.local', 'ANY'],
        answer: ['cctv1.user.hades.local. 8482 HINFO "RFC8482" ""'],
      },
      'ANY on a missing name: NXDOMAIN': {
        q: ['nope.hades.local', 'ANY'],
        rcode: 'NXDOMAIN',
        authority: [SOA],
      },
      'AXFR: REFUSED': {
        q: ['hades.local', 'AXFR'],
        rcode: 'REFUSED',
        answer: [],
        check: (m) => assert.equal(m.aa, false),
      },
    });
  });

  describe('EDNS and truncation', () => {
    run({
      'OPT echoed with our size, version 0': {
        q: ['cctv1.user.hades.local', 'A', { edns: { udpSize: 4096 } }],
        check: (m) => {
          assert.ok(m.edns);
          assert.equal(m.edns.udpSize, 1232);
          assert.equal(m.edns.version, 0);
          assert.equal(m.edns.do, false);
          assert.equal(m.additionals.length, 1);
        },
      },
      'DO copied': {
        q: ['cctv1.user.hades.local', 'A', { edns: { udpSize: 1232, do: true } }],
        check: (m) => assert.equal(m.edns?.do, true),
      },
      'no OPT without EDNS': {
        q: ['cctv1.user.hades.local', 'A'],
        check: (m) => assert.equal(m.edns, null),
      },
      'OPT on negative answers too': {
        q: ['nope.hades.local', 'A', { edns: {} }],
        rcode: 'NXDOMAIN',
        check: (m) => assert.equal(m.edns?.udpSize, 1232),
      },
      '60 addresses over UDP without EDNS: TC, empty answer (512 octets)': {
        q: ['many.hades.local', 'A'],
        answer: [],
        check: (m) => {
          assert.equal(m.tc, true);
          assert.equal(m.questions.length, 1);
          assert.ok(writer.length <= 512);
        },
      },
      '60 addresses with EDNS 4096: fit in our 1232': {
        q: ['many.hades.local', 'A', { edns: { udpSize: 4096 } }],
        check: (m) => {
          assert.equal(m.tc, false);
          assert.equal(m.answers.length, 60);
          assert.ok(writer.length <= 1232);
        },
      },
      '60 addresses with EDNS 512: TC': {
        q: ['many.hades.local', 'A', { edns: { udpSize: 512 } }],
        check: (m) => {
          assert.equal(m.tc, true);
          assert.equal(m.answers.length, 0);
          assert.ok(m.edns, 'OPT kept through truncation');
        },
      },
      '60 addresses over TCP: all, no TC': {
        q: ['many.hades.local', 'A', { tcp: true }],
        check: (m) => {
          assert.equal(m.tc, false);
          assert.equal(m.answers.length, 60);
        },
      },
    });

    it('a smaller maxUdpSize caps the client size', () => {
      const small = handler({ select: 'all', maxUdpSize: 600 });
      const m = ask('many.hades.local', 'A', { edns: { udpSize: 4096 }, hd: small });
      assert.equal(m.tc, true);
      assert.equal(m.edns?.udpSize, 600);
    });
  });

  describe('malformed and unusual requests', () => {
    const q = (o: Partial<MessageInput> = {}) =>
      encode({ id: 7, rd: true, questions: [{ name: 'cctv1.user.hades.local', type: 1, class: 1 }], ...o });

    it('BADVERS: rcode 16 through an OPT of version 0, question echoed', () => {
      const m = sendRaw(h, q({ edns: { udpSize: 4096, version: 1 } })) as Message;
      assert.equal(rcode(m), 'BADVERS');
      assert.equal(m.rcode, 0);
      assert.equal(m.edns?.extRcode, 1);
      assert.equal(m.edns?.version, 0);
      assert.equal(m.questions[0]?.name, 'cctv1.user.hades.local.');
      assert.equal(m.answers.length, 0);
    });

    it('NOTIMP for another opcode, question and OPT echoed', () => {
      const m = sendRaw(h, q({ opcode: 2, edns: {} })) as Message;
      assert.equal(rcode(m), 'NOTIMP');
      assert.equal(m.opcode, 2);
      assert.equal(m.questions.length, 1);
      assert.ok(m.edns);
      assert.equal(m.aa, false);
    });

    it('FORMERR for two questions (header echoed, no question)', () => {
      const pkt = encode({
        id: 9,
        questions: [
          { name: 'a.hades.local', type: 1, class: 1 },
          { name: 'b.hades.local', type: 1, class: 1 },
        ],
      });
      const m = sendRaw(h, pkt) as Message;
      assert.equal(m.id, 9);
      assert.equal(rcode(m), 'FORMERR');
      assert.equal(m.questions.length, 0);
    });

    it('FORMERR for a bad OPT echoes the readable question and an OPT', () => {
      const pkt = q({ additionals: [{ name: 'x.', type: RRType.OPT, class: 1232, data: { options: [] } }] });
      const m = sendRaw(h, pkt) as Message;
      assert.equal(rcode(m), 'FORMERR');
      assert.equal(m.questions[0]?.name, 'cctv1.user.hades.local.');
      assert.ok(m.edns);
    });

    it('FORMERR for a truncated question', () => {
      const pkt = q();
      const m = sendRaw(h, pkt.subarray(0, pkt.length - 3)) as Message;
      assert.equal(rcode(m), 'FORMERR');
      assert.equal(m.questions.length, 0);
    });

    it('DROP: shorter than a header, or a response', () => {
      assert.equal(sendRaw(h, Buffer.alloc(5)), DROP);
      assert.equal(sendRaw(h, q({ qr: true })), DROP);
    });

    it('FORWARD for names outside our zones', () => {
      assert.equal(sendRaw(h, encodeQuery({ id: 1, name: 'www.example.com', type: 1 })), FORWARD);
      assert.equal(sendRaw(h, encodeQuery({ id: 1, name: 'local', type: 1 })), FORWARD);
      assert.equal(sendRaw(h, encodeQuery({ id: 1, name: 'xhades.local', type: 1 })), FORWARD);
      // `a\.hades` is one label: the name is a.hades + local., not under hades.local.
      assert.equal(sendRaw(h, encodeQuery({ id: 1, name: 'a\\.hades.local', type: 1 })), FORWARD);
    });

    it('other classes: REFUSED', () => {
      const m = ask('cctv1.user.hades.local', 'A', { cls: RRClass.HS });
      assert.equal(rcode(m), 'REFUSED');
      assert.equal(m.aa, false);
    });

    it('a throwing catalog gives SERVFAIL and counts it', () => {
      const broken = new DnsHandler({
        catalog: {
          lookup() {
            throw new Error('boom');
          },
          has: () => true,
          health: () => undefined,
          drained: () => false,
          revision: 1,
        },
        zones: ZONES,
      });
      const m = ask('cctv1.user.hades.local', 'A', { hd: broken, edns: {} });
      assert.equal(rcode(m), 'SERVFAIL');
      assert.equal(m.answers.length, 0);
      assert.ok(m.edns);
      assert.equal(broken.stats.errors, 1);
      // and the handler keeps working
      assert.equal(rcode(ask('hades.local', 'SOA', { hd: broken })), 'NOERROR');
    });
  });

  describe('CHAOS', () => {
    run({
      'version.bind': {
        q: ['version.bind', 'TXT', { cls: RRClass.CH }],
        answer: ['version.bind. 0 CH TXT "hades test"'],
        check: (m) => assert.equal(m.aa, true),
      },
      'VERSION.SERVER (case echoed)': {
        q: ['VERSION.SERVER', 'TXT', { cls: RRClass.CH }],
        answer: ['VERSION.SERVER. 0 CH TXT "hades test"'],
      },
      'hostname.bind': {
        q: ['hostname.bind', 'TXT', { cls: RRClass.CH }],
        answer: ['hostname.bind. 0 CH TXT "test-host"'],
      },
      'id.server': {
        q: ['id.server', 'TXT', { cls: RRClass.CH }],
        answer: ['id.server. 0 CH TXT "test-host"'],
      },
      'other CHAOS names: REFUSED': {
        q: ['authors.bind', 'TXT', { cls: RRClass.CH }],
        rcode: 'REFUSED',
        answer: [],
      },
      'other CHAOS types: REFUSED': {
        q: ['version.bind', 'A', { cls: RRClass.CH }],
        rcode: 'REFUSED',
      },
    });

    it('an empty version string refuses version.bind', () => {
      const quiet = handler({ version: '' });
      assert.equal(rcode(ask('version.bind', 'TXT', { cls: RRClass.CH, hd: quiet })), 'REFUSED');
    });
  });

  describe('selection', () => {
    it("the server policy's selector decides; a record's `select` overrides it", () => {
      const calls: string[] = [];
      const firstOnly: Selector = (_c, _n, client, name) => {
        calls.push(`${client.address} ${name}`);
        return 1;
      };
      const sticky = handler({ select: 'sticky', selectors: { sticky: firstOnly } });
      assert.equal(ask('cctv1.user.hades.local', 'A', { hd: sticky }).answers.length, 1);
      assert.deepEqual(calls, ['192.0.2.7 cctv1.user.hades.local.']);
      // sel.hades.local has a record with select: all
      assert.equal(ask('sel.hades.local', 'A', { hd: sticky }).answers.length, 3);
      assert.equal(calls.length, 1);
      // through a CNAME the selector sees the target name; the CNAME stays first
      const m = ask('tv1.user.hades.local', 'A', { hd: sticky });
      assert.deepEqual(
        m.answers.map((r) => r.type),
        [RRType.CNAME, RRType.A],
      );
      assert.equal(calls[1], '192.0.2.7 cctv1.user.hades.local.');
    });

    it('all: every address, in varying order', () => {
      const orders = new Set<string>();
      for (let i = 0; i < 50; i++)
        orders.add(
          ask('many.hades.local', 'A', { tcp: true })
            .answers.map((r) => r.data)
            .join(),
        );
      assert.ok(orders.size > 1, 'the order varies');
      for (const o of orders) assert.equal(o.split(',').length, 60);
    });

    it('defaultTtl applies to records without a ttl', () => {
      const short = handler({ select: 'all', defaultTtl: 300 });
      assert.equal(ask('cctv1.user.hades.local', 'A', { hd: short }).answers[0].ttl, 300);
      assert.equal(ask('qiyf-nginx-5.default.svc.hades.local', 'A', { hd: short }).answers[0].ttl, 30);
    });
  });

  describe('options', () => {
    it('rejects bad options with a message naming them', () => {
      assert.throws(() => handler({ zones: [] }), /zone/);
      assert.throws(() => handler({ zones: ['bad..zone'] }), /zone "bad\.\.zone"/);
      assert.throws(() => handler({ maxUdpSize: 100 }), /maxUdpSize/);
      assert.throws(() => handler({ defaultTtl: -1 }), /defaultTtl/);
      assert.throws(() => handler({ select: 'first' as never }), /select/);
    });
  });
});
