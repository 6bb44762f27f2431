/**
 * ResponseCache: table-driven, with an injected clock (no sleeping, no wall clock). Replies are
 * built with the wire encoder the way an upstream would send them and offered to `store` with the
 * query that was forwarded; `serve` answers later queries into a writer-sized buffer, decoded here.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { Session } from 'node:inspector';
import { describe, it } from 'node:test';
import { MAX_SERVFAIL_TTL, ResponseCache, type ResponseCacheOptions } from './cache.js';
import type { ExternalAnswer } from './forward/external.js';
import { Forwarder } from './forward/forwarder.js';
import type { Transport } from './types.js';
import { EdnsOption, Rcode, RRType } from './wire/constants.js';
import { decode, type Message, type SoaData } from './wire/decode.js';
import { type EdnsInput, encode, type MessageInput, type RRInput } from './wire/encode.js';

const OUT = Buffer.alloc(65535 + 64);

interface Clocked {
  cache: ResponseCache;
  /** Moves the clock forward by `ms`. */
  tick(ms: number): void;
}

function newCache(opts: Partial<ResponseCacheOptions> = {}): Clocked {
  let t = 1_000_000;
  const cache = new ResponseCache({ capacity: 100, maxTtl: 3600, now: () => t, seed: 1, ...opts });
  return {
    cache,
    tick(ms) {
      t += ms;
    },
  };
}

interface QOpts {
  id?: number;
  rd?: boolean;
  cd?: boolean;
  ad?: boolean;
  edns?: EdnsInput | null;
}

function query(name: string, type: number = RRType.A, o: QOpts = {}): Buffer {
  return encode({
    id: o.id ?? 0x1234,
    rd: o.rd ?? true,
    cd: o.cd ?? false,
    ad: o.ad ?? false,
    questions: [{ name, type, class: 1 }],
    edns: o.edns === undefined ? { udpSize: 1232 } : o.edns,
  });
}

const SOA = (ttl: number, minimum: number, name = 'example.com.'): RRInput => ({
  name,
  type: RRType.SOA,
  ttl,
  data: {
    mname: `ns1.${name}`,
    rname: `hostmaster.${name}`,
    serial: 7,
    refresh: 7200,
    retry: 1800,
    expire: 86400,
    minimum,
  },
});

/** An upstream reply to `q` (its ID and question octets) with the given sections and rcode. */
function reply(q: Buffer, m: Partial<MessageInput> = {}): Buffer {
  const d = decode(q);
  return encode({
    id: d.id,
    qr: true,
    rd: d.rd,
    ra: true,
    cd: d.cd,
    questions: d.questions,
    edns: d.edns ? { udpSize: 1232, do: d.edns.do } : null,
    ...m,
  });
}

function a(name: string, ttl: number, addr: string): RRInput {
  return { name, type: RRType.A, ttl, data: addr };
}

function serve(c: ResponseCache, q: Buffer, transport: Transport = 'udp'): Message | null {
  const n = c.serve(q, q.length, transport, OUT);
  return n > 0 ? decode(OUT, n) : null;
}

function ttls(m: Message): number[] {
  return [...m.answers, ...m.authorities, ...m.additionals.filter((r) => r.type !== RRType.OPT)].map(
    (r) => r.ttl,
  );
}

describe('ResponseCache: TTLs count down, never above -rcache_ttl', () => {
  const cases: {
    name: string;
    maxTtl: number;
    upstreamTtls: number[];
    /** [ms after insert, served TTLs or null for a miss] */
    steps: [number, number[] | null][];
  }[] = [
    {
      name: 'one TTL',
      maxTtl: 3600,
      upstreamTtls: [300],
      steps: [
        [0, [300]],
        [999, [300]],
        [1000, [299]],
        [10_500, [290]],
        [299_999, [1]],
        [300_000, null],
      ],
    },
    {
      name: 'each RR counts down from its own TTL; the entry lives for the least',
      maxTtl: 3600,
      upstreamTtls: [100, 40],
      steps: [
        [0, [100, 40]],
        [39_000, [61, 1]],
        [40_000, null],
      ],
    },
    {
      name: 'capped by maxTtl',
      maxTtl: 60,
      upstreamTtls: [86400, 30],
      steps: [
        [0, [60, 30]],
        [29_999, [31, 1]],
        [30_000, null],
      ],
    },
    {
      name: 'cap only',
      maxTtl: 60,
      upstreamTtls: [86400],
      steps: [
        [0, [60]],
        [59_999, [1]],
        [60_000, null],
      ],
    },
    {
      name: 'a TTL above 2^31-1 is 0 (RFC 2181 §8): not cached',
      maxTtl: 60,
      upstreamTtls: [0x80000000],
      steps: [[0, null]],
    },
    { name: 'TTL 0: not cached', maxTtl: 60, upstreamTtls: [30, 0], steps: [[0, null]] },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const { cache, tick } = newCache({ maxTtl: tc.maxTtl });
      const q = query('www.example.com.');
      const r = reply(q, {
        answers: tc.upstreamTtls.map((t, i) => a('www.example.com.', t, `192.0.2.${i + 1}`)),
      });
      const stored = cache.store(q, q.length, r, r.length);
      assert.equal(stored, tc.steps[0][1] !== null);
      let at = 0;
      for (const [ms, want] of tc.steps) {
        tick(ms - at);
        at = ms;
        const m = serve(cache, query('www.example.com.', RRType.A, { id: 77 }));
        if (want === null) assert.equal(m, null, `${ms} ms: expected a miss`);
        else {
          assert.ok(m, `${ms} ms: expected a hit`);
          assert.deepEqual(ttls(m), want, `${ms} ms`);
          assert.deepEqual(
            m.answers.map((x) => x.data),
            tc.upstreamTtls.map((_, i) => `192.0.2.${i + 1}`),
          );
        }
      }
    });
  }
});

describe('ResponseCache: negative answers (RFC 2308) and SERVFAIL', () => {
  const cases: {
    name: string;
    maxTtl?: number;
    servfailTtl?: number;
    rcode: number;
    answers?: RRInput[];
    authorities?: RRInput[];
    /** Expected lifetime in s (0: not cached) and the served SOA TTL at insert. */
    life: number;
    soaTtl?: number;
  }[] = [
    {
      name: 'NXDOMAIN: SOA MINIMUM below the SOA TTL',
      rcode: Rcode.NXDOMAIN,
      authorities: [SOA(3600, 30)],
      life: 30,
      soaTtl: 30,
    },
    {
      name: 'NXDOMAIN: SOA TTL below MINIMUM',
      rcode: Rcode.NXDOMAIN,
      authorities: [SOA(20, 900)],
      life: 20,
      soaTtl: 20,
    },
    {
      name: 'NXDOMAIN capped by maxTtl',
      maxTtl: 10,
      rcode: Rcode.NXDOMAIN,
      authorities: [SOA(3600, 900)],
      life: 10,
      soaTtl: 10,
    },
    {
      name: 'NODATA (NOERROR, no answer)',
      rcode: Rcode.NOERROR,
      authorities: [SOA(600, 45)],
      life: 45,
      soaTtl: 45,
    },
    {
      name: 'NODATA after a CNAME: the chain bounds it too',
      rcode: Rcode.NOERROR,
      answers: [{ name: 'www.example.com.', type: RRType.CNAME, ttl: 20, data: 'web.example.com.' }],
      authorities: [SOA(600, 45)],
      life: 20,
      soaTtl: 45,
    },
    {
      name: 'NXDOMAIN after a CNAME',
      rcode: Rcode.NXDOMAIN,
      answers: [{ name: 'www.example.com.', type: RRType.CNAME, ttl: 300, data: 'gone.example.com.' }],
      authorities: [SOA(600, 45)],
      life: 45,
      soaTtl: 45,
    },
    { name: 'NXDOMAIN without SOA: not cached', rcode: Rcode.NXDOMAIN, life: 0 },
    {
      name: 'NODATA without SOA (a referral): not cached',
      rcode: Rcode.NOERROR,
      authorities: [{ name: 'example.com.', type: RRType.NS, ttl: 300, data: 'ns1.example.com.' }],
      life: 0,
    },
    { name: 'SERVFAIL: 5 s', rcode: Rcode.SERVFAIL, life: MAX_SERVFAIL_TTL },
    { name: 'SERVFAIL: at most maxTtl', maxTtl: 3, rcode: Rcode.SERVFAIL, life: 3 },
    { name: 'SERVFAIL: servfailTtl 2', servfailTtl: 2, rcode: Rcode.SERVFAIL, life: 2 },
    { name: 'SERVFAIL: servfailTtl 0 = never', servfailTtl: 0, rcode: Rcode.SERVFAIL, life: 0 },
    { name: 'REFUSED: not cached', rcode: Rcode.REFUSED, life: 0 },
    { name: 'FORMERR: not cached', rcode: Rcode.FORMERR, life: 0 },
    { name: 'NOTIMP: not cached', rcode: Rcode.NOTIMP, life: 0 },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const { cache, tick } = newCache({ maxTtl: tc.maxTtl ?? 3600, servfailTtl: tc.servfailTtl });
      const q = query('www.example.com.');
      const r = reply(q, { rcode: tc.rcode, answers: tc.answers, authorities: tc.authorities });
      assert.equal(cache.store(q, q.length, r, r.length), tc.life > 0);
      if (tc.life === 0) {
        assert.equal(serve(cache, q), null);
        assert.equal(cache.stats.uncacheable, 1);
        return;
      }
      const m = serve(cache, q);
      assert.ok(m);
      assert.equal(m.rcode, tc.rcode);
      if (tc.soaTtl !== undefined) {
        const soa = m.authorities.find((x) => x.type === RRType.SOA);
        assert.ok(soa);
        assert.equal(soa.ttl, tc.soaTtl);
        assert.equal(
          (soa.data as SoaData).minimum,
          tc.authorities?.[0].data && (tc.authorities[0].data as SoaData).minimum,
        );
      }
      tick(tc.life * 1000 - 1);
      const late = serve(cache, q);
      assert.ok(late, 'still cached just before the end');
      for (const t of ttls(late)) assert.ok(t >= 1, `TTL ${t}`);
      tick(1);
      assert.equal(serve(cache, q), null, 'expired');
      assert.equal(cache.stats.expired, 1);
      assert.equal(cache.stats.entries, 0);
    });
  }
});

describe('ResponseCache: what is not stored', () => {
  const ok = (q: Buffer): Buffer => reply(q, { answers: [a('www.example.com.', 300, '192.0.2.1')] });
  const cases: { name: string; q: Buffer; r: (q: Buffer) => Buffer }[] = [
    { name: 'TC', q: query('www.example.com.'), r: (q) => reply(q, { tc: true }) },
    {
      name: 'RD=0 query (a non-recursive answer)',
      q: query('www.example.com.', RRType.A, { rd: false }),
      r: ok,
    },
    {
      name: 'query with a Client Subnet option',
      q: query('www.example.com.', RRType.A, {
        edns: { ecs: { sourcePrefix: 24, address: '198.51.100.0' } },
      }),
      r: ok,
    },
    {
      name: 'extended rcode (BADCOOKIE)',
      q: query('www.example.com.'),
      r: (q) => reply(q, { rcode: Rcode.BADCOOKIE, edns: { udpSize: 1232 } }),
    },
    { name: 'another question name', q: query('www.example.com.'), r: () => ok(query('www.example.org.')) },
    {
      name: 'another type',
      q: query('www.example.com.'),
      r: () => ok(query('www.example.com.', RRType.AAAA)),
    },
    { name: 'not a response', q: query('www.example.com.'), r: (q) => Buffer.from(q) },
    {
      name: 'opcode NOTIFY',
      q: query('www.example.com.'),
      r: (q) => reply(q, { opcode: 4, answers: [a('www.example.com.', 300, '192.0.2.1')] }),
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const { cache } = newCache();
      const r = tc.r(tc.q);
      assert.equal(cache.store(tc.q, tc.q.length, r, r.length), false);
      assert.equal(cache.stats.entries, 0);
      assert.equal(serve(cache, query('www.example.com.')), null);
    });
  }

  it('a reply cut at any length, or with garbage, never throws and is stored only whole', () => {
    const { cache } = newCache();
    const q = query('www.example.com.');
    const r = reply(q, {
      answers: [a('www.example.com.', 300, '192.0.2.1'), a('www.example.com.', 300, '192.0.2.2')],
      authorities: [SOA(600, 60)],
      additionals: [a('ns1.example.com.', 300, '192.0.2.53')],
    });
    for (let n = 0; n < r.length; n++) assert.equal(cache.store(q, q.length, r, n), false, `length ${n}`);
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      const bad = Buffer.from(r);
      for (let k = 0; k < 3; k++) {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        bad[12 + (seed % (bad.length - 12))] = seed >>> 24;
      }
      cache.store(q, q.length, bad, bad.length);
      cache.serve(q, q.length, 'udp', OUT);
    }
    for (let n = 0; n < q.length; n++) assert.equal(cache.serve(q, n, 'udp', OUT), 0);
    assert.equal(cache.store(q, q.length, r, r.length), true);
  });
});

describe('ResponseCache: keys and per-client replies', () => {
  it('no cross-case pollution: each reply carries its own query case, inline owners too', () => {
    const { cache } = newCache();
    const q1 = query('WWW.Example.COM.');
    // the upstream wrote one owner as a pointer to the question and one inline in another case
    const r = reply(q1, {
      answers: [a('WWW.Example.COM.', 300, '192.0.2.1'), a('www.example.com.', 300, '192.0.2.2')],
    });
    assert.equal(cache.store(q1, q1.length, r, r.length), true);
    for (const name of ['www.example.com.', 'WWW.EXAMPLE.COM.', 'wWw.ExAmPlE.cOm.', 'WWW.Example.COM.']) {
      const m = serve(cache, query(name));
      assert.ok(m, name);
      assert.equal(m.questions[0].name, name);
      assert.deepEqual(
        m.answers.map((x) => `${x.name} ${x.data}`),
        [`${name} 192.0.2.1`, `${name} 192.0.2.2`],
      );
    }
    assert.equal(cache.stats.entries, 1);
    assert.equal(cache.stats.hits, 4);
  });

  it('a pointer into the middle of an inline owner: the inline part gets the client case', () => {
    const { cache } = newCache();
    const q1 = query('a.b.example.com.');
    // owner 'A.B.example.com.' inline as 'A.B.' + a pointer to the question's 'example.com.'
    const r = reply(q1, { answers: [a('A.B.example.com.', 300, '192.0.2.1')] });
    assert.equal(cache.store(q1, q1.length, r, r.length), true);
    const m = serve(cache, query('a.B.EXAMPLE.com.'));
    assert.ok(m);
    assert.equal(m.answers[0].name, 'a.B.EXAMPLE.com.');
  });

  it('DO and CD are part of the key; names ignore case; type and class count', () => {
    const { cache } = newCache();
    const variants: [string, Buffer, string][] = [
      ['plain', query('x.example.com.'), '192.0.2.1'],
      ['DO', query('x.example.com.', RRType.A, { edns: { do: true } }), '192.0.2.2'],
      ['CD', query('x.example.com.', RRType.A, { cd: true }), '192.0.2.3'],
      ['DO+CD', query('x.example.com.', RRType.A, { cd: true, edns: { do: true } }), '192.0.2.4'],
    ];
    for (const [, q, addr] of variants) {
      const r = reply(q, { answers: [a('x.example.com.', 300, addr)] });
      assert.equal(cache.store(q, q.length, r, r.length), true);
    }
    assert.equal(cache.stats.entries, 4);
    for (const [what, q, addr] of variants) {
      const m = serve(cache, q);
      assert.ok(m, what);
      assert.equal(m.answers[0].data, addr, what);
    }
    // without EDNS is the same key as EDNS without DO
    assert.equal(
      serve(cache, query('X.EXAMPLE.COM.', RRType.A, { edns: null }))?.answers[0].data,
      '192.0.2.1',
    );
    assert.equal(serve(cache, query('x.example.com.', RRType.AAAA)), null);
    assert.equal(
      cache.serve(
        encode({ id: 1, rd: true, questions: [{ name: 'x.example.com.', type: RRType.A, class: 3 }] }),
        35,
        'udp',
        OUT,
      ),
      0,
    );
  });

  it('header and EDNS are the client’s: ID, RD, CD; RA set; AA clear; AD only when asked; our OPT', () => {
    const { cache } = newCache({ udpSize: 1232 });
    const q1 = query('www.example.com.', RRType.A, {
      ad: true,
      edns: { udpSize: 4096, options: [{ code: EdnsOption.COOKIE, data: Buffer.alloc(8, 1) }] },
    });
    const r = reply(q1, {
      aa: true,
      ad: true,
      answers: [a('www.example.com.', 300, '192.0.2.1')],
      edns: { udpSize: 4096, options: [{ code: EdnsOption.COOKIE, data: Buffer.alloc(24, 2) }] },
    });
    assert.equal(cache.store(q1, q1.length, r, r.length), true);

    const m1 = serve(cache, query('www.example.com.', RRType.A, { id: 0xbeef, ad: true }));
    assert.ok(m1);
    assert.equal(m1.id, 0xbeef);
    assert.equal(m1.rd, true);
    assert.equal(m1.ra, true);
    assert.equal(m1.aa, false);
    assert.equal(m1.ad, true);
    assert.equal(m1.tc, false);
    assert.ok(m1.edns);
    assert.equal(m1.edns.udpSize, 1232);
    assert.equal(m1.edns.do, false);
    assert.deepEqual(m1.edns.options, [], 'the first client’s cookie is not repeated');

    const m2 = serve(cache, query('www.example.com.', RRType.A, { id: 2, rd: false, edns: null }));
    assert.ok(m2);
    assert.equal(m2.id, 2);
    assert.equal(m2.rd, false);
    assert.equal(m2.ad, false, 'AD only for a client that set AD or DO (RFC 6840 §5.8)');
    assert.equal(m2.edns, null, 'no OPT for a client without EDNS');
    assert.equal(m2.additionals.length, 0);
  });

  it('a query the cache does not serve: ECS, TSIG-like records, several questions, a response', () => {
    const { cache } = newCache();
    const q = query('www.example.com.');
    const r = reply(q, { answers: [a('www.example.com.', 300, '192.0.2.1')] });
    assert.equal(cache.store(q, q.length, r, r.length), true);
    const ecs = query('www.example.com.', RRType.A, {
      edns: { ecs: { sourcePrefix: 24, address: '198.51.100.0' } },
    });
    const extra = encode({
      id: 1,
      rd: true,
      questions: [{ name: 'www.example.com.', type: RRType.A, class: 1 }],
      additionals: [{ name: 'key.', type: 250, class: 255, ttl: 0, data: Buffer.alloc(4) }],
    });
    const two = encode({
      id: 1,
      rd: true,
      questions: [
        { name: 'www.example.com.', type: RRType.A, class: 1 },
        { name: 'www.example.com.', type: RRType.A, class: 1 },
      ],
    });
    for (const b of [ecs, extra, two, r]) assert.equal(cache.serve(b, b.length, 'udp', OUT), 0);
    assert.equal(cache.stats.misses, 4);
    assert.ok(serve(cache, q));
  });
});

describe('ResponseCache: sizes', () => {
  const name = 'big.example.com.';
  const answers = Array.from({ length: 40 }, (_, i) => a(name, 300, `192.0.2.${i + 1}`));
  const additionals = Array.from({ length: 20 }, (_, i) =>
    a(`ns${i}.example.com.`, 300, `198.51.100.${i + 1}`),
  );
  const q = query(name, RRType.A, { edns: { udpSize: 65000 } });
  const r = reply(q, { answers, additionals });

  const cases: {
    name: string;
    q: Buffer;
    transport: Transport;
    answers: number;
    additional: number;
    tc: boolean;
  }[] = [
    { name: 'TCP: whole', q: query(name), transport: 'tcp', answers: 40, additional: 20, tc: false },
    {
      name: 'UDP, EDNS 1232: whole',
      q: query(name, RRType.A, { edns: { udpSize: 4096 } }),
      transport: 'udp',
      answers: 40,
      additional: 20,
      tc: false,
    },
    {
      name: 'UDP, EDNS 800: additional records dropped, no TC',
      q: query(name, RRType.A, { edns: { udpSize: 800 } }),
      transport: 'udp',
      answers: 40,
      additional: -1,
      tc: false,
    },
    {
      name: 'UDP, no EDNS (512): TC',
      q: query(name, RRType.A, { edns: null }),
      transport: 'udp',
      answers: 0,
      additional: 0,
      tc: true,
    },
  ];
  for (const tc of cases) {
    it(tc.name, () => {
      const { cache } = newCache();
      assert.ok(r.length > 700 && r.length < 1232, `reply of ${r.length} octets`);
      assert.equal(cache.store(q, q.length, r, r.length), true);
      const n = cache.serve(tc.q, tc.q.length, tc.transport, OUT);
      assert.ok(n > 0);
      const limit =
        tc.transport === 'tcp' ? 65535 : decode(tc.q).edns ? Math.min(decode(tc.q).edns!.udpSize, 1232) : 512;
      assert.ok(n <= limit, `${n} octets for a limit of ${limit}`);
      const m = decode(OUT, n);
      assert.equal(m.tc, tc.tc);
      assert.equal(m.answers.length, tc.answers);
      const add = m.additionals.filter((x) => x.type !== RRType.OPT).length;
      if (tc.additional >= 0) assert.equal(add, tc.additional);
      else assert.ok(add > 0 && add < 20, `${add} additional records kept`);
      assert.equal(m.questions[0].name, name);
      assert.equal(m.edns !== null, decode(tc.q).edns !== null);
    });
  }

  it('an upstream OPT in the middle of additional: it and what follows are dropped', () => {
    const { cache } = newCache();
    const q1 = query('m.example.com.');
    const r1 = encode({
      id: 1,
      qr: true,
      rd: true,
      ra: true,
      questions: [{ name: 'm.example.com.', type: RRType.A, class: 1 }],
      answers: [a('m.example.com.', 300, '192.0.2.1')],
      additionals: [
        a('n1.example.com.', 300, '192.0.2.7'),
        { name: '.', type: RRType.OPT, class: 1232, ttl: 0, data: { options: [] } },
        a('n2.example.com.', 300, '192.0.2.8'),
      ],
    });
    assert.equal(cache.store(q1, q1.length, r1, r1.length), true);
    const m = serve(cache, query('m.example.com.'));
    assert.ok(m);
    assert.deepEqual(
      m.additionals.map((x) => (x.type === RRType.OPT ? 'OPT' : x.name)),
      ['n1.example.com.', 'OPT'],
    );
  });
});

describe('ResponseCache: capacity, LRU eviction, replacement', () => {
  const put = (c: ResponseCache, name: string, addr = '192.0.2.1', ttl = 300): void => {
    const q = query(name);
    const r = reply(q, { answers: [a(name, ttl, addr)] });
    assert.equal(c.store(q, q.length, r, r.length), true, name);
  };

  it('the least recently used goes first; a hit refreshes', () => {
    const { cache } = newCache({ capacity: 3 });
    put(cache, 'a.example.');
    put(cache, 'b.example.');
    put(cache, 'c.example.');
    assert.ok(serve(cache, query('a.example.'))); // a is now the most recent: b is the oldest
    put(cache, 'd.example.');
    assert.equal(cache.stats.entries, 3);
    assert.equal(cache.stats.evictions, 1);
    assert.equal(serve(cache, query('b.example.')), null);
    for (const n of ['a.example.', 'c.example.', 'd.example.']) assert.ok(serve(cache, query(n)), n);
    put(cache, 'e.example.'); // a was used before c and d were served: a goes
    assert.equal(serve(cache, query('a.example.')), null);
    assert.equal(cache.stats.evictions, 2);
  });

  it('storing the same key again replaces the entry (no eviction, new TTL)', () => {
    const { cache, tick } = newCache({ capacity: 2 });
    put(cache, 'a.example.', '192.0.2.1', 100);
    put(cache, 'b.example.');
    tick(50_000);
    put(cache, 'A.EXAMPLE.', '192.0.2.9', 100);
    assert.equal(cache.stats.entries, 2);
    assert.equal(cache.stats.evictions, 0);
    const m = serve(cache, query('a.example.'));
    assert.ok(m);
    assert.equal(m.answers[0].data, '192.0.2.9');
    assert.equal(m.answers[0].ttl, 100);
  });

  it('capacity 1', () => {
    const { cache } = newCache({ capacity: 1 });
    put(cache, 'a.example.');
    put(cache, 'b.example.');
    assert.equal(cache.stats.entries, 1);
    assert.equal(serve(cache, query('a.example.')), null);
    assert.ok(serve(cache, query('b.example.')));
  });

  it('many entries (the table grows), all found; then a full turnover evicts every old one', () => {
    const { cache } = newCache({ capacity: 5000 });
    for (let i = 0; i < 5000; i++) put(cache, `h${i}.example.`, `10.0.${i >> 8}.${i & 255}`);
    assert.equal(cache.stats.entries, 5000);
    for (let i = 0; i < 5000; i += 7) {
      const m = serve(cache, query(`H${i}.example.`));
      assert.ok(m, `h${i}`);
      assert.equal(m.answers[0].data, `10.0.${i >> 8}.${i & 255}`);
    }
    for (let i = 0; i < 5000; i++) put(cache, `n${i}.example.`);
    assert.equal(cache.stats.entries, 5000);
    assert.equal(cache.stats.evictions, 5000);
    assert.equal(serve(cache, query('h0.example.')), null);
    cache.clear();
    assert.equal(cache.stats.entries, 0);
    assert.equal(serve(cache, query('n1.example.')), null);
  });

  it('counters: hits + misses = lookups', () => {
    const { cache } = newCache();
    put(cache, 'a.example.');
    serve(cache, query('a.example.'));
    serve(cache, query('a.example.'));
    serve(cache, query('z.example.'));
    assert.equal(cache.stats.hits, 2);
    assert.equal(cache.stats.misses, 1);
    assert.equal(cache.stats.inserts, 1);
    assert.equal(cache.size, 1);
  });

  it('bad options throw RangeError naming the option', () => {
    assert.throws(() => new ResponseCache({ capacity: 0, maxTtl: 60 }), /capacity/);
    assert.throws(() => new ResponseCache({ capacity: 10, maxTtl: 0 }), /maxTtl/);
    assert.throws(() => new ResponseCache({ capacity: 10, maxTtl: 60, servfailTtl: 6 }), /servfailTtl/);
    assert.throws(() => new ResponseCache({ capacity: 10, maxTtl: 60, udpSize: 100 }), /udpSize/);
  });
});

describe('ResponseCache: a hit allocates nothing', () => {
  it('V8’s sampling heap profiler sees (almost) nothing allocated over 200k hits', async () => {
    const { cache } = newCache();
    const q = query('www.example.com.');
    const r = reply(q, { answers: [a('www.example.com.', 300, '192.0.2.1')] });
    cache.store(q, q.length, r, r.length);
    const q2 = query('WWW.example.com.', RRType.A, { id: 9 });
    for (let i = 0; i < 10_000; i++) cache.serve(q2, q2.length, 'udp', OUT);
    const session = new Session();
    session.connect();
    const post = (method: string, params?: object): Promise<unknown> =>
      new Promise((resolve, reject) =>
        session.post(method, params, (err, v) => (err ? reject(err) : resolve(v))),
      );
    await post('HeapProfiler.enable');
    // count what the collector already took back too: garbage per hit is what we look for
    await post('HeapProfiler.startSampling', {
      samplingInterval: 32,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    for (let i = 0; i < 200_000; i++) cache.serve(q2, q2.length, 'udp', OUT);
    const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: { head: SampleNode } };
    session.disconnect();
    let total = 0;
    const walk = (n: SampleNode): void => {
      total += n.selfSize;
      for (const c of n.children) walk(c);
    };
    walk(profile.head);
    // JIT feedback and the profiler's own calls are a few hundred KB at most; 16 B per hit
    // would be 3.2 MB
    assert.ok(total < 1_000_000, `${total} B sampled over 200k hits`);
    assert.equal(cache.stats.hits, 210_000);
  });
});

interface SampleNode {
  selfSize: number;
  children: SampleNode[];
}

describe('ResponseCache with the Forwarder (a loopback upstream)', () => {
  /** A UDP upstream on 127.0.0.1 answering A queries with one address, TTL 300; counts queries. */
  async function upstream(): Promise<{ port: number; seen: string[]; close(): Promise<void> }> {
    const sock = dgram.createSocket('udp4');
    const seen: string[] = [];
    sock.on('message', (buf, rinfo) => {
      const q = decode(buf);
      const name = q.questions[0].name;
      if (name === '.') return; // health probe
      seen.push(name);
      const r = encode({
        id: q.id,
        qr: true,
        rd: q.rd,
        ra: true,
        questions: q.questions,
        answers: [{ name, type: RRType.A, ttl: 300, data: '192.0.2.80' }],
        edns: q.edns ? { udpSize: 1232 } : null,
      });
      sock.send(r, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    return {
      port: (sock.address() as { port: number }).port,
      seen,
      close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
    };
  }

  it('forward() feeds the cache; resolveExternal answers from it without a trip upstream', async () => {
    const up = await upstream();
    const { cache } = newCache();
    const fwd = new Forwarder({
      nameservers: [{ host: '127.0.0.1', port: up.port, family: 4 }],
      cache,
      readTimeoutMs: 2000,
    });
    try {
      const q = query('Ext.Example.NET.');
      const first = await new Promise<Buffer | null>((resolve) =>
        fwd.forward(q, q.length, 'udp', (reply) => resolve(reply)),
      );
      assert.ok(first);
      assert.equal(decode(first).answers[0].data, '192.0.2.80');
      assert.equal(cache.stats.entries, 1);
      // what the server does for the next client
      const m = serve(cache, query('ext.example.net.', RRType.A, { id: 5 }));
      assert.ok(m);
      assert.equal(m.answers[0].name, 'ext.example.net.');
      // an out-of-zone CNAME target: resolveExternal asks with EDNS, no DO: the same key
      const ans = await new Promise<ExternalAnswer | null>((resolve) =>
        fwd.resolveExternal('EXT.example.net.', RRType.A, resolve),
      );
      assert.ok(ans);
      assert.deepEqual(
        ans.answers.map((r) => r.data),
        ['192.0.2.80'],
      );
      assert.deepEqual(up.seen, ['Ext.Example.NET.']);
      // and a target nobody asked for yet goes upstream once, then comes from the cache
      for (let i = 0; i < 2; i++) {
        const x = await new Promise<ExternalAnswer | null>((resolve) =>
          fwd.resolveExternal('other.example.net.', RRType.A, resolve),
        );
        assert.ok(x);
      }
      assert.deepEqual(up.seen, ['Ext.Example.NET.', 'other.example.net.']);
    } finally {
      fwd.close();
      await up.close();
    }
  });
});
