import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { Flag, Rcode, RRClass, RRType, Section } from './constants.js';
import { decode, type Message, type MxData, type SoaData, type SrvData } from './decode.js';
import { type EdnsInput, encode, encodeQuery } from './encode.js';
import type { WireError } from './errors.js';
import { nameWireLength } from './names.js';
import { newQuery, ParseStatus, parseQuery, type Query } from './query.js';
import { QNAME, ResponseWriter } from './writer.js';

const { ANSWER, AUTHORITY, ADDITIONAL } = Section;

function query(name: string, type: number, edns?: EdnsInput | null, id = 0xbeef): Query {
  const q = newQuery();
  const buf = encodeQuery({ id, name, type, edns: edns ?? null });
  const st = parseQuery(buf, buf.length, q);
  assert.ok(st === ParseStatus.OK || st === ParseStatus.BADVERS, q.reason);
  return q;
}

interface Out {
  buf: Buffer;
  msg: Message;
  // biome-ignore lint/suspicious/noExplicitAny: dns-packet's decoded shape is loosely typed
  pkt: any;
}

/** Builds one reply and decodes it with our decoder and with dns-packet. */
function reply(
  q: Query,
  build: (w: ResponseWriter) => void,
  o: { limit?: number; rcode?: number; flags?: number; w?: ResponseWriter } = {},
): Out {
  const w = o.w ?? new ResponseWriter();
  w.start(q, o.rcode ?? Rcode.NOERROR, o.flags ?? Flag.AA);
  build(w);
  const len = w.finish(o.limit ?? 65535);
  assert.equal(w.length, len);
  const buf = Buffer.from(w.buf.subarray(0, len));
  const msg = decode(buf);
  assert.equal(msg.trailing, 0);
  return { buf, msg, pkt: dnsPacket.decode(buf) };
}

describe('ResponseWriter: header and question', () => {
  it('copies id, opcode, RD, CD; sets QR and the given flags; echoes the question case', () => {
    const q = newQuery();
    const req = encode({
      id: 777,
      rd: true,
      cd: true,
      questions: [{ name: 'WwW.ExAmPle.COM.', type: RRType.A, class: RRClass.IN }],
    });
    assert.equal(parseQuery(req, req.length, q), ParseStatus.OK);
    const { msg, pkt } = reply(q, (w) => w.addA(ANSWER, QNAME, 300, 0xc0000201), {
      flags: Flag.AA | Flag.RA,
    });
    assert.equal(msg.id, 777);
    assert.ok(msg.qr && msg.aa && msg.ra && msg.rd && msg.cd);
    assert.ok(!msg.tc && !msg.ad && !msg.z);
    assert.equal(msg.rcode, 0);
    assert.deepEqual(msg.questions, [{ name: 'WwW.ExAmPle.COM.', type: 1, class: 1 }]);
    assert.equal(msg.answers[0].name, 'WwW.ExAmPle.COM.');
    assert.equal(pkt.questions[0].name, 'WwW.ExAmPle.COM');
    assert.equal(pkt.answers[0].name, 'WwW.ExAmPle.COM');
    assert.equal(pkt.answers[0].data, '192.0.2.1');
  });

  it('setRcode and setFlags change the header after start()', () => {
    const q = query('nx.example.', RRType.A);
    const { msg } = reply(q, (w) => {
      w.setRcode(Rcode.NXDOMAIN);
      w.setFlags(Flag.AA, false);
      w.setFlags(Flag.RA | Flag.TC | Flag.QR, true); // TC/QR are not settable this way
      w.addSOA(AUTHORITY, 'example.', 60, 'ns.example.', 'hostmaster.example.', 1, 2, 3, 4, 5);
    });
    assert.equal(msg.rcode, Rcode.NXDOMAIN);
    assert.ok(!msg.aa && msg.ra && !msg.tc);
    assert.equal(msg.authorities.length, 1);
  });

  it('FORMERR without a readable question has qdcount 0; with one, echoes it', () => {
    const q = newQuery();
    const bad = Buffer.from([0, 9, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0]);
    assert.equal(parseQuery(bad, bad.length, q), ParseStatus.FORMERR);
    const a = reply(q, () => {}, { rcode: Rcode.FORMERR, flags: 0 });
    assert.equal(a.buf.length, 12);
    assert.equal(a.msg.id, 9);
    assert.equal(a.msg.rcode, Rcode.FORMERR);
    assert.equal(a.msg.questions.length, 0);

    const twoOpt = encode({
      id: 5,
      questions: [{ name: 'a.example.', type: 1, class: 1 }],
      additionals: [
        { name: '.', type: RRType.OPT, class: 1232, data: { options: [] } },
        { name: '.', type: RRType.OPT, class: 1232, data: { options: [] } },
      ],
    });
    assert.equal(parseQuery(twoOpt, twoOpt.length, q), ParseStatus.FORMERR);
    assert.ok(q.hasQuestion && q.edns);
    const b = reply(
      q,
      (w) => {
        w.addOPT(1232, 0, false);
      },
      { rcode: Rcode.FORMERR, flags: 0 },
    );
    assert.equal(b.msg.questions[0].name, 'a.example.');
    assert.equal(b.msg.edns?.udpSize, 1232);
  });

  it('NOTIMP copies the opcode', () => {
    const q = newQuery();
    const req = encode({ id: 1, opcode: 4, questions: [{ name: 'example.', type: RRType.SOA, class: 1 }] });
    assert.equal(parseQuery(req, req.length, q), ParseStatus.NOTIMP);
    const { msg } = reply(q, () => {}, { rcode: Rcode.NOTIMP, flags: 0 });
    assert.equal(msg.opcode, 4);
    assert.equal(msg.rcode, Rcode.NOTIMP);
    assert.equal(msg.questions[0].name, 'example.');
  });
});

describe('ResponseWriter: each record type, checked by our decoder and by dns-packet', () => {
  const cases: {
    name: string;
    qtype: number;
    add: (w: ResponseWriter) => void;
    want: { type: number; name: string; ttl: number; data: unknown };
    // biome-ignore lint/suspicious/noExplicitAny: dns-packet shape
    pkt: (a: any) => void;
  }[] = [
    {
      name: 'A from a number',
      qtype: RRType.A,
      add: (w) => w.addA(ANSWER, QNAME, 30, 0x0a000001),
      want: { type: 1, name: 'svc.hades.local.', ttl: 30, data: '10.0.0.1' },
      pkt: (a) => assert.equal(a.data, '10.0.0.1'),
    },
    {
      name: 'A from octets',
      qtype: RRType.A,
      add: (w) => w.addA(ANSWER, QNAME, 30, new Uint8Array([192, 168, 10, 1])),
      want: { type: 1, name: 'svc.hades.local.', ttl: 30, data: '192.168.10.1' },
      pkt: (a) => assert.equal(a.data, '192.168.10.1'),
    },
    {
      name: 'A from text',
      qtype: RRType.A,
      add: (w) => w.addA(ANSWER, QNAME, 30, '255.255.255.255'),
      want: { type: 1, name: 'svc.hades.local.', ttl: 30, data: '255.255.255.255' },
      pkt: (a) => assert.equal(a.data, '255.255.255.255'),
    },
    {
      name: 'AAAA from text',
      qtype: RRType.AAAA,
      add: (w) => w.addAAAA(ANSWER, QNAME, 30, '2001:db8::42'),
      want: { type: 28, name: 'svc.hades.local.', ttl: 30, data: '2001:db8::42' },
      pkt: (a) => assert.equal(a.data, '2001:db8::42'),
    },
    {
      name: 'AAAA from octets',
      qtype: RRType.AAAA,
      add: (w) => w.addAAAA(ANSWER, QNAME, 30, Buffer.from('fe800000000000000000000000000001', 'hex')),
      want: { type: 28, name: 'svc.hades.local.', ttl: 30, data: 'fe80::1' },
      pkt: (a) => assert.equal(a.data, 'fe80::1'),
    },
    {
      name: 'CNAME',
      qtype: RRType.A,
      add: (w) => w.addCNAME(ANSWER, QNAME, 60, 'web.hades.local.'),
      want: { type: 5, name: 'svc.hades.local.', ttl: 60, data: 'web.hades.local.' },
      pkt: (a) => assert.equal(a.data, 'web.hades.local'),
    },
    {
      name: 'NS',
      qtype: RRType.NS,
      add: (w) => w.addNS(ANSWER, QNAME, 60, 'ns.dns.hades.local.'),
      want: { type: 2, name: 'svc.hades.local.', ttl: 60, data: 'ns.dns.hades.local.' },
      pkt: (a) => assert.equal(a.data, 'ns.dns.hades.local'),
    },
    {
      name: 'PTR',
      qtype: RRType.PTR,
      add: (w) => w.addPTR(ANSWER, QNAME, 60, 'host.hades.local.'),
      want: { type: 12, name: 'svc.hades.local.', ttl: 60, data: 'host.hades.local.' },
      pkt: (a) => assert.equal(a.data, 'host.hades.local'),
    },
    {
      name: 'MX',
      qtype: RRType.MX,
      add: (w) => w.addMX(ANSWER, QNAME, 60, 10, 'mail.hades.local.'),
      want: {
        type: 15,
        name: 'svc.hades.local.',
        ttl: 60,
        data: { preference: 10, exchange: 'mail.hades.local.' },
      },
      pkt: (a) => assert.deepEqual(a.data, { preference: 10, exchange: 'mail.hades.local' }),
    },
    {
      name: 'SRV',
      qtype: RRType.SRV,
      add: (w) => w.addSRV(ANSWER, QNAME, 60, 10, 20, 8080, 'node1.hades.local.'),
      want: {
        type: 33,
        name: 'svc.hades.local.',
        ttl: 60,
        data: { priority: 10, weight: 20, port: 8080, target: 'node1.hades.local.' },
      },
      pkt: (a) =>
        assert.deepEqual(a.data, { priority: 10, weight: 20, port: 8080, target: 'node1.hades.local' }),
    },
    {
      name: 'SOA',
      qtype: RRType.SOA,
      add: (w) =>
        w.addSOA(
          ANSWER,
          QNAME,
          60,
          'ns.dns.hades.local.',
          'hostmaster.hades.local.',
          2024010101,
          7200,
          1800,
          86400,
          30,
        ),
      want: {
        type: 6,
        name: 'svc.hades.local.',
        ttl: 60,
        data: {
          mname: 'ns.dns.hades.local.',
          rname: 'hostmaster.hades.local.',
          serial: 2024010101,
          refresh: 7200,
          retry: 1800,
          expire: 86400,
          minimum: 30,
        },
      },
      pkt: (a) =>
        assert.deepEqual(a.data, {
          mname: 'ns.dns.hades.local',
          rname: 'hostmaster.hades.local',
          serial: 2024010101,
          refresh: 7200,
          retry: 1800,
          expire: 86400,
          minimum: 30,
        }),
    },
    {
      name: 'TXT',
      qtype: RRType.TXT,
      add: (w) => w.addTXT(ANSWER, QNAME, 60, ['v=spf1 -all', 'héllo']),
      want: {
        type: 16,
        name: 'svc.hades.local.',
        ttl: 60,
        data: [Buffer.from('v=spf1 -all'), Buffer.from('héllo')],
      },
      pkt: (a) =>
        assert.deepEqual(
          a.data.map((b: Buffer) => b.toString()),
          ['v=spf1 -all', 'héllo'],
        ),
    },
    {
      name: 'raw (RFC 3597) record',
      qtype: 65280,
      add: (w) => w.addRaw(ANSWER, QNAME, 65280, 5, new Uint8Array([1, 2, 3])),
      want: { type: 65280, name: 'svc.hades.local.', ttl: 5, data: Buffer.from([1, 2, 3]) },
      pkt: (a) => assert.deepEqual([...a.data], [1, 2, 3]),
    },
    {
      name: 'explicit owner string with escapes',
      qtype: RRType.A,
      add: (w) => w.addA(ANSWER, 'a\\.b.x\\032y.', 1, 0x01020304),
      want: { type: 1, name: 'a\\.b.x\\032y.', ttl: 1, data: '1.2.3.4' },
      pkt: (a) => assert.equal(a.data, '1.2.3.4'),
    },
    {
      name: 'TTL above 2^31-1 is clamped, negative is 0',
      qtype: RRType.A,
      add: (w) => w.addA(ANSWER, QNAME, 2 ** 32 + 5, 1),
      want: { type: 1, name: 'svc.hades.local.', ttl: 0x7fffffff, data: '0.0.0.1' },
      pkt: (a) => assert.equal(a.ttl, 0x7fffffff),
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const q = query('svc.hades.local.', c.qtype);
      const { msg, pkt } = reply(q, c.add);
      assert.equal(msg.answers.length, 1);
      assert.deepEqual(msg.answers[0], { ...c.want, class: RRClass.IN });
      assert.equal(pkt.answers.length, 1);
      assert.equal(pkt.answers[0].class, 'IN');
      assert.equal(pkt.answers[0].ttl, c.want.ttl);
      c.pkt(pkt.answers[0]);
    });
  }

  it('rrClass selects the class of the next records (CH TXT)', () => {
    const q = newQuery();
    const req = encode({
      id: 3,
      questions: [{ name: 'version.bind.', type: RRType.TXT, class: RRClass.CH }],
    });
    parseQuery(req, req.length, q);
    const { msg, pkt } = reply(q, (w) => {
      w.rrClass = RRClass.CH;
      w.addTXT(ANSWER, QNAME, 0, 'hades');
    });
    assert.equal(msg.answers[0].class, RRClass.CH);
    assert.equal(pkt.answers[0].class, 'CH');
  });

  it('all sections together, with OPT last and counts right', () => {
    const q = query('svc.hades.local.', RRType.SRV, { udpSize: 4096, do: true });
    const { msg, pkt, buf } = reply(q, (w) => {
      w.addSRV(ANSWER, QNAME, 30, 0, 50, 80, 'n1.hades.local.');
      w.addSRV(ANSWER, QNAME, 30, 0, 50, 80, 'n2.hades.local.');
      w.addNS(AUTHORITY, 'hades.local.', 300, 'ns.dns.hades.local.');
      w.addA(ADDITIONAL, 'n1.hades.local.', 30, '10.0.0.1');
      w.addA(ADDITIONAL, 'n2.hades.local.', 30, '10.0.0.2');
      w.addOPT(1232, 0, true);
      assert.equal(w.count(ANSWER), 2);
      assert.equal(w.count(AUTHORITY), 1);
      assert.equal(w.count(ADDITIONAL), 2);
    });
    assert.equal(buf.readUInt16BE(6), 2);
    assert.equal(buf.readUInt16BE(8), 1);
    assert.equal(buf.readUInt16BE(10), 3);
    assert.equal(msg.additionals.at(-1)?.type, RRType.OPT);
    assert.deepEqual(
      { udp: msg.edns?.udpSize, v: msg.edns?.version, do: msg.edns?.do, ext: msg.edns?.extRcode },
      { udp: 1232, v: 0, do: true, ext: 0 },
    );
    assert.equal(pkt.additionals.length, 3);
    assert.equal(pkt.additionals[2].type, 'OPT');
    assert.equal(pkt.additionals[2].udpPayloadSize, 1232);
    assert.equal(pkt.additionals[2].flag_do, true);
    assert.equal(pkt.additionals[0].name, 'n1.hades.local');
  });

  it('keepAnswers drops the answer records after the first n; names written later still compress right', () => {
    const q = query('a.hades.local.', RRType.A);
    const { msg, pkt } = reply(q, (w) => {
      w.addCNAME(ANSWER, QNAME, 30, 'b.hades.local.');
      w.addCNAME(ANSWER, w.targetOffset, 30, 'c.other.test.');
      w.addCNAME(ANSWER, w.targetOffset, 30, 'd.other.test.');
      w.keepAnswers(1);
      w.keepAnswers(5); // more than there are: nothing changes
      assert.equal(w.count(ANSWER), 1);
      w.addSOA(AUTHORITY, 'other.test.', 30, 'ns.dns.other.test.', 'hostmaster.other.test.', 7, 1, 2, 3, 4);
      assert.throws(() => w.keepAnswers(0), /after a record of a later section/);
    });
    assert.deepEqual(
      msg.answers.map((r) => [r.name, r.data]),
      [['a.hades.local.', 'b.hades.local.']],
    );
    assert.equal((msg.authorities[0].data as SoaData).mname, 'ns.dns.other.test.');
    assert.equal(pkt.authorities[0].data.mname, 'ns.dns.other.test');
  });

  it('BADVERS: header rcode 0, extended rcode 1 in the OPT, version 0', () => {
    const q = query('svc.hades.local.', RRType.A, { version: 1 });
    assert.equal(q.ednsVersion, 1);
    const { msg, pkt } = reply(q, (w) => w.addOPT(1232, 0, false), { rcode: Rcode.BADVERS });
    assert.equal(msg.rcode, 0);
    assert.equal(msg.edns?.extRcode, 1);
    assert.equal(((msg.edns?.extRcode ?? 0) << 4) | msg.rcode, Rcode.BADVERS);
    assert.equal(pkt.additionals[0].extendedRcode, 1);
    assert.equal(pkt.additionals[0].ednsVersion, 0);
  });

  for (const [family, addr, source, scope, want] of [
    [1, '192.0.2.77', 24, 16, '192.0.2.0'],
    [1, '10.1.23.4', 20, 20, '10.1.16.0'],
    [2, '2001:db8:1:2300::7', 56, 48, '2001:db8:1:2300::'],
    [1, '1.2.3.4', 0, 0, '0.0.0.0'],
  ] as const) {
    it(`echoes ECS family ${family} /${source} with scope /${scope}`, () => {
      const q = query('svc.hades.local.', RRType.A, { ecs: { address: addr, sourcePrefix: source } });
      assert.ok(q.ecs);
      const { msg, pkt } = reply(q, (w) => {
        w.addA(ANSWER, QNAME, 30, 1);
        w.addOPT(1232, 0, false, q, scope);
      });
      assert.deepEqual(msg.edns?.ecs, { family, sourcePrefix: source, scopePrefix: scope, address: want });
      const o = pkt.additionals[0].options[0];
      assert.equal(o.code, 8);
      assert.equal(o.family, family);
      assert.equal(o.sourcePrefixLength, source);
      assert.equal(o.scopePrefixLength, scope);
      assert.equal(o.ip, want);
      // the echoed option is exactly the request's option except for the scope octet
      assert.equal(o.data.length, 4 + Math.ceil(source / 8));
    });
  }
});

describe('ResponseWriter: name compression', () => {
  it('repeated owners become 2-octet pointers', () => {
    const q = query('svc.hades.local.', RRType.A);
    const n = 20;
    const { buf, msg, pkt } = reply(q, (w) => {
      for (let i = 0; i < n; i++) w.addA(ANSWER, QNAME, 30, i);
    });
    const question = 12 + nameWireLength('svc.hades.local.') + 4;
    assert.equal(buf.length, question + n * (2 + 10 + 4));
    assert.equal(msg.answers.length, n);
    for (const a of msg.answers) assert.equal(a.name, 'svc.hades.local.');
    assert.equal(pkt.answers.length, n);
  });

  it('an owner string equal to the question name points at offset 12 (case-insensitively)', () => {
    const q = query('Svc.Hades.Local.', RRType.A);
    const { buf, msg } = reply(q, (w) => w.addA(ANSWER, 'svc.hades.local.', 30, 1));
    const at = 12 + nameWireLength('svc.hades.local.') + 4;
    assert.deepEqual([buf[at], buf[at + 1]], [0xc0, 12]);
    assert.equal(msg.answers[0].name, 'Svc.Hades.Local.');
  });

  it('CNAME chains: the target compresses against the question, its A points at the target', () => {
    const q = query('www.hades.local.', RRType.A);
    let target = -1;
    const { buf, msg, pkt } = reply(q, (w) => {
      w.addCNAME(ANSWER, QNAME, 60, 'web.hades.local.');
      target = w.targetOffset;
      w.addA(ANSWER, 'web.hades.local.', 60, 0x0a000001);
      w.addA(ANSWER, target, 60, 0x0a000002);
    });
    // CNAME rdata: "web" + pointer to "hades.local" in the question = 4 + 2 octets
    const q0 = 12 + nameWireLength('www.hades.local.') + 4;
    assert.equal(buf.readUInt16BE(q0 + 10), 6);
    assert.equal(target, q0 + 12);
    // both A owners are pointers to the CNAME target
    assert.deepEqual([buf[q0 + 18], buf[q0 + 19]], [0xc0, target]);
    assert.deepEqual([buf[q0 + 34], buf[q0 + 35]], [0xc0, target]);
    assert.deepEqual(
      msg.answers.map((a) => [a.name, a.data]),
      [
        ['www.hades.local.', 'web.hades.local.'],
        ['web.hades.local.', '10.0.0.1'],
        ['web.hades.local.', '10.0.0.2'],
      ],
    );
    assert.equal(pkt.answers[2].name, 'web.hades.local');
  });

  it('NS, PTR, MX and SOA RDATA names are compressed; SRV targets are not', () => {
    const q = query('hades.local.', RRType.ANY);
    const sizes: Record<string, number> = {};
    const { buf, msg } = reply(q, (w) => {
      w.addNS(ANSWER, QNAME, 1, 'ns.hades.local.');
      w.addPTR(ANSWER, QNAME, 1, 'ptr.hades.local.');
      w.addMX(ANSWER, QNAME, 1, 5, 'mx.hades.local.');
      w.addSOA(ANSWER, QNAME, 1, 'ns.hades.local.', 'hostmaster.hades.local.', 1, 2, 3, 4, 5);
      w.addSRV(ANSWER, QNAME, 1, 1, 2, 3, 'srv.hades.local.');
    });
    let p = 12 + nameWireLength('hades.local.') + 4;
    for (const a of msg.answers) {
      const rdlen = buf.readUInt16BE(p + 10);
      sizes[a.type] = rdlen;
      p += 12 + rdlen;
    }
    assert.equal(sizes[RRType.NS], 3 + 2);
    assert.equal(sizes[RRType.PTR], 4 + 2);
    assert.equal(sizes[RRType.MX], 2 + 3 + 2);
    assert.equal(sizes[RRType.SOA], 2 + 11 + 2 + 20); // mname is a pointer to the NS target
    assert.equal(sizes[RRType.SRV], 6 + nameWireLength('srv.hades.local.'));
    assert.deepEqual((msg.answers[4].data as SrvData).target, 'srv.hades.local.');
    assert.deepEqual((msg.answers[2].data as MxData).exchange, 'mx.hades.local.');
    assert.deepEqual((msg.answers[3].data as SoaData).rname, 'hostmaster.hades.local.');
  });

  it('the compression table starts empty for every message', () => {
    const w = new ResponseWriter();
    reply(query('a.example.', RRType.A), (x) => x.addA(ANSWER, 'shared.example.', 1, 1), { w });
    const { buf, msg } = reply(query('b.test.', RRType.A), (x) => x.addA(ANSWER, 'shared.example.', 1, 2), {
      w,
    });
    const at = 12 + nameWireLength('b.test.') + 4;
    assert.deepEqual(
      buf.subarray(at, at + nameWireLength('shared.example.')),
      Buffer.from('\x06shared\x07example\x00', 'latin1'),
    );
    assert.equal(msg.answers[0].name, 'shared.example.');
  });

  it('many distinct names: every pointer is valid (dns-packet agrees)', () => {
    const q = query('x.zone.', RRType.TXT);
    const names: string[] = [];
    const { msg, pkt } = reply(q, (w) => {
      for (let i = 0; i < 300; i++) {
        const name = `n${i % 37}.l${i % 5}.zone.`;
        names.push(name);
        w.addCNAME(ANSWER, name, 1, `t${i % 11}.l${i % 3}.zone.`);
      }
    });
    assert.deepEqual(
      msg.answers.map((a) => a.name),
      names,
    );
    assert.deepEqual(
      pkt.answers.map((a: { name: string }) => `${a.name}.`),
      names,
    );
  });
});

describe('ResponseWriter: TXT splitting', () => {
  const cases: [string, string[] | string, number[]][] = [
    ['empty string', '', [0]],
    ['empty list', [], [0]],
    ['255 octets', 'a'.repeat(255), [255]],
    ['256 octets', 'b'.repeat(256), [255, 1]],
    ['600 octets', 'c'.repeat(600), [255, 255, 90]],
    ['510 octets', 'd'.repeat(510), [255, 255]],
    ['several strings', ['x', 'y'.repeat(300), ''], [1, 255, 45, 0]],
    ['multi-byte characters', 'é'.repeat(200), [255, 145]],
  ];
  for (const [name, input, lens] of cases) {
    it(name, () => {
      const q = query('t.example.', RRType.TXT);
      const { msg, pkt } = reply(q, (w) => w.addTXT(ANSWER, QNAME, 1, input));
      const parts = msg.answers[0].data as Buffer[];
      assert.deepEqual(
        parts.map((b) => b.length),
        lens,
      );
      const joined = Buffer.concat(parts).toString('utf8');
      assert.equal(joined, typeof input === 'string' ? input : input.join(''));
      assert.equal(pkt.answers[0].data.length, lens.length);
    });
  }

  it('TXT data over 65535 octets is refused, the writer stays usable', () => {
    const q = query('t.example.', RRType.TXT);
    const { msg } = reply(q, (w) => {
      assert.throws(
        () => w.addTXT(ANSWER, QNAME, 1, 'z'.repeat(70000)),
        (e: WireError) => e.code === 'BADVALUE',
      );
      w.addTXT(ANSWER, QNAME, 1, 'ok');
    });
    assert.equal(msg.answers.length, 1);
  });
});

describe('ResponseWriter: truncation', () => {
  function many(q: Query, nAns: number, nAdd: number, limit: number, opt = true): Out {
    return reply(
      q,
      (w) => {
        for (let i = 0; i < nAns; i++) w.addA(ANSWER, QNAME, 30, 0x0a000000 + i);
        for (let i = 0; i < nAdd; i++) w.addAAAA(ADDITIONAL, `extra${i}.hades.local.`, 30, '2001:db8::1');
        if (opt) w.addOPT(1232, 0, false);
      },
      { limit },
    );
  }
  const question = 12 + nameWireLength('svc.hades.local.') + 4; // 33

  it('a reply that fits is untouched', () => {
    const q = query('svc.hades.local.', RRType.A, { udpSize: 1232 });
    const { buf, msg } = many(q, 10, 0, 512);
    assert.equal(buf.length, question + 10 * 16 + 11);
    assert.ok(!msg.tc);
    assert.equal(msg.answers.length, 10);
  });

  it('exactly at the limit fits; one octet less truncates', () => {
    const q = query('svc.hades.local.', RRType.A);
    const size = question + 40 * 16 + 11;
    const fits = many(q, 40, 0, size);
    assert.ok(!fits.msg.tc);
    assert.equal(fits.buf.length, size);
    assert.equal(fits.msg.answers.length, 40);
    const cut = many(q, 40, 0, size - 1);
    assert.ok(cut.msg.tc);
    assert.equal(cut.buf.length, question + 11);
  });

  for (const limit of [512, 1232]) {
    it(`answer too big for ${limit}: header + question + OPT with TC`, () => {
      const q = query('svc.hades.local.', RRType.A, { udpSize: limit });
      const n = Math.ceil(limit / 16) + 1;
      const { buf, msg, pkt } = many(q, n, 3, q.udpSize);
      assert.ok(msg.tc);
      assert.equal(buf.length, question + 11);
      assert.ok(buf.length <= limit);
      assert.equal(msg.answers.length, 0);
      assert.equal(msg.authorities.length, 0);
      assert.equal(msg.additionals.length, 1);
      assert.equal(msg.additionals[0].type, RRType.OPT);
      assert.equal(msg.questions[0].name, 'svc.hades.local.');
      assert.equal(pkt.flag_tc, true);
      assert.equal(pkt.answers.length, 0);
    });

    it(`additional records dropped from the end for ${limit}, no TC, OPT kept`, () => {
      const q = query('svc.hades.local.', RRType.A, { udpSize: limit });
      const extra = 2 + nameWireLength('extra00.') + 10 + 16; // upper bound of one AAAA
      const nAdd = Math.ceil(limit / extra) + 5;
      const { buf, msg, pkt } = many(q, 5, nAdd, limit);
      assert.ok(!msg.tc);
      assert.ok(buf.length <= limit, `${buf.length} <= ${limit}`);
      assert.equal(msg.answers.length, 5);
      const kept = msg.additionals.length - 1;
      assert.ok(kept > 0 && kept < nAdd);
      assert.equal(msg.additionals.at(-1)?.type, RRType.OPT);
      for (let i = 0; i < kept; i++) assert.equal(msg.additionals[i].name, `extra${i}.hades.local.`);
      // dropping was minimal: the next record would not have fitted
      const next = 1 + `extra${kept}`.length + 2 + 10 + 16;
      assert.ok(buf.length + next > limit);
      assert.equal(pkt.additionals.length, kept + 1);
      assert.equal(buf.readUInt16BE(10), kept + 1);
    });
  }

  it('authority that does not fit also gives TC', () => {
    const q = query('svc.hades.local.', RRType.A);
    const { msg } = reply(
      q,
      (w) => {
        w.addA(ANSWER, QNAME, 1, 1);
        for (let i = 0; i < 40; i++) w.addNS(AUTHORITY, 'hades.local.', 1, `ns${i}.hades.local.`);
      },
      { limit: 512 },
    );
    assert.ok(msg.tc);
    assert.equal(msg.answers.length + msg.authorities.length + msg.additionals.length, 0);
  });

  it('without OPT the truncated reply is header + question', () => {
    const q = query('svc.hades.local.', RRType.A);
    const { buf, msg } = many(q, 100, 0, 512, false);
    assert.ok(msg.tc);
    assert.equal(buf.length, question);
  });

  it('limit below 512 is raised to 512; above 65535 lowered', () => {
    const q = query('svc.hades.local.', RRType.A);
    assert.ok(!many(q, 20, 0, 100).msg.tc);
    assert.ok(!many(q, 20, 0, 1e9).msg.tc);
  });

  it('TCP: 2000 AAAA records fit in 65535 octets; an answer beyond that sets TC', () => {
    const q = query('svc.hades.local.', RRType.AAAA);
    const big = reply(q, (w) => {
      for (let i = 0; i < 2000; i++) w.addAAAA(ANSWER, QNAME, 1, '2001:db8::1');
    });
    assert.ok(!big.msg.tc);
    assert.equal(big.msg.answers.length, 2000);
    assert.equal(big.pkt.answers.length, 2000);
    const over = reply(q, (w) => {
      for (let i = 0; i < 2000; i++) w.addAAAA(ANSWER, QNAME, 1, '2001:db8::1');
      for (let i = 0; i < 1000; i++) w.addAAAA(ANSWER, `n${i}.svc.hades.local.`, 1, '2001:db8::2');
      w.addA(ADDITIONAL, QNAME, 1, 1); // ignored after the overflow
    });
    assert.ok(over.msg.tc);
    assert.equal(over.msg.answers.length, 0);
  });

  it('additional overflow at 65535 drops only additional records', () => {
    const q = query('svc.hades.local.', RRType.AAAA);
    const { msg, buf } = reply(q, (w) => {
      w.addAAAA(ANSWER, QNAME, 1, '::1');
      for (let i = 0; i < 2500; i++) w.addTXT(ADDITIONAL, QNAME, 1, 'x'.repeat(20));
      w.addOPT(4096, 0, false);
    });
    assert.ok(!msg.tc);
    assert.ok(buf.length <= 65535);
    assert.equal(msg.answers.length, 1);
    assert.ok(msg.additionals.length > 1000 && msg.additionals.length < 2501);
    assert.equal(msg.additionals.at(-1)?.type, RRType.OPT);
  });
});

describe('ResponseWriter: errors leave a consistent message', () => {
  it('bad names and addresses throw WireError and drop only that record', () => {
    const q = query('svc.hades.local.', RRType.A);
    const { msg } = reply(q, (w) => {
      w.addA(ANSWER, QNAME, 1, 1);
      assert.throws(
        () => w.addCNAME(ANSWER, 'ok.hades.local.', 1, 'bad..name.'),
        (e: WireError) => e.code === 'BADNAME',
      );
      assert.throws(
        () => w.addA(ANSWER, 'x.', 1, '300.1.1.1'),
        (e: WireError) => e.code === 'BADADDR',
      );
      assert.throws(
        () => w.addA(ANSWER, 'x.', 1, new Uint8Array(5)),
        (e: WireError) => e.code === 'BADADDR',
      );
      assert.throws(
        () => w.addAAAA(ANSWER, 'x.', 1, '1:::2'),
        (e: WireError) => e.code === 'BADADDR',
      );
      assert.throws(
        () => w.addA(ANSWER, `${'a'.repeat(64)}.x.`, 1, 1),
        (e: WireError) => e.code === 'BADNAME',
      );
      w.addA(ANSWER, QNAME, 1, 2);
    });
    assert.deepEqual(
      msg.answers.map((a) => a.data),
      ['0.0.0.1', '0.0.0.2'],
    );
  });

  it('sections out of order, bad owner offsets and adds outside start/finish are programming errors', () => {
    const w = new ResponseWriter();
    assert.throws(() => w.addA(ANSWER, QNAME, 1, 1), /before start/);
    const q = query('svc.hades.local.', RRType.A);
    w.start(q, 0, 0);
    w.addA(ADDITIONAL, QNAME, 1, 1);
    assert.throws(() => w.addA(ANSWER, QNAME, 1, 1), /section/);
    assert.throws(() => w.addA(ADDITIONAL, 5000, 1, 1), /owner offset/);
    w.finish(512);
    assert.throws(() => w.addA(ADDITIONAL, QNAME, 1, 1), /before start/);
    const nq = newQuery();
    parseQuery(Buffer.alloc(12), 12, nq); // qdcount 0: no question
    w.start(nq, Rcode.FORMERR, 0);
    assert.throws(() => w.addA(ANSWER, QNAME, 1, 1), /owner offset/);
  });
});
