import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { newQuery, ParseStatus, parseQuery, type Query } from './query.js';

// ---- hand-built packet pieces ----

function u16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}
function u32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}
function header(o: { id?: number; flags?: number; qd?: number; an?: number; ns?: number; ar?: number } = {}) {
  return [
    ...u16(o.id ?? 0x1234),
    ...u16(o.flags ?? 0x0100),
    ...u16(o.qd ?? 1),
    ...u16(o.an ?? 0),
    ...u16(o.ns ?? 0),
    ...u16(o.ar ?? 0),
  ];
}
/** Wire name from labels given as text (latin1) or raw octet arrays. */
function wname(...labels: (string | number[])[]): number[] {
  const out: number[] = [];
  for (const l of labels) {
    const b = typeof l === 'string' ? [...Buffer.from(l, 'latin1')] : l;
    out.push(b.length, ...b);
  }
  out.push(0);
  return out;
}
function question(name: number[], type = 1, cls = 1): number[] {
  return [...name, ...u16(type), ...u16(cls)];
}
function option(code: number, data: number[]): number[] {
  return [...u16(code), ...u16(data.length), ...data];
}
function opt(
  o: {
    udp?: number;
    ext?: number;
    version?: number;
    flags?: number;
    options?: number[];
    owner?: number[];
  } = {},
) {
  const rdata = o.options ?? [];
  return [
    ...(o.owner ?? [0]),
    ...u16(41),
    ...u16(o.udp ?? 1232),
    o.ext ?? 0,
    o.version ?? 0,
    ...u16(o.flags ?? 0),
    ...u16(rdata.length),
    ...rdata,
  ];
}
function ecs(family: number, source: number, scope: number, addr: number[]): number[] {
  return option(8, [...u16(family), source, scope, ...addr]);
}
function rr(owner: number[], type: number, rdata: number[], cls = 1, ttl = 60): number[] {
  return [...owner, ...u16(type), ...u16(cls), ...u32(ttl), ...u16(rdata.length), ...rdata];
}
const Q = question(wname('www', 'example', 'com'));
function pkt(...parts: number[][]): Buffer {
  return Buffer.from(parts.flat());
}

function parse(buf: Buffer, q: Query = newQuery(), len = buf.length): { st: number; q: Query } {
  const st = parseQuery(buf, len, q);
  return { st, q };
}

describe('parseQuery: well-formed queries', () => {
  const cases: { name: string; buf: Buffer; want: Partial<Record<keyof Query, unknown>>; status?: number }[] =
    [
      {
        name: 'plain A query',
        buf: pkt(header(), Q),
        want: {
          id: 0x1234,
          opcode: 0,
          rd: true,
          cd: false,
          qdcount: 1,
          hasQuestion: true,
          qname: 'www.example.com.',
          qnameLength: 17,
          qnameLabels: 3,
          qtype: 1,
          qclass: 1,
          questionEnd: 33,
          edns: false,
          udpSize: 512,
          do: false,
          ecs: false,
          qnameEscaped: false,
          qnamePlain: true,
          reason: '',
        },
      },
      {
        name: 'mixed case (0x20) is lowered in qname, kept in qnameWire',
        buf: pkt(header(), question(wname('WwW', 'ExAmPle', 'COM'), 28)),
        want: { qname: 'www.example.com.', qtype: 28 },
      },
      {
        name: 'root',
        buf: pkt(header(), question(wname(), 2)),
        want: { qname: '.', qnameLength: 1, qnameLabels: 0 },
      },
      {
        name: 'RD clear, CD and AD set',
        buf: pkt(header({ flags: 0x0030 }), Q),
        want: { rd: false, cd: true, ad: true, flags: 0x0030 },
      },
      {
        name: 'EDNS with DO and a large UDP size',
        buf: pkt(header({ ar: 1 }), Q, opt({ udp: 4096, flags: 0x8000 })),
        want: { edns: true, udpSize: 4096, do: true, ednsVersion: 0, ednsFlags: 0x8000, arcount: 1 },
      },
      {
        name: 'EDNS UDP size below 512 is raised to 512',
        buf: pkt(header({ ar: 1 }), Q, opt({ udp: 100 })),
        want: { edns: true, udpSize: 512, do: false },
      },
      {
        name: 'ECS IPv4 /24',
        buf: pkt(header({ ar: 1 }), Q, opt({ options: ecs(1, 24, 0, [192, 0, 2]) })),
        want: { ecs: true, ecsFamily: 1, ecsSourcePrefix: 24, ecsScopePrefix: 0, ecsAddressLength: 3 },
      },
      {
        name: 'ECS IPv4 /20 with the partial octet masked',
        buf: pkt(header({ ar: 1 }), Q, opt({ options: ecs(1, 20, 0, [10, 1, 0x10]) })),
        want: { ecs: true, ecsSourcePrefix: 20, ecsAddressLength: 3 },
      },
      {
        name: 'ECS IPv6 /56',
        buf: pkt(header({ ar: 1 }), Q, opt({ options: ecs(2, 56, 0, [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0x23]) })),
        want: { ecs: true, ecsFamily: 2, ecsSourcePrefix: 56, ecsAddressLength: 7 },
      },
      {
        name: 'ECS /0 (client opted out) has no address octets',
        buf: pkt(header({ ar: 1 }), Q, opt({ options: ecs(1, 0, 0, []) })),
        want: { ecs: true, ecsSourcePrefix: 0, ecsAddressLength: 0 },
      },
      {
        name: 'other options (cookie, padding) are skipped around ECS',
        buf: pkt(
          header({ ar: 1 }),
          Q,
          opt({
            options: [
              ...option(10, [1, 2, 3, 4, 5, 6, 7, 8]),
              ...ecs(1, 32, 0, [1, 2, 3, 4]),
              ...option(12, [0, 0, 0]),
            ],
          }),
        ),
        want: { ecs: true, ecsSourcePrefix: 32, ecsAddressLength: 4 },
      },
      {
        name: 'non-OPT additional record before the OPT',
        buf: pkt(header({ ar: 2 }), Q, rr([0xc0, 12], 1, [1, 2, 3, 4]), opt({ udp: 1400 })),
        want: { edns: true, udpSize: 1400 },
      },
      {
        name: 'answer and authority records (compressed owners) are skipped',
        buf: pkt(
          header({ an: 1, ns: 1, ar: 1 }),
          Q,
          rr([0xc0, 12], 1, [1, 2, 3, 4]),
          rr([0xc0, 16], 2, [0xc0, 12]),
          opt(),
        ),
        want: { edns: true, ancount: 1, nscount: 1, qname: 'www.example.com.' },
      },
      {
        name: 'trailing octets after the counted records are ignored',
        buf: pkt(header(), Q, [0xde, 0xad, 0xbe, 0xef, 0xff]),
        want: { qname: 'www.example.com.', edns: false },
      },
      {
        name: 'a dot inside a label is escaped',
        buf: pkt(header(), question(wname('a.b', 'example'))),
        want: { qname: 'a\\.b.example.', qnameEscaped: true, qnamePlain: false },
      },
      {
        name: 'backslash, space, NUL and 0xff inside labels are escaped',
        buf: pkt(header(), question(wname([0x5c, 0x20, 0x41], [0x00, 0xff]))),
        want: { qname: '\\\\\\032a.\\000\\255.', qnameEscaped: true, qnamePlain: false },
      },
      {
        name: 'printable but non-hostname characters: not escaped, not plain',
        buf: pkt(header(), question(wname('a/b', 'c@d'))),
        want: { qname: 'a/b.c@d.', qnameEscaped: false, qnamePlain: false },
      },
      {
        name: 'wildcard, underscore and hyphen labels are plain',
        buf: pkt(header(), question(wname('*', '_http', '_tcp', 'my-svc'), 33)),
        want: { qname: '*._http._tcp.my-svc.', qnamePlain: true, qtype: 33 },
      },
      {
        name: 'a 63-octet label',
        buf: pkt(header(), question(wname('a'.repeat(63), 'com'))),
        want: { qname: `${'a'.repeat(63)}.com.`, qnameLength: 69 },
      },
      {
        name: 'a 255-octet name (the maximum)',
        buf: pkt(header(), question(wname('a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)))),
        want: { qnameLength: 255, qnameLabels: 4 },
      },
      {
        name: 'EDNS version 1 gives BADVERS (everything else parsed)',
        buf: pkt(header({ ar: 1 }), Q, opt({ version: 1, udp: 4096 })),
        status: ParseStatus.BADVERS,
        want: { edns: true, ednsVersion: 1, udpSize: 4096, hasQuestion: true, reason: 'EDNS version' },
      },
    ];
  for (const c of cases) {
    it(c.name, () => {
      const { st, q } = parse(c.buf);
      assert.equal(st, c.status ?? ParseStatus.OK, `status (reason ${q.reason})`);
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(q[k as keyof Query], v, k);
      // the raw qname octets are exactly the request's
      assert.deepEqual(q.qnameWire.subarray(0, q.qnameLength), c.buf.subarray(12, 12 + q.qnameLength));
    });
  }

  it('copies the ECS address octets and zero-pads them', () => {
    const q = newQuery();
    q.ecsAddress.fill(0xee);
    const { st } = parse(pkt(header({ ar: 1 }), Q, opt({ options: ecs(1, 24, 0, [192, 0, 2]) })), q);
    assert.equal(st, ParseStatus.OK);
    assert.deepEqual([...q.ecsAddress], [192, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('agrees with a query built by dns-packet (independent encoder)', () => {
    const buf = dnsPacket.encode({
      type: 'query',
      id: 4242,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED,
      questions: [{ type: 'SRV', name: '_Http._TCP.Svc.Hades.Local', class: 'IN' }],
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: 1232,
          extendedRcode: 0,
          ednsVersion: 0,
          flag_do: true,
          flags: dnsPacket.DNSSEC_OK,
          options: [{ code: 8, family: 2, sourcePrefixLength: 48, scopePrefixLength: 0, ip: '2001:db8:7::' }],
        },
      ],
    });
    const { st, q } = parse(buf);
    assert.equal(st, ParseStatus.OK, q.reason);
    assert.equal(q.id, 4242);
    assert.equal(q.qname, '_http._tcp.svc.hades.local.');
    assert.equal(q.qnameWire.toString('latin1', 1, 6), '_Http');
    assert.equal(q.qtype, 33);
    assert.ok(q.rd && q.cd && q.edns && q.do && q.ecs);
    assert.equal(q.udpSize, 1232);
    assert.equal(q.ecsFamily, 2);
    assert.equal(q.ecsSourcePrefix, 48);
    assert.deepEqual([...q.ecsAddress.subarray(0, 6)], [0x20, 0x01, 0x0d, 0xb8, 0, 7]);
  });

  it('reuses one Query across packets without leaking state', () => {
    const q = newQuery();
    const seq: [Buffer, number, string, boolean][] = [
      [
        pkt(header({ ar: 1 }), Q, opt({ udp: 4096, flags: 0x8000, options: ecs(1, 24, 0, [1, 2, 3]) })),
        0,
        'www.example.com.',
        true,
      ],
      [pkt(header(), Q), 0, 'www.example.com.', false],
      [pkt(header(), question(wname('a.b', 'x'))), 0, 'a\\.b.x.', false],
      [pkt(header(), question(wname('www', 'exam'))), 1, '', false], // truncated: cut below
      [pkt(header(), Q), 0, 'www.example.com.', false],
      [pkt(header(), question(wname('WWW', 'EXAMPLE', 'COM'))), 0, 'www.example.com.', false],
      [pkt(header(), question(wname('www', 'example', 'co'))), 0, 'www.example.co.', false],
      [pkt(header(), question(wname('www', 'example', 'com', 'x'))), 0, 'www.example.com.x.', false],
      [pkt(header(), question(wname())), 0, '.', false],
    ];
    for (const [buf, want, name, edns] of seq) {
      const len = want === 1 ? 12 + 6 : buf.length;
      const st = parseQuery(buf, len, q);
      assert.equal(st, want);
      if (st === ParseStatus.OK) {
        assert.equal(q.qname, name);
        assert.equal(q.edns, edns);
        assert.equal(q.ecs, edns);
        assert.equal(q.udpSize, edns ? 4096 : 512);
        assert.equal(q.do, edns);
      } else assert.equal(q.hasQuestion, false);
    }
  });
});

describe('parseQuery: FORMERR, DROP, NOTIMP', () => {
  const long = wname('a'.repeat(63), 'b'.repeat(63), 'c'.repeat(63), 'd'.repeat(62)); // 256 octets
  const cases: {
    name: string;
    buf: Buffer;
    len?: number;
    status: number;
    reason: string;
    hasQuestion?: boolean;
    edns?: boolean;
  }[] = [
    { name: 'empty packet', buf: pkt([]), status: ParseStatus.DROP, reason: 'short header' },
    { name: '11 octets', buf: pkt(header().slice(0, 11)), status: ParseStatus.DROP, reason: 'short header' },
    {
      name: 'len shorter than the buffer',
      buf: pkt(header(), Q),
      len: 11,
      status: ParseStatus.DROP,
      reason: 'short header',
    },
    {
      name: 'a response (QR set)',
      buf: pkt(header({ flags: 0x8180 }), Q),
      status: ParseStatus.DROP,
      reason: 'response',
    },
    {
      name: 'a response with a bad opcode is still dropped',
      buf: pkt(header({ flags: 0xa000 }), Q),
      status: ParseStatus.DROP,
      reason: 'response',
    },
    {
      name: 'NOTIFY opcode',
      buf: pkt(header({ flags: 4 << 11 }), Q),
      status: ParseStatus.NOTIMP,
      reason: 'opcode',
      hasQuestion: true,
    },
    {
      name: 'UPDATE opcode with a malformed body',
      buf: pkt(header({ flags: 5 << 11, qd: 3 }), Q),
      status: ParseStatus.NOTIMP,
      reason: 'opcode',
      hasQuestion: false,
    },
    {
      name: 'IQUERY opcode with EDNS',
      buf: pkt(header({ flags: 1 << 11, ar: 1 }), Q, opt()),
      status: ParseStatus.NOTIMP,
      reason: 'opcode',
      hasQuestion: true,
      edns: true,
    },
    {
      name: 'qdcount 0',
      buf: pkt(header({ qd: 0 })),
      status: ParseStatus.FORMERR,
      reason: 'qdcount',
      hasQuestion: false,
    },
    {
      name: 'qdcount 2',
      buf: pkt(header({ qd: 2 }), Q, Q),
      status: ParseStatus.FORMERR,
      reason: 'qdcount',
      hasQuestion: false,
    },
    { name: 'header only', buf: pkt(header()), status: ParseStatus.FORMERR, reason: 'truncated question' },
    {
      name: 'label runs past the end',
      buf: pkt(header(), [10, 0x61, 0x62]),
      status: ParseStatus.FORMERR,
      reason: 'truncated question',
    },
    {
      name: 'name without its root octet',
      buf: pkt(header(), [3, 0x77, 0x77, 0x77]),
      status: ParseStatus.FORMERR,
      reason: 'truncated question',
    },
    {
      name: 'qtype/qclass missing',
      buf: pkt(header(), wname('www'), [0, 1]),
      status: ParseStatus.FORMERR,
      reason: 'truncated question',
    },
    {
      name: 'len cuts the question',
      buf: pkt(header(), Q),
      len: 30,
      status: ParseStatus.FORMERR,
      reason: 'truncated question',
    },
    {
      name: 'label type 0x40',
      buf: pkt(header(), [0x41, 0x61], [0, 0, 1, 0, 1]),
      status: ParseStatus.FORMERR,
      reason: 'bad label type',
    },
    {
      name: 'label type 0x80',
      buf: pkt(header(), [0x81, 0x61], [0, 0, 1, 0, 1]),
      status: ParseStatus.FORMERR,
      reason: 'bad label type',
    },
    {
      name: 'compression pointer in the question',
      buf: pkt(header(), [0xc0, 12, 0, 1, 0, 1]),
      status: ParseStatus.FORMERR,
      reason: 'pointer in question',
    },
    {
      name: 'pointer after a label in the question',
      buf: pkt(header(), [1, 0x61, 0xc0, 12, 0, 1, 0, 1]),
      status: ParseStatus.FORMERR,
      reason: 'pointer in question',
    },
    {
      name: 'name of 256 octets',
      buf: pkt(header(), question(long)),
      status: ParseStatus.FORMERR,
      reason: 'name too long',
    },
    {
      name: 'two OPT records',
      buf: pkt(header({ ar: 2 }), Q, opt(), opt()),
      status: ParseStatus.FORMERR,
      reason: 'multiple OPT',
      hasQuestion: true,
      edns: true,
    },
    {
      name: 'OPT with a non-root owner',
      buf: pkt(header({ ar: 1 }), Q, opt({ owner: wname('x') })),
      status: ParseStatus.FORMERR,
      reason: 'OPT owner not root',
      edns: true,
    },
    {
      name: 'OPT owner as a pointer',
      buf: pkt(header({ ar: 1 }), Q, opt({ owner: [0xc0, 12] })),
      status: ParseStatus.FORMERR,
      reason: 'OPT owner not root',
      edns: true,
    },
    {
      name: 'OPT in the answer section',
      buf: pkt(header({ an: 1 }), Q, opt()),
      status: ParseStatus.FORMERR,
      reason: 'OPT outside additional',
    },
    {
      name: 'OPT in the authority section',
      buf: pkt(header({ ns: 1 }), Q, opt()),
      status: ParseStatus.FORMERR,
      reason: 'OPT outside additional',
    },
    {
      name: 'OPT RDATA runs past the end',
      buf: pkt(header({ ar: 1 }), Q, opt({ options: ecs(1, 24, 0, [1, 2, 3]) })).subarray(0, -2),
      status: ParseStatus.FORMERR,
      reason: 'truncated record',
    },
    {
      name: 'option header cut inside RDATA',
      buf: pkt(header({ ar: 1 }), Q, opt({ options: [0, 8, 0] })),
      status: ParseStatus.FORMERR,
      reason: 'bad option',
      edns: true,
    },
    {
      name: 'option longer than RDATA',
      buf: pkt(header({ ar: 1 }), Q, opt({ options: [0, 10, 0, 9, 1, 2] })),
      status: ParseStatus.FORMERR,
      reason: 'bad option',
    },
    {
      name: 'ECS shorter than 4 octets',
      buf: pkt(header({ ar: 1 }), Q, opt({ options: option(8, [0, 1, 24]) })),
      status: ParseStatus.FORMERR,
      reason: 'bad ECS',
    },
    {
      name: 'ECS unknown family',
      buf: pkt(header({ ar: 1 }), Q, opt({ options: ecs(3, 8, 0, [1]) })),
      status: ParseStatus.FORMERR,
      reason: 'bad ECS',
    },
    {
      name: 'ECS IPv4 source prefix 33',
      buf: pkt(header({ ar: 1 }), Q, opt({ options: ecs(1, 33, 0, [1, 2, 3, 4, 5]) })),
      status: ParseStatus.FORMERR,
      reason: 'bad ECS',
    },
    {
      name: 'ECS IPv6 source prefix 129',
      buf: pkt(header({ ar: 1 }), Q, opt({ options: ecs(2, 129, 0, new Array(17).fill(0)) })),
      status: ParseStatus.FORMERR,
      reason: 'bad ECS',
    },
    {
      name: 'ECS too many address octets',
      buf: pkt(header({ ar: 1 }), Q, opt({ options: ecs(1, 24, 0, [1, 2, 3, 4]) })),
      status: ParseStatus.FORMERR,
      reason: 'bad ECS',
    },
    {
      name: 'ECS too few address octets',
      buf: pkt(header({ ar: 1 }), Q, opt({ options: ecs(1, 24, 0, [1, 2]) })),
      status: ParseStatus.FORMERR,
      reason: 'bad ECS',
    },
    {
      name: 'ECS address bits beyond the prefix',
      buf: pkt(header({ ar: 1 }), Q, opt({ options: ecs(1, 20, 0, [10, 1, 0x18]) })),
      status: ParseStatus.FORMERR,
      reason: 'bad ECS',
    },
    {
      name: 'two ECS options',
      buf: pkt(header({ ar: 1 }), Q, opt({ options: [...ecs(1, 8, 0, [10]), ...ecs(1, 8, 0, [10])] })),
      status: ParseStatus.FORMERR,
      reason: 'multiple ECS',
    },
    {
      name: 'arcount 1 with no record',
      buf: pkt(header({ ar: 1 }), Q),
      status: ParseStatus.FORMERR,
      reason: 'truncated record',
      hasQuestion: true,
    },
    {
      name: 'huge counts',
      buf: pkt(header({ an: 0xffff, ns: 0xffff, ar: 0xffff }), Q, opt()),
      status: ParseStatus.FORMERR,
      reason: 'OPT outside additional',
    },
    {
      name: 'huge arcount',
      buf: pkt(header({ ar: 0xffff }), Q, opt()),
      status: ParseStatus.FORMERR,
      reason: 'truncated record',
    },
    {
      name: 'answer record cut in its fixed fields',
      buf: pkt(header({ an: 1 }), Q, [0xc0, 12, 0, 1, 0, 1]),
      status: ParseStatus.FORMERR,
      reason: 'truncated record',
    },
    {
      name: 'answer RDATA past the end',
      buf: pkt(header({ an: 1 }), Q, rr([0xc0, 12], 1, [1, 2, 3, 4])).subarray(0, -1),
      status: ParseStatus.FORMERR,
      reason: 'truncated record',
    },
    {
      name: 'forward compression pointer in a record',
      buf: pkt(header({ an: 1 }), Q, rr([0xc0, 40], 1, [1, 2, 3, 4])),
      status: ParseStatus.FORMERR,
      reason: 'bad pointer',
    },
    {
      name: 'self-pointing compression pointer',
      buf: pkt(header({ ar: 1 }), Q, rr([0xc0, 33], 1, [1, 2, 3, 4])),
      status: ParseStatus.FORMERR,
      reason: 'bad pointer',
    },
    {
      name: 'reserved label type in a record owner',
      buf: pkt(header({ ar: 1 }), Q, rr([0x80], 1, [1, 2, 3, 4])),
      status: ParseStatus.FORMERR,
      reason: 'bad label type',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const q = newQuery();
      const st = parseQuery(c.buf, c.len ?? c.buf.length, q);
      assert.equal(st, c.status, `status (reason ${q.reason})`);
      assert.equal(q.reason, c.reason);
      if (c.hasQuestion !== undefined) assert.equal(q.hasQuestion, c.hasQuestion, 'hasQuestion');
      if (c.edns !== undefined) assert.equal(q.edns, c.edns, 'edns');
    });
  }

  it('never reads beyond len', () => {
    const full = pkt(header({ ar: 1 }), Q, opt({ udp: 4096 }));
    const q = newQuery();
    for (let len = 0; len < full.length; len++) {
      const st = parseQuery(full, len, q);
      assert.notEqual(st, ParseStatus.OK, `len ${len}`);
      assert.equal(q.udpSize === 4096 && q.edns, false);
    }
    assert.equal(parseQuery(full, full.length, q), ParseStatus.OK);
  });
});
