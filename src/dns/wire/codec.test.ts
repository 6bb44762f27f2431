import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { className, RRClass, RRType, rcodeName, typeFromName, typeName } from './constants.js';
import { decode, type OptData } from './decode.js';
import { encode, encodeQuery, type MessageInput, type RRInput } from './encode.js';
import { WireError } from './errors.js';
import { namesEqual, nameToWire, nameWireLength } from './names.js';

const isWireError = (code: string) => (e: unknown) => e instanceof WireError && e.code === code;

describe('names', () => {
  const ok: [string, string][] = [
    ['.', '00'],
    ['', '00'],
    ['a.', '016100'],
    ['a', '016100'],
    ['Ab.c.', '024162016300'],
    ['a\\.b.c.', '03612e62016300'],
    ['a\\\\b.', '03615c6200'],
    ['\\000\\255\\032.', '0300ff2000'],
    ['\\a.', '016100'],
  ];
  for (const [input, hex] of ok) {
    it(`encodes ${JSON.stringify(input)}`, () => {
      const out = Buffer.alloc(256);
      const end = nameToWire(input, out, 0);
      assert.equal(out.subarray(0, end).toString('hex'), hex);
      assert.equal(nameWireLength(input), hex.length / 2);
    });
  }
  const bad = [
    'a..b.',
    '.a.',
    '..',
    'a\\',
    'a\\25',
    'a\\256.',
    'a\\2x5.',
    `${'a'.repeat(64)}.`,
    `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}.`,
    'ĀB.',
  ];
  for (const input of bad) {
    it(`refuses ${JSON.stringify(input.slice(0, 40))}`, () => {
      assert.throws(() => nameToWire(input, Buffer.alloc(256), 0), isWireError('BADNAME'));
    });
  }
  it('accepts the longest names: 63-octet labels, 255 octets in all', () => {
    const n = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}.`;
    assert.equal(nameWireLength(n), 255);
    assert.equal(nameWireLength(n.slice(0, -1)), 255);
    // escapes count as one octet
    assert.equal(
      nameWireLength(`${'\\046'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`),
      255,
    );
  });
  it('namesEqual ignores ASCII case and the final dot only', () => {
    assert.ok(namesEqual('WWW.Example.', 'www.example'));
    assert.ok(!namesEqual('a\\.', 'a'));
    assert.ok(namesEqual('a\\\\.', 'a\\\\'));
    assert.ok(!namesEqual('é.', 'É.'));
  });
});

describe('constants', () => {
  it('names types, classes and rcodes both ways', () => {
    assert.equal(typeName(RRType.AAAA), 'AAAA');
    assert.equal(typeName(65280), 'TYPE65280');
    assert.equal(typeFromName('srv'), RRType.SRV);
    assert.equal(typeFromName('TYPE99'), 99);
    assert.equal(typeFromName('TYPE70000'), undefined);
    assert.equal(typeFromName('nope'), undefined);
    assert.equal(className(RRClass.CH), 'CH');
    assert.equal(rcodeName(16), 'BADVERS');
  });
});

const FULL: MessageInput = {
  id: 0xabcd,
  qr: true,
  aa: true,
  rd: true,
  ra: true,
  rcode: 3,
  questions: [{ name: 'Www.Example.', type: RRType.A, class: RRClass.IN }],
  answers: [
    { name: 'Www.Example.', type: RRType.CNAME, ttl: 60, data: 'web.example.' },
    { name: 'web.example.', type: RRType.A, ttl: 60, data: '192.0.2.1' },
    { name: 'web.example.', type: RRType.AAAA, ttl: 60, data: '2001:db8::1' },
    { name: 'example.', type: RRType.MX, ttl: 60, data: { preference: 10, exchange: 'mail.example.' } },
    {
      name: '_http._tcp.example.',
      type: RRType.SRV,
      ttl: 60,
      data: { priority: 1, weight: 2, port: 80, target: 'web.example.' },
    },
    { name: 'example.', type: RRType.TXT, ttl: 60, data: ['hello', 'world'] },
    { name: '1.2.0.192.in-addr.arpa.', type: RRType.PTR, ttl: 60, data: 'web.example.' },
    { name: 'x.example.', type: 65280, ttl: 60, data: new Uint8Array([0xde, 0xad]) },
    { name: 'a\\.b.example.', type: RRType.DNAME, ttl: 60, data: 'c\\032d.example.' },
  ],
  authorities: [
    { name: 'example.', type: RRType.NS, ttl: 3600, data: 'ns1.example.' },
    {
      name: 'example.',
      type: RRType.SOA,
      ttl: 3600,
      data: {
        mname: 'ns1.example.',
        rname: 'hostmaster.example.',
        serial: 1,
        refresh: 2,
        retry: 3,
        expire: 4,
        minimum: 5,
      },
    },
  ],
  additionals: [{ name: 'ns1.example.', type: RRType.A, ttl: 3600, data: '192.0.2.53' }],
  edns: { udpSize: 4096, do: true, ecs: { address: '198.51.100.7', sourcePrefix: 24, scopePrefix: 24 } },
};

describe('encode/decode', () => {
  it('round-trips every supported type, header bits and EDNS', () => {
    const buf = encode(FULL);
    const m = decode(buf);
    assert.equal(m.id, 0xabcd);
    assert.ok(m.qr && m.aa && m.rd && m.ra && !m.tc && !m.cd && !m.ad);
    assert.equal(m.rcode, 3);
    assert.deepEqual(m.questions, FULL.questions);
    const norm = (rrs: readonly RRInput[]) =>
      rrs.map((r) => ({
        name: r.name,
        type: r.type,
        class: r.class ?? 1,
        ttl: r.ttl ?? 0,
        data:
          r.type === RRType.TXT
            ? (r.data as string[]).map((s) => Buffer.from(s))
            : r.data instanceof Uint8Array
              ? Buffer.from(r.data)
              : r.data,
      }));
    assert.deepEqual(m.answers, norm(FULL.answers ?? []));
    assert.deepEqual(m.authorities, norm(FULL.authorities ?? []));
    assert.deepEqual(m.additionals.slice(0, 1), norm(FULL.additionals ?? []));
    assert.equal(m.additionals[1].type, RRType.OPT);
    assert.deepEqual(m.edns && { ...m.edns, options: m.edns.options.length }, {
      udpSize: 4096,
      extRcode: 0,
      version: 0,
      do: true,
      flags: 0x8000,
      options: 1,
      ecs: { family: 1, sourcePrefix: 24, scopePrefix: 24, address: '198.51.100.0' },
    });
    assert.equal(m.trailing, 0);
    // decode → encode → same octets (the shape is complete and compression deterministic)
    const again = encode(m);
    assert.deepEqual(again, buf);
  });

  it('compresses: the encoded message is smaller than dns-packet (which never compresses) and it decodes it', () => {
    const buf = encode(FULL);
    const p = dnsPacket.decode(buf);
    assert.equal(p.answers?.length, 9);
    // biome-ignore lint/suspicious/noExplicitAny: dns-packet shape
    const a = p.answers as any[];
    assert.equal(a[0].name, 'Www.Example');
    assert.equal(a[0].data, 'web.example');
    assert.equal(a[1].data, '192.0.2.1');
    assert.deepEqual(a[4].data, { priority: 1, weight: 2, port: 80, target: 'web.example' });
    const plain = dnsPacket.encode({
      id: 1,
      type: 'response',
      questions: [{ name: 'Www.Example', type: 'A' }],
      answers: [
        { name: 'Www.Example', type: 'CNAME', ttl: 60, data: 'web.example' },
        { name: 'web.example', type: 'A', ttl: 60, data: '192.0.2.1' },
      ],
    });
    const ours = encode({
      ...FULL,
      answers: FULL.answers?.slice(0, 2),
      authorities: [],
      additionals: [],
      edns: null,
    });
    assert.ok(ours.length < plain.length, `${ours.length} < ${plain.length}`);
    assert.deepEqual(
      decode(plain).answers.map((r) => r.data),
      ['web.example.', '192.0.2.1'],
    );
  });

  it('decodes messages built by dns-packet', () => {
    const buf = dnsPacket.encode({
      type: 'response',
      id: 99,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: [{ name: 'svc.hades.local', type: 'SRV' }],
      answers: [
        {
          name: 'svc.hades.local',
          type: 'SRV',
          ttl: 5,
          data: { priority: 0, weight: 10, port: 53, target: 'a.hades.local' },
        },
        { name: 'svc.hades.local', type: 'TXT', ttl: 5, data: ['x', 'yz'] },
        {
          name: 'svc.hades.local',
          type: 'SOA',
          ttl: 5,
          data: { mname: 'ns.hades.local', rname: 'h.hades.local', serial: 9 },
        },
      ],
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: 1232,
          extendedRcode: 0,
          ednsVersion: 0,
          flag_do: false,
          flags: 0,
          options: [{ code: 8, family: 2, sourcePrefixLength: 48, scopePrefixLength: 0, ip: '2001:db8:1::' }],
        },
      ],
    });
    const m = decode(buf);
    assert.equal(m.id, 99);
    assert.ok(m.aa && m.qr);
    assert.deepEqual(m.answers[0].data, { priority: 0, weight: 10, port: 53, target: 'a.hades.local.' });
    assert.deepEqual(m.answers[1].data, [Buffer.from('x'), Buffer.from('yz')]);
    assert.equal((m.answers[2].data as { serial: number }).serial, 9);
    assert.deepEqual(m.edns?.ecs, { family: 2, sourcePrefix: 48, scopePrefix: 0, address: '2001:db8:1::' });
    assert.equal(m.edns?.udpSize, 1232);
  });

  it('encodeQuery builds a forwardable query', () => {
    const buf = encodeQuery({
      id: 7,
      name: 'example.com',
      type: RRType.AAAA,
      edns: { udpSize: 1232, do: true },
    });
    const m = decode(buf);
    assert.ok(m.rd && !m.qr);
    assert.deepEqual(m.questions, [{ name: 'example.com.', type: RRType.AAAA, class: RRClass.IN }]);
    assert.equal(m.edns?.udpSize, 1232);
    assert.ok(m.edns?.do);
    const p = dnsPacket.decode(buf);
    assert.equal(p.questions?.[0].name, 'example.com');
  });

  it('extended rcode goes to the OPT record', () => {
    const m = decode(encode({ qr: true, rcode: 16, edns: {} }));
    assert.equal(m.rcode, 0);
    assert.equal(m.edns?.extRcode, 1);
    assert.equal(m.edns?.udpSize, 1232);
  });

  const encodeErrors: [string, MessageInput, string][] = [
    ['bad A text', { answers: [{ name: 'a.', type: RRType.A, data: '1.2.3' }] }, 'BADADDR'],
    ['bad AAAA text', { answers: [{ name: 'a.', type: RRType.AAAA, data: '::g' }] }, 'BADADDR'],
    ['MX without exchange', { answers: [{ name: 'a.', type: RRType.MX, data: 'x.' }] }, 'BADVALUE'],
    [
      'port out of range',
      {
        answers: [
          { name: 'a.', type: RRType.SRV, data: { priority: 0, weight: 0, port: 70000, target: 'x.' } },
        ],
      },
      'BADVALUE',
    ],
    ['negative ttl', { answers: [{ name: 'a.', type: RRType.A, ttl: -1, data: '1.2.3.4' }] }, 'BADVALUE'],
    ['unknown type with text', { answers: [{ name: 'a.', type: 999, data: 'x' }] }, 'BADVALUE'],
    ['bad owner', { answers: [{ name: 'a..b', type: RRType.A, data: '1.2.3.4' }] }, 'BADNAME'],
    ['rcode above 12 bits', { rcode: 5000 }, 'BADVALUE'],
    ['opcode 16', { opcode: 16 }, 'BADVALUE'],
    ['ECS prefix 33', { edns: { ecs: { address: '1.2.3.4', sourcePrefix: 33 } } }, 'BADVALUE'],
    ['ECS bad address', { edns: { ecs: { address: 'x', sourcePrefix: 8 } } }, 'BADADDR'],
    [
      'over 65535 octets',
      {
        answers: Array.from({ length: 300 }, () => ({
          name: 'a.',
          type: RRType.TXT,
          data: ['x'.repeat(255)],
        })),
      },
      'TOOBIG',
    ],
  ];
  for (const [name, msg, code] of encodeErrors) {
    it(`encode refuses: ${name}`, () => assert.throws(() => encode(msg), isWireError(code)));
  }
});

describe('decode: malformed input gives a typed WireError', () => {
  const hdr = (qd: number, an: number, ns = 0, ar = 0) => [0, 1, 0x81, 0x80, 0, qd, 0, an, 0, ns, 0, ar];
  const q = [3, 0x77, 0x77, 0x77, 0, 0, 1, 0, 1]; // www. A IN at offset 12
  const rr = (owner: number[], type: number, rdata: number[]) => [
    ...owner,
    type >> 8,
    type & 0xff,
    0,
    1,
    0,
    0,
    0,
    60,
    rdata.length >> 8,
    rdata.length & 0xff,
    ...rdata,
  ];
  const cases: [string, number[], string][] = [
    ['shorter than a header', [0, 1, 2], 'SHORT'],
    ['question cut off', [...hdr(1, 0), 3, 0x77], 'SHORT'],
    ['question type cut off', [...hdr(1, 0), 0, 0, 1], 'SHORT'],
    ['count larger than the records', [...hdr(1, 5), ...q], 'SHORT'],
    ['pointer to itself', [...hdr(1, 1), ...q, ...rr([0xc0, 21], 1, [1, 2, 3, 4])], 'BADPTR'],
    ['forward pointer', [...hdr(1, 1), ...q, ...rr([0xc0, 60], 1, [1, 2, 3, 4])], 'BADPTR'],
    ['pointer loop between two names', [...hdr(2, 0), 0xc0, 14, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1], 'BADPTR'],
    ['pointer cut off', [...hdr(1, 0), 0xc0], 'SHORT'],
    ['reserved label type 0x40', [...hdr(1, 0), 0x41, 0x61, 0, 0, 1, 0, 1], 'BADLABEL'],
    ['reserved label type 0x80', [...hdr(1, 0), 0x80, 0, 0, 1, 0, 1], 'BADLABEL'],
    ['A with 5 octets', [...hdr(1, 1), ...q, ...rr([0xc0, 12], 1, [1, 2, 3, 4, 5])], 'RDATA'],
    ['AAAA with 4 octets', [...hdr(1, 1), ...q, ...rr([0xc0, 12], 28, [1, 2, 3, 4])], 'RDATA'],
    ['CNAME with leftover octets', [...hdr(1, 1), ...q, ...rr([0xc0, 12], 5, [0, 9])], 'RDATA'],
    ['CNAME name past RDATA', [...hdr(1, 1), ...q, ...rr([0xc0, 12], 5, [3, 0x61])], 'SHORT'],
    ['MX too short', [...hdr(1, 1), ...q, ...rr([0xc0, 12], 15, [0])], 'RDATA'],
    ['SRV too short', [...hdr(1, 1), ...q, ...rr([0xc0, 12], 33, [0, 1, 0, 2, 0])], 'RDATA'],
    ['SOA without the numbers', [...hdr(1, 1), ...q, ...rr([0xc0, 12], 6, [0, 0, 1, 2])], 'RDATA'],
    ['TXT string past RDATA', [...hdr(1, 1), ...q, ...rr([0xc0, 12], 16, [5, 0x61])], 'RDATA'],
    ['empty TXT', [...hdr(1, 1), ...q, ...rr([0xc0, 12], 16, [])], 'RDATA'],
    ['OPT option past RDATA', [...hdr(1, 0, 0, 1), ...q, ...rr([0], 41, [0, 8, 0, 9, 1])], 'RDATA'],
    ['OPT option header cut', [...hdr(1, 0, 0, 1), ...q, ...rr([0], 41, [0, 8, 0])], 'RDATA'],
    ['RDATA past the end', [...hdr(1, 1), ...q, ...rr([0xc0, 12], 1, [1, 2, 3, 4]).slice(0, -2)], 'SHORT'],
  ];
  for (const [name, bytes, code] of cases) {
    it(name, () => assert.throws(() => decode(Buffer.from(bytes)), isWireError(code)));
  }

  it('a name of more than 255 octets built from backward pointers', () => {
    // 5 questions each adding a 60-octet label in front of the previous question's name
    const bytes = hdr(5, 0);
    let prev = -1;
    for (let i = 0; i < 5; i++) {
      const at = bytes.length;
      bytes.push(60, ...new Array(60).fill(0x61 + i));
      if (prev < 0) bytes.push(0);
      else bytes.push(0xc0 | (prev >> 8), prev & 0xff);
      bytes.push(0, 1, 0, 1);
      prev = at;
    }
    assert.throws(() => decode(Buffer.from(bytes)), isWireError('NAMELEN'));
  });

  it('unknown class A data and trailing octets are tolerated', () => {
    const bytes = [...hdr(1, 1), ...q, 0xc0, 12, 0, 1, 0, 3, 0, 0, 0, 0, 0, 2, 0xab, 0xcd, 0xff, 0xff];
    const m = decode(Buffer.from(bytes));
    assert.deepEqual(m.answers[0].data, Buffer.from([0xab, 0xcd]));
    assert.equal(m.trailing, 2);
  });

  it('OPT RDATA decodes into options', () => {
    const m = decode(Buffer.from([...hdr(1, 0, 0, 1), ...q, ...rr([0], 41, [0, 10, 0, 2, 7, 8])]));
    assert.deepEqual((m.additionals[0].data as OptData).options, [{ code: 10, data: Buffer.from([7, 8]) }]);
    assert.equal(m.edns?.ecs, null);
  });
});
