/**
 * CoreDNS etcd-plugin conformance (test/conformance/README.md): SkyDNS records written to a real
 * etcd at CoreDNS's key layout (`-prefix /skydns`), the real `hades` on them with `-select all
 * -ttl 300` (CoreDNS's default TTL), asked by dig over UDP and TCP. Each case holds the answer
 * CoreDNS gives for the same data, read from its code and its own test tables (the source is
 * named per group), and, where Hades deliberately answers otherwise, Hades's answer and why
 * (docs/comparison.md, "Where the answers differ"). Compared: rcode, AA, the answer, authority
 * and additional sections as sets (CoreDNS's tests sort them too), TTLs included; the SOA
 * serial is left out (CoreDNS: the clock; Hades: the store revision).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RRType } from '../../src/dns/wire/constants.js';
import { nameToKey } from '../../src/records/keys.js';
import type { Store } from '../../src/store/types.js';
import { type DigResult, dig, parseDig } from '../dns/clients.js';
import { type EtcdHades, startEtcdHades } from '../dns/hades-proc.js';
import { type FakeUpstream, startUpstream } from '../dns/upstream.js';

const PREFIX = '/skydns';
const ZONES = 'skydns.test.,other.test.,third.test.,in-addr.arpa.';

/** The data, as CoreDNS's tests write it: SkyDNS JSON at the key of the name (no leaf labels). */
const DATA: [string, object][] = [
  // plugin/etcd/lookup_test.go `services`
  ['a.server1.dev.region1.skydns.test.', { host: 'dev.server1', port: 8080 }],
  ['a.server1.prod.region1.skydns.test.', { host: '10.0.0.1', port: 8080 }],
  ['b.server1.prod.region1.skydns.test.', { host: '10.0.0.2', port: 8080 }],
  ['b.server6.prod.region1.skydns.test.', { host: '::1', port: 8080 }],
  ['cname.prod.region1.skydns.test.', { host: 'unresolvable.skydns.test' }],
  ['priority.skydns.test.', { host: 'priority.server1', priority: 333, port: 8080 }],
  ['a.sub.region1.skydns.test.', { host: 'sub.server1', port: 0 }],
  ['b.sub.region1.skydns.test.', { host: 'sub.server2', port: 80 }],
  ['c.sub.region1.skydns.test.', { host: '10.0.0.1', port: 8080 }],
  ['b.cname.skydns.test.', { host: 'a.cname.skydns.test' }],
  ['a.cname.skydns.test.', { host: 'b.cname.skydns.test' }],
  ['a.ns.dns.skydns.test.', { host: '10.0.0.2' }],
  ['b.ns.dns.skydns.test.', { host: '10.0.0.3' }],
  ['1.0.0.10.in-addr.arpa.', { host: 'reverse.example.com' }],
  // a zone with apex.dns records, one without (lookup_test.go skydns_zoneb/zoned, skydns_zonea)
  ['x.other.test.', { host: '10.0.0.2' }],
  ['y.other.test.', { host: '10.0.0.3' }],
  ['a1.apex.dns.other.test.', { host: '10.0.0.4' }],
  ['a3.apex.dns.other.test.', { host: '2003::8:1' }],
  ['p.third.test.', { host: '10.0.0.7' }],
  ['q.third.test.', { host: '10.0.0.8' }],
  // plugin/etcd/cname_test.go `servicesCname`
  ['chain.skydns.test.', { host: 'cname1.region2.skydns.test' }],
  ['cname1.region2.skydns.test.', { host: 'cname2.region2.skydns.test' }],
  ['cname2.region2.skydns.test.', { host: 'cname3.region2.skydns.test' }],
  ['cname3.region2.skydns.test.', { host: 'cname4.region2.skydns.test' }],
  ['cname4.region2.skydns.test.', { host: 'cname5.region2.skydns.test' }],
  ['cname5.region2.skydns.test.', { host: 'cname6.region2.skydns.test' }],
  ['cname6.region2.skydns.test.', { host: 'endpoint.region2.skydns.test' }],
  ['region2.skydns.test.', { host: 'mainendpoint.region2.skydns.test' }],
  ['region3.skydns.test.', { text: 'SOME-RECORD-TEXT' }],
  ['endpoint.region2.skydns.test.', { host: '10.240.0.1' }],
  // plugin/etcd/other_test.go `servicesOther` (MX, TXT, duplicate addresses)
  ['a.mail.skydns.test.', { host: 'mx.skydns.test', priority: 50, mail: true }],
  ['b.mail.skydns.test.', { host: 'mx.miek.nl', priority: 50, mail: true }],
  ['mx.skydns.test.', { host: 'a.ipaddr.skydns.test' }],
  ['a.mx2.skydns.test.', { host: 'a.ipaddr.skydns.test', mail: true }],
  ['b.mx2.skydns.test.', { host: 'b.ipaddr.skydns.test', mail: true }],
  ['a.mx3.skydns.test.', { host: 'a.ipaddr.skydns.test', priority: 20, mail: true }],
  ['b.mx3.skydns.test.', { host: 'a.ipaddr.skydns.test', priority: 30, mail: true }],
  ['a.ipaddr.skydns.test.', { host: '172.16.1.1' }],
  ['b.ipaddr.skydns.test.', { host: '172.16.1.2' }],
  ['a1.txt.skydns.test.', { text: 'abc' }],
  ['a2.txt.skydns.test.', { text: 'abc abc' }],
  ['large400.skydns.test.', { text: '0'.repeat(400) }],
  ['http.multiport.http.skydns.test.', { host: '10.11.11.10', port: 80 }],
  ['https.multiport.http.skydns.test.', { host: '10.11.11.10', port: 443 }],
  // ours, for the cases the tables above do not cover
  ['mxip.skydns.test.', { host: '10.2.0.1', mail: true }],
  ['a.w.skydns.test.', { host: '10.1.0.1', port: 80, weight: 10 }],
  ['b.w.skydns.test.', { host: '10.1.0.2', port: 80, weight: 30 }],
  ['c.w.skydns.test.', { host: '10.1.0.3', port: 80, priority: 20 }],
  ['p0.skydns.test.', { host: '10.1.0.9', port: 80, priority: 0 }],
  ['a.ts.skydns.test.', { host: '10.1.1.1', port: 53, targetstrip: 1 }],
  ['iptxt.skydns.test.', { host: '10.3.0.1', text: 'not served' }],
  ['ttxt.skydns.test.', { host: 'a1.txt.skydns.test' }],
  ['tov6.skydns.test.', { host: 'v6.skydns.test' }],
  ['v6.skydns.test.', { host: '2001:db8::1' }],
  ['ttl.skydns.test.', { host: '10.5.0.1', ttl: 60 }],
  ['ext.skydns.test.', { host: 'www.example.net' }],
  ['extnx.skydns.test.', { host: 'nx.example.net' }],
  ['tother.skydns.test.', { host: 'x.other.test' }],
  ['tothernx.skydns.test.', { host: 'nothere.other.test' }],
  ['a.mixed.skydns.test.', { host: '10.4.0.1' }],
  ['b.mixed.skydns.test.', { host: 'x.other.test' }],
];

/** The upstream (out-of-zone targets): www.example.net A 192.0.2.10, everything else NXDOMAIN. */
const UPSTREAM_A: { [name: string]: string } = { 'www.example.net.': '192.0.2.10' };

const soa = (zone: string) => `${zone} 30 SOA ns.dns.${zone} hostmaster.${zone} SERIAL 7200 1800 86400 30`;
const SOA = soa('skydns.test.');
const txt400 = `"${'0'.repeat(255)}" "${'0'.repeat(145)}"`;

interface Answer {
  rcode: 'NOERROR' | 'NXDOMAIN';
  answer?: string[];
  authority?: string[];
  additional?: string[];
}
interface Case {
  q: [string, string];
  /** Over TCP as well (dig +tcp), expecting the same. */
  tcp?: boolean;
  /** What CoreDNS's etcd plugin answers. */
  coredns: Answer;
  /** What Hades answers instead, deliberately, and why (docs/comparison.md). */
  hades?: Answer & { why: string };
}

const NODATA: Answer = { rcode: 'NOERROR', authority: [SOA] };
const NXDOMAIN: Answer = { rcode: 'NXDOMAIN', authority: [SOA] };

/**
 * Cases by group, each group with the CoreDNS source its answers come from (coredns/coredns;
 * SkyDNS's server/server_test.go has the same cases in its older form).
 */
const GROUPS: { [group: string]: Case[] } = {
  // plugin/backend_lookup.go `A`/`AAAA`, plugin/etcd/etcd.go `loopNodes` (aggregation below a
  // name, 300 s default TTL, `ttl`), lookup_test.go / other_test.go
  'A and AAAA': [
    {
      q: ['a.server1.prod.region1.skydns.test.', 'A'],
      tcp: true,
      coredns: { rcode: 'NOERROR', answer: ['a.server1.prod.region1.skydns.test. 300 A 10.0.0.1'] },
    },
    {
      q: ['b.server6.prod.region1.skydns.test.', 'AAAA'],
      coredns: { rcode: 'NOERROR', answer: ['b.server6.prod.region1.skydns.test. 300 AAAA ::1'] },
    },
    { q: ['a.server1.prod.region1.skydns.test.', 'AAAA'], coredns: NODATA },
    {
      q: ['server1.prod.region1.skydns.test.', 'A'],
      coredns: {
        rcode: 'NOERROR',
        answer: [
          'server1.prod.region1.skydns.test. 300 A 10.0.0.1',
          'server1.prod.region1.skydns.test. 300 A 10.0.0.2',
        ],
      },
    },
    {
      // the dangling cname.prod is skipped, the AAAA ignored
      q: ['prod.region1.skydns.test.', 'A'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['prod.region1.skydns.test. 300 A 10.0.0.1', 'prod.region1.skydns.test. 300 A 10.0.0.2'],
      },
    },
    {
      q: ['multiport.http.skydns.test.', 'A'],
      coredns: { rcode: 'NOERROR', answer: ['multiport.http.skydns.test. 300 A 10.11.11.10'] },
    },
    {
      q: ['ttl.skydns.test.', 'A'],
      coredns: { rcode: 'NOERROR', answer: ['ttl.skydns.test. 60 A 10.5.0.1'] },
    },
    {
      q: ['iptxt.skydns.test.', 'A'],
      coredns: { rcode: 'NOERROR', answer: ['iptxt.skydns.test. 300 A 10.3.0.1'] },
    },
    { q: ['doesnotexist.skydns.test.', 'A'], coredns: NXDOMAIN },
    { q: ['doesnotexist.skydns.test.', 'AAAA'], coredns: NXDOMAIN },
    {
      // A(): the address, and the name record's CNAME chased to its target's addresses
      q: ['mixed.skydns.test.', 'A'],
      coredns: {
        rcode: 'NOERROR',
        answer: [
          'mixed.skydns.test. 300 A 10.4.0.1',
          'mixed.skydns.test. 300 CNAME x.other.test.',
          'x.other.test. 300 A 10.0.0.2',
        ],
      },
      hades: {
        why: 'a name with addresses is no alias (RFC 1034 §3.6.2: a CNAME owner has no other data)',
        rcode: 'NOERROR',
        answer: ['mixed.skydns.test. 300 A 10.4.0.1'],
      },
    },
  ],
  // plugin/backend_lookup.go `A`/`TXT` (CNAME kept only when its in-zone target gave records,
  // DuplicateCNAME for loops, at most 8), `CNAME` (the name's own key), cname_test.go
  CNAME: [
    {
      q: ['chain.skydns.test.', 'A'],
      tcp: true,
      coredns: {
        rcode: 'NOERROR',
        answer: [
          'chain.skydns.test. 300 CNAME cname1.region2.skydns.test.',
          'cname1.region2.skydns.test. 300 CNAME cname2.region2.skydns.test.',
          'cname2.region2.skydns.test. 300 CNAME cname3.region2.skydns.test.',
          'cname3.region2.skydns.test. 300 CNAME cname4.region2.skydns.test.',
          'cname4.region2.skydns.test. 300 CNAME cname5.region2.skydns.test.',
          'cname5.region2.skydns.test. 300 CNAME cname6.region2.skydns.test.',
          'cname6.region2.skydns.test. 300 CNAME endpoint.region2.skydns.test.',
          'endpoint.region2.skydns.test. 300 A 10.240.0.1',
        ],
      },
    },
    { q: ['chain.skydns.test.', 'AAAA'], coredns: NODATA },
    { q: ['chain.skydns.test.', 'MX'], coredns: NODATA },
    { q: ['chain.skydns.test.', 'HINFO'], coredns: NODATA },
    {
      q: ['chain.skydns.test.', 'SOA'],
      coredns: { rcode: 'NOERROR', answer: [SOA] },
      hades: { why: 'SOA below the apex', ...NODATA },
    },
    {
      q: ['chain.skydns.test.', 'CNAME'],
      coredns: { rcode: 'NOERROR', answer: ['chain.skydns.test. 300 CNAME cname1.region2.skydns.test.'] },
    },
    {
      q: ['region2.skydns.test.', 'CNAME'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['region2.skydns.test. 300 CNAME mainendpoint.region2.skydns.test.'],
      },
    },
    {
      // the name records below region2 point below it: no alias (w.x CNAME x loops)
      q: ['region2.skydns.test.', 'A'],
      coredns: { rcode: 'NOERROR', answer: ['region2.skydns.test. 300 A 10.240.0.1'] },
    },
    { q: ['region3.skydns.test.', 'CNAME'], coredns: NODATA },
    { q: ['cname.prod.region1.skydns.test.', 'A'], coredns: NODATA },
    { q: ['cname.prod.region1.skydns.test.', 'MX'], coredns: NODATA },
    { q: ['cname.prod.region1.skydns.test.', 'TXT'], coredns: NODATA },
    {
      q: ['cname.prod.region1.skydns.test.', 'CNAME'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['cname.prod.region1.skydns.test. 300 CNAME unresolvable.skydns.test.'],
      },
    },
    { q: ['a.cname.skydns.test.', 'A'], coredns: NODATA },
    { q: ['tov6.skydns.test.', 'A'], coredns: NODATA },
    {
      q: ['tov6.skydns.test.', 'AAAA'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['tov6.skydns.test. 300 CNAME v6.skydns.test.', 'v6.skydns.test. 300 AAAA 2001:db8::1'],
      },
    },
    {
      q: ['ttxt.skydns.test.', 'TXT'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['ttxt.skydns.test. 300 CNAME a1.txt.skydns.test.', 'a1.txt.skydns.test. 300 TXT "abc"'],
      },
    },
    {
      // another zone of the server: looked up through the server (Lookup), CNAME kept
      q: ['tother.skydns.test.', 'A'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['tother.skydns.test. 300 CNAME x.other.test.', 'x.other.test. 300 A 10.0.0.2'],
      },
    },
    {
      q: ['tothernx.skydns.test.', 'A'],
      coredns: { rcode: 'NOERROR', answer: ['tothernx.skydns.test. 300 CNAME nothere.other.test.'] },
    },
    {
      // out of every zone: the upstream's answer appended
      q: ['ext.skydns.test.', 'A'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['ext.skydns.test. 300 CNAME www.example.net.', 'www.example.net. 60 A 192.0.2.10'],
      },
    },
    {
      q: ['extnx.skydns.test.', 'A'],
      coredns: { rcode: 'NOERROR', answer: ['extnx.skydns.test. 300 CNAME nx.example.net.'] },
      hades: {
        why: "the upstream's NXDOMAIN for the target is the answer's rcode (RFC 6604)",
        rcode: 'NXDOMAIN',
        answer: ['extnx.skydns.test. 300 CNAME nx.example.net.'],
      },
    },
  ],
  // plugin/backend_lookup.go `TXT`, plugin/etcd/msg/type.go `HostType`, other_test.go
  TXT: [
    {
      q: ['a1.txt.skydns.test.', 'TXT'],
      coredns: { rcode: 'NOERROR', answer: ['a1.txt.skydns.test. 300 TXT "abc"'] },
    },
    {
      q: ['txt.skydns.test.', 'TXT'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['txt.skydns.test. 300 TXT "abc"', 'txt.skydns.test. 300 TXT "abc abc"'],
      },
    },
    {
      q: ['large400.skydns.test.', 'TXT'],
      tcp: true,
      coredns: { rcode: 'NOERROR', answer: [`large400.skydns.test. 300 TXT ${txt400}`] },
    },
    { q: ['iptxt.skydns.test.', 'TXT'], coredns: NODATA },
    { q: ['a1.txt.skydns.test.', 'A'], coredns: NODATA },
    {
      // lookup_test.go's "NODATA Test" expects NODATA because its test upstream cannot be asked;
      // with an upstream that answers (NXDOMAIN here), TXT() keeps the CNAME and its empty answer
      q: ['a.server1.dev.region1.skydns.test.', 'TXT'],
      coredns: { rcode: 'NOERROR', answer: ['a.server1.dev.region1.skydns.test. 300 CNAME dev.server1.'] },
      hades: {
        why: "the upstream's NXDOMAIN for the target is the answer's rcode (RFC 6604)",
        rcode: 'NXDOMAIN',
        answer: ['a.server1.dev.region1.skydns.test. 300 CNAME dev.server1.'],
      },
    },
  ],
  // plugin/backend_lookup.go `MX`, msg/service.go `NewMX`, etcd.go `loopNodes` (priority 0 → 10), other_test.go
  MX: [
    { q: ['a.server1.dev.region1.skydns.test.', 'MX'], coredns: NODATA },
    {
      q: ['a.mail.skydns.test.', 'MX'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['a.mail.skydns.test. 300 MX 50 mx.skydns.test.'],
        additional: [
          'mx.skydns.test. 300 CNAME a.ipaddr.skydns.test.',
          'a.ipaddr.skydns.test. 300 A 172.16.1.1',
        ],
      },
    },
    {
      q: ['mail.skydns.test.', 'MX'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['mail.skydns.test. 300 MX 50 mx.skydns.test.', 'mail.skydns.test. 300 MX 50 mx.miek.nl.'],
        additional: [
          'mx.skydns.test. 300 CNAME a.ipaddr.skydns.test.',
          'a.ipaddr.skydns.test. 300 A 172.16.1.1',
        ],
      },
    },
    {
      q: ['mx2.skydns.test.', 'MX'],
      coredns: {
        rcode: 'NOERROR',
        answer: [
          'mx2.skydns.test. 300 MX 10 a.ipaddr.skydns.test.',
          'mx2.skydns.test. 300 MX 10 b.ipaddr.skydns.test.',
        ],
        additional: ['a.ipaddr.skydns.test. 300 A 172.16.1.1', 'b.ipaddr.skydns.test. 300 A 172.16.1.2'],
      },
    },
    {
      q: ['mx3.skydns.test.', 'MX'],
      coredns: {
        rcode: 'NOERROR',
        answer: [
          'mx3.skydns.test. 300 MX 20 a.ipaddr.skydns.test.',
          'mx3.skydns.test. 300 MX 30 a.ipaddr.skydns.test.',
        ],
        additional: ['a.ipaddr.skydns.test. 300 A 172.16.1.1'],
      },
    },
    {
      q: ['mxip.skydns.test.', 'MX'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['mxip.skydns.test. 300 MX 10 mxip.skydns.test.'],
        additional: ['mxip.skydns.test. 300 A 10.2.0.1'],
      },
    },
    { q: ['doesnotexist.skydns.test.', 'MX'], coredns: NXDOMAIN },
  ],
  // plugin/backend_lookup.go `SRV` (weights as shares per priority, address hosts named by
  // their key with glue), msg/service.go `NewSRV`/`targetStrip`, lookup_test.go, cname_test.go
  SRV: [
    {
      q: ['a.server1.dev.region1.skydns.test.', 'SRV'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['a.server1.dev.region1.skydns.test. 300 SRV 10 100 8080 dev.server1.'],
      },
    },
    {
      q: ['a.server1.prod.region1.skydns.test.', 'SRV'],
      tcp: true,
      coredns: {
        rcode: 'NOERROR',
        answer: [
          'a.server1.prod.region1.skydns.test. 300 SRV 10 100 8080 a.server1.prod.region1.skydns.test.',
        ],
        additional: ['a.server1.prod.region1.skydns.test. 300 A 10.0.0.1'],
      },
    },
    {
      q: ['priority.skydns.test.', 'SRV'],
      coredns: { rcode: 'NOERROR', answer: ['priority.skydns.test. 300 SRV 333 100 8080 priority.server1.'] },
    },
    {
      q: ['sub.region1.skydns.test.', 'SRV'],
      coredns: {
        rcode: 'NOERROR',
        answer: [
          'sub.region1.skydns.test. 300 SRV 10 33 0 sub.server1.',
          'sub.region1.skydns.test. 300 SRV 10 33 80 sub.server2.',
          'sub.region1.skydns.test. 300 SRV 10 33 8080 c.sub.region1.skydns.test.',
        ],
        additional: ['c.sub.region1.skydns.test. 300 A 10.0.0.1'],
      },
    },
    {
      q: ['w.skydns.test.', 'SRV'],
      coredns: {
        rcode: 'NOERROR',
        answer: [
          'w.skydns.test. 300 SRV 10 25 80 a.w.skydns.test.',
          'w.skydns.test. 300 SRV 10 75 80 b.w.skydns.test.',
          'w.skydns.test. 300 SRV 20 100 80 c.w.skydns.test.',
        ],
        additional: [
          'a.w.skydns.test. 300 A 10.1.0.1',
          'b.w.skydns.test. 300 A 10.1.0.2',
          'c.w.skydns.test. 300 A 10.1.0.3',
        ],
      },
    },
    {
      q: ['p0.skydns.test.', 'SRV'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['p0.skydns.test. 300 SRV 10 100 80 p0.skydns.test.'],
        additional: ['p0.skydns.test. 300 A 10.1.0.9'],
      },
    },
    {
      q: ['a.ts.skydns.test.', 'SRV'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['a.ts.skydns.test. 300 SRV 10 100 53 ts.skydns.test.'],
        additional: ['ts.skydns.test. 300 A 10.1.1.1'],
      },
    },
    {
      q: ['chain.skydns.test.', 'SRV'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['chain.skydns.test. 300 SRV 10 100 0 cname1.region2.skydns.test.'],
        additional: [
          'cname1.region2.skydns.test. 300 CNAME cname2.region2.skydns.test.',
          'cname2.region2.skydns.test. 300 CNAME cname3.region2.skydns.test.',
          'cname3.region2.skydns.test. 300 CNAME cname4.region2.skydns.test.',
          'cname4.region2.skydns.test. 300 CNAME cname5.region2.skydns.test.',
          'cname5.region2.skydns.test. 300 CNAME cname6.region2.skydns.test.',
          'cname6.region2.skydns.test. 300 CNAME endpoint.region2.skydns.test.',
          'endpoint.region2.skydns.test. 300 A 10.240.0.1',
        ],
      },
    },
    { q: ['a1.txt.skydns.test.', 'SRV'], coredns: NODATA },
    { q: ['doesnotexist.skydns.test.', 'SRV'], coredns: NXDOMAIN },
  ],
  // plugin/etcd/etcd.go `Records`/`loopNodes` (`*` and `any` labels), lookup_test.go "Wildcard Test"
  wildcards: [
    {
      q: ['*.region1.skydns.test.', 'SRV'],
      tcp: true,
      coredns: {
        rcode: 'NOERROR',
        answer: [
          '*.region1.skydns.test. 300 SRV 10 12 0 sub.server1.',
          '*.region1.skydns.test. 300 SRV 10 12 0 unresolvable.skydns.test.',
          '*.region1.skydns.test. 300 SRV 10 12 80 sub.server2.',
          '*.region1.skydns.test. 300 SRV 10 12 8080 a.server1.prod.region1.skydns.test.',
          '*.region1.skydns.test. 300 SRV 10 12 8080 b.server1.prod.region1.skydns.test.',
          '*.region1.skydns.test. 300 SRV 10 12 8080 b.server6.prod.region1.skydns.test.',
          '*.region1.skydns.test. 300 SRV 10 12 8080 c.sub.region1.skydns.test.',
          '*.region1.skydns.test. 300 SRV 10 12 8080 dev.server1.',
        ],
        additional: [
          'a.server1.prod.region1.skydns.test. 300 A 10.0.0.1',
          'b.server1.prod.region1.skydns.test. 300 A 10.0.0.2',
          'b.server6.prod.region1.skydns.test. 300 AAAA ::1',
          'c.sub.region1.skydns.test. 300 A 10.0.0.1',
        ],
      },
    },
    ...['prod.*.skydns.test.', 'prod.any.skydns.test.'].map(
      (name): Case => ({
        q: [name, 'SRV'],
        coredns: {
          rcode: 'NOERROR',
          answer: [
            `${name} 300 SRV 10 25 0 unresolvable.skydns.test.`,
            `${name} 300 SRV 10 25 8080 a.server1.prod.region1.skydns.test.`,
            `${name} 300 SRV 10 25 8080 b.server1.prod.region1.skydns.test.`,
            `${name} 300 SRV 10 25 8080 b.server6.prod.region1.skydns.test.`,
          ],
          additional: [
            'a.server1.prod.region1.skydns.test. 300 A 10.0.0.1',
            'b.server1.prod.region1.skydns.test. 300 A 10.0.0.2',
            'b.server6.prod.region1.skydns.test. 300 AAAA ::1',
          ],
        },
      }),
    ),
  ],
  // plugin/backend_lookup.go `PTR`, lookup_test.go "Reverse lookup"
  PTR: [
    {
      q: ['1.0.0.10.in-addr.arpa.', 'PTR'],
      coredns: { rcode: 'NOERROR', answer: ['1.0.0.10.in-addr.arpa. 300 PTR reverse.example.com.'] },
    },
    {
      q: ['2.0.0.10.in-addr.arpa.', 'PTR'],
      coredns: { rcode: 'NXDOMAIN', authority: [soa('in-addr.arpa.')] },
    },
    { q: ['a.server1.prod.region1.skydns.test.', 'PTR'], coredns: NODATA },
  ],
  // plugin/backend_lookup.go `NS`, `SOA`, `checkForApex`; plugin/etcd/handler.go (NS below the
  // apex falls through to the default case); lookup_test.go
  'NS, SOA and the apex': [
    { q: ['skydns.test.', 'SOA'], tcp: true, coredns: { rcode: 'NOERROR', answer: [SOA] } },
    {
      q: ['skydns.test.', 'NS'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['skydns.test. 300 NS a.ns.dns.skydns.test.', 'skydns.test. 300 NS b.ns.dns.skydns.test.'],
        additional: ['a.ns.dns.skydns.test. 300 A 10.0.0.2', 'b.ns.dns.skydns.test. 300 A 10.0.0.3'],
      },
    },
    {
      q: ['ns.dns.skydns.test.', 'A'],
      coredns: {
        rcode: 'NOERROR',
        answer: ['ns.dns.skydns.test. 300 A 10.0.0.2', 'ns.dns.skydns.test. 300 A 10.0.0.3'],
      },
    },
    { q: ['a.skydns.test.', 'NS'], coredns: NXDOMAIN },
    { q: ['a.server1.prod.region1.skydns.test.', 'NS'], coredns: NODATA },
    { q: ['other.test.', 'A'], coredns: { rcode: 'NOERROR', answer: ['other.test. 300 A 10.0.0.4'] } },
    { q: ['other.test.', 'AAAA'], coredns: { rcode: 'NOERROR', answer: ['other.test. 300 AAAA 2003::8:1'] } },
    {
      q: ['other.test.', 'NS'],
      coredns: { rcode: 'NXDOMAIN', authority: [soa('other.test.')] },
      hades: {
        why: 'an apex always has an NS set: the SOA MNAME when ns.dns.<zone> holds no records',
        rcode: 'NOERROR',
        answer: ['other.test. 300 NS ns.dns.other.test.'],
      },
    },
    {
      q: ['third.test.', 'A'],
      coredns: { rcode: 'NOERROR', answer: ['third.test. 300 A 10.0.0.7', 'third.test. 300 A 10.0.0.8'] },
      hades: {
        why: 'without apex.dns records the apex has no addresses; the zone is never aggregated from its apex',
        rcode: 'NOERROR',
        authority: [soa('third.test.')],
      },
    },
    {
      q: ['a.server1.prod.region1.skydns.test.', 'SOA'],
      coredns: { rcode: 'NOERROR', answer: [SOA] },
      hades: { why: "SOA below the apex: NODATA (CoreDNS answers the zone's SOA, another owner)", ...NODATA },
    },
  ],
  // plugin/etcd/handler.go `ServeDNS` default case: a fake A lookup tells NODATA from NXDOMAIN;
  // lookup_test.go "NODATA Test" / "NXDOMAIN Test"
  'types not served, empty non-terminals, ANY': [
    { q: ['a.server1.dev.region1.skydns.test.', 'HINFO'], coredns: NODATA },
    { q: ['a.server1.nonexistent.region1.skydns.test.', 'HINFO'], coredns: NXDOMAIN },
    { q: ['a.server1.prod.region1.skydns.test.', 'CAA'], coredns: NODATA },
    { q: ['a.server1.prod.region1.skydns.test.', 'DS'], coredns: NODATA },
    { q: ['a.server1.prod.region1.skydns.test.', 'NAPTR'], coredns: NODATA },
    { q: ['region1.skydns.test.', 'HINFO'], coredns: NODATA },
    { q: ['prod.region1.skydns.test.', 'CAA'], coredns: NODATA },
    {
      q: ['a.server1.prod.region1.skydns.test.', 'ANY'],
      coredns: NODATA,
      hades: {
        why: "RFC 8482's HINFO, as CoreDNS's `any` plugin",
        rcode: 'NOERROR',
        answer: ['a.server1.prod.region1.skydns.test. 8482 HINFO "RFC8482" ""'],
      },
    },
    { q: ['doesnotexist.skydns.test.', 'ANY'], coredns: NXDOMAIN },
  ],
};

/** `name ttl TYPE data`, the name in lower case, an SOA's serial as SERIAL. */
function rrText(r: { name: string; ttl: number; type: string; data: string }): string {
  let data = r.data;
  if (r.type === 'SOA') data = data.replace(/^(\S+ \S+) \d+ /, '$1 SERIAL ');
  return `${r.name.toLowerCase()} ${r.ttl} ${r.type} ${data}`;
}

const sorted = (a: string[] | undefined) => [...(a ?? [])].sort();

function check(r: DigResult, want: Answer, what: string): void {
  const got = {
    rcode: r.status,
    aa: r.flags.includes('aa'),
    answer: r.answer.map(rrText).sort(),
    authority: r.authority.map(rrText).sort(),
    additional: r.additional.map(rrText).sort(),
  };
  assert.deepEqual(
    got,
    {
      rcode: want.rcode,
      aa: true,
      answer: sorted(want.answer),
      authority: sorted(want.authority),
      additional: sorted(want.additional),
    },
    `${what}\n${r.raw}`,
  );
}

describe('CoreDNS etcd-plugin conformance (etcd, hades -select all, dig)', () => {
  let fx: EtcdHades;
  let up: FakeUpstream;

  before(async () => {
    up = await startUpstream({
      answer: (q) => {
        const name = q.name.toLowerCase().replace(/\.?$/, '.');
        const ip = UPSTREAM_A[name];
        if (ip === undefined) return { rcode: 3 };
        if (q.type !== RRType.A) return {};
        return { answers: [{ name: q.name, type: RRType.A, ttl: 60, data: ip }] };
      },
    });
    const load = async (store: Store): Promise<void> => {
      for (const [name, value] of DATA) await store.put(nameToKey(name, PREFIX), JSON.stringify(value));
    };
    fx = await startEtcdHades(
      ['-prefix', PREFIX, '-select', 'all', '-ttl', '300', '-nameservers', up.address, '-logtostderr'],
      { domain: ZONES, load, zone: 'skydns.test.' },
    );
  });

  after(async () => {
    await fx?.stop();
    await up?.close();
  });

  for (const [group, cases] of Object.entries(GROUPS)) {
    describe(group, () => {
      for (const c of cases) {
        const [name, type] = c.q;
        const title = `${name} ${type}${c.hades ? ` (differs: ${c.hades.why})` : ''}`;
        it(title, async () => {
          const want = c.hades ?? c.coredns;
          const udp = parseDig((await dig(fx.port, ['+nocookie', name, type])).stdout);
          check(udp, want, `UDP ${name} ${type}`);
          if (c.tcp) {
            const tcp = parseDig((await dig(fx.port, ['+nocookie', '+tcp', name, type])).stdout);
            check(tcp, want, `TCP ${name} ${type}`);
          }
        });
      }
    });
  }

  it('every case names a question once', () => {
    const seen = new Set<string>();
    for (const cases of Object.values(GROUPS))
      for (const c of cases) {
        const k = c.q.join(' ');
        assert.ok(!seen.has(k), k);
        seen.add(k);
      }
  });
});
