/**
 * AddressAnswers (the per-name A/AAAA answers before selection): the same replies as the general
 * path for every policy, client and name, and never a stale one after a record or health change.
 * A fake source whose generations the test moves: without generations the handler answers the
 * general way, which is the reference.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Record, SelectPolicy } from '../records/types.js';
import type { AnswerSource } from './answer-context.js';
import { DnsHandler } from './handler.js';
import { FakeSource, rec, topology } from './test-source.js';
import type { ClientInfo } from './types.js';
import { RRType } from './wire/constants.js';
import { decode } from './wire/decode.js';
import { encodeQuery } from './wire/encode.js';
import { ResponseWriter } from './wire/writer.js';

function world(): FakeSource {
  const s = new FakeSource();
  s.names.set('pool.hades.local.', [
    rec('pool.hades.local.', 0, '10.0.0.1'),
    rec('pool.hades.local.', 1, '10.0.0.2', { weight: 5 }),
    rec('pool.hades.local.', 2, '10.0.0.3'),
    rec('pool.hades.local.', 3, '10.0.0.2'), // a repeated address
    rec('pool.hades.local.', 4, '2001:db8::1'),
    rec('pool.hades.local.', 5, '2001:db8::2'),
  ]);
  s.names.set('one.hades.local.', [rec('one.hades.local.', 0, '10.1.0.1')]);
  s.names.set('alias.hades.local.', [rec('alias.hades.local.', 0, 'pool.hades.local.')]);
  s.names.set('all.hades.local.', [
    rec('all.hades.local.', 0, '10.2.0.1', { select: 'all' }),
    rec('all.hades.local.', 1, '10.2.0.2'),
    rec('all.hades.local.', 2, '10.2.0.3'),
  ]);
  s.names.set('x.sub.hades.local.', [rec('x.sub.hades.local.', 0, '10.3.0.1')]);
  const t = 'tiers.hades.local.';
  s.names.set(t, [
    rec(t, 0, '10.4.0.1'),
    rec(t, 1, '10.4.0.2', { priority: 10, weight: 3 }),
    rec(t, 2, '10.4.0.3', { priority: 20 }),
    rec(t, 3, '10.4.0.4', { priority: 5 }), // DOWN: the tier below is the answer
    rec(t, 4, '2001:db8:4::1', { priority: 20 }),
    rec(t, 5, '2001:db8:4::2', { priority: 30 }),
  ]);
  s.states.set('10.4.0.4', 'DOWN');
  const z = 'zoned.hades.local.';
  s.names.set(z, [
    rec(z, 0, '10.5.0.1', { zone: 'a' }),
    rec(z, 1, '10.5.0.2', { zone: 'a' }),
    rec(z, 2, '10.5.0.3', { zone: 'b' }),
    rec(z, 3, '10.5.0.4'),
    rec(z, 4, '10.5.0.5', { zone: 'c', priority: 20 }), // a backup tier: zone c never wins
    rec(z, 5, '2001:db8:5::1', { zone: 'b' }),
    rec(z, 6, '2001:db8:5::2', { zone: 'a' }),
  ]);
  s.topology = topology({
    a: ['192.0.2.0/26'],
    b: ['192.0.2.64/26', '198.51.100.0/24'],
    c: ['192.0.2.128/26'],
  });
  return s;
}

const QUESTIONS: [string, number][] = [
  ['pool.hades.local', RRType.A],
  ['POOL.Hades.local', RRType.A],
  ['pool.hades.local', RRType.AAAA],
  ['one.hades.local', RRType.A],
  ['one.hades.local', RRType.AAAA], // NODATA
  ['alias.hades.local', RRType.A], // CNAME, then the pool
  ['all.hades.local', RRType.A],
  ['sub.hades.local', RRType.A], // aggregation from below
  ['missing.hades.local', RRType.A], // NXDOMAIN
  ['hades.local', RRType.A], // apex
  ['tiers.hades.local', RRType.A],
  ['tiers.hades.local', RRType.AAAA],
  ['zoned.hades.local', RRType.A],
  ['zoned.hades.local', RRType.AAAA],
];

function ask(h: DnsHandler, name: string, type: number, address: string, id = 7): string {
  const w = new ResponseWriter();
  const req = encodeQuery({ id, name, type, edns: { udpSize: 1232 } });
  const client: ClientInfo = { address, port: 5353, family: 4, transport: 'udp' };
  const n = h.handle(req, req.length, client, w, 512);
  return w.buf.subarray(0, n).toString('hex');
}

function handler(source: AnswerSource, select: SelectPolicy): DnsHandler {
  return new DnsHandler({ catalog: source, zones: ['hades.local.'], select, seed: 42 });
}

describe('AddressAnswers', () => {
  for (const policy of ['sticky', 'random-one', 'all'] as const) {
    it(`${policy}: the same replies as the general path, for many clients and names`, () => {
      const fast = world();
      const slow = world();
      slow.recordGeneration = undefined; // no generations: the general path
      const hf = handler(fast, policy);
      const hs = handler(slow, policy);
      for (let c = 0; c < 50; c++) {
        // zones a, b, c and none (192.0.2.192/26)
        const address = `192.0.2.${c * 5}`;
        for (const [name, type] of QUESTIONS)
          for (let r = 0; r < 3; r++)
            assert.equal(
              ask(hf, name, type, address),
              ask(hs, name, type, address),
              `${name} ${type} ${address}`,
            );
      }
      assert.ok(fast.lookups < slow.lookups, 'repeated questions skip the lookup');
    });
  }

  it('a record change reaches the next answer (record generation)', () => {
    const s = world();
    const h = handler(s, 'all');
    const a = () => decode(Buffer.from(ask(h, 'one.hades.local', RRType.A, '192.0.2.1'), 'hex')).answers;
    assert.deepEqual(
      a().map((r) => r.data),
      ['10.1.0.1'],
    );
    s.names.set('one.hades.local.', [rec('one.hades.local.', 0, '10.1.0.9')]);
    assert.deepEqual(
      a().map((r) => r.data),
      ['10.1.0.1'],
      'same generation: the kept answer (the catalog always moves it on a change)',
    );
    s.recordGeneration = 2;
    assert.deepEqual(
      a().map((r) => r.data),
      ['10.1.0.9'],
    );
    s.names.delete('one.hades.local.');
    s.recordGeneration = 3;
    assert.equal(decode(Buffer.from(ask(h, 'one.hades.local', RRType.A, '192.0.2.1'), 'hex')).rcode, 3);
  });

  it('health: DOWN leaves an address out, all DOWN serves all and counts each answer', () => {
    const s = world();
    const h = handler(s, 'all');
    const a = () =>
      decode(Buffer.from(ask(h, 'all.hades.local', RRType.A, '192.0.2.1'), 'hex'))
        .answers.map((r) => r.data as string)
        .sort();
    assert.deepEqual(a(), ['10.2.0.1', '10.2.0.2', '10.2.0.3']);
    s.states.set('10.2.0.2', 'DOWN');
    s.healthGeneration = 2;
    assert.deepEqual(a(), ['10.2.0.1', '10.2.0.3']);
    s.states.set('10.2.0.1', 'DOWN');
    s.states.set('10.2.0.3', 'DOWN');
    s.healthGeneration = 3;
    assert.equal(h.stats.failOpen, 0);
    assert.deepEqual(a(), ['10.2.0.1', '10.2.0.2', '10.2.0.3']);
    assert.deepEqual(a(), ['10.2.0.1', '10.2.0.2', '10.2.0.3']);
    assert.equal(h.stats.failOpen, 2, 'fail-open is counted per answer, as the general path does');
    s.states.set('10.2.0.2', 'UP');
    s.healthGeneration = 4;
    assert.deepEqual(a(), ['10.2.0.2']);
  });

  for (const policy of ['sticky', 'random-one', 'all'] as const) {
    it(`${policy}: drain leaves an address out even when the rest are DOWN; all drained → NODATA`, () => {
      for (const generations of [true, false]) {
        const s = world();
        if (!generations) s.recordGeneration = undefined; // the general path
        const h = handler(s, policy);
        const answers = (c: number) => {
          const m = decode(Buffer.from(ask(h, 'pool.hades.local', RRType.A, `192.0.2.${c}`), 'hex'));
          return { rcode: m.rcode, ips: m.answers.map((r) => r.data as string) };
        };
        const seen = () => {
          const all = new Set<string>();
          for (let c = 0; c < 40; c++) for (const ip of answers(c).ips) all.add(ip);
          return [...all].sort();
        };
        const where = `${policy} ${generations ? 'kept answers' : 'general path'}`;
        assert.deepEqual(seen(), ['10.0.0.1', '10.0.0.2', '10.0.0.3'], where);
        s.drains.add('10.0.0.2');
        s.healthGeneration = 2;
        assert.deepEqual(seen(), ['10.0.0.1', '10.0.0.3'], `${where}: drained UP`);
        s.states.set('10.0.0.1', 'DOWN');
        s.states.set('10.0.0.3', 'DOWN');
        s.healthGeneration = 3;
        assert.deepEqual(seen(), ['10.0.0.1', '10.0.0.3'], `${where}: fail-open without the drained one`);
        s.drains.add('10.0.0.1');
        s.drains.add('10.0.0.3');
        s.healthGeneration = 4;
        for (let c = 0; c < 5; c++)
          assert.deepEqual(answers(c), { rcode: 0, ips: [] }, `${where}: all drained`);
        // AAAA of the same name is untouched
        const six = decode(Buffer.from(ask(h, 'pool.hades.local', RRType.AAAA, '192.0.2.1'), 'hex'));
        assert.ok(six.answers.length >= 1, where);
        s.drains.clear();
        s.healthGeneration = 5;
        assert.deepEqual(
          seen(),
          ['10.0.0.1', '10.0.0.2', '10.0.0.3'].filter((ip) => s.states.get(ip) !== 'DOWN'),
          `${where}: undrained`,
        );
      }
    });
  }
});

/**
 * All down, table-driven: the server's -all-down × the name's `alldown` (on its lowest-key
 * record, or absent) × the health of its addresses × A and AAAA × every policy, on the kept
 * per-name answers and on the general path alike.
 */
describe('all down: open and closed', () => {
  const V4 = ['10.9.0.1', '10.9.0.2', '10.9.0.3'];
  const V6 = ['2001:db8:9::1', '2001:db8:9::2', '2001:db8:9::3'];
  type Scene = { what: string; down: number[]; drained: number[]; served: number[]; allDown: boolean };
  const SCENES: Scene[] = [
    { what: 'all DOWN', down: [0, 1, 2], drained: [], served: [0, 1, 2], allDown: true },
    { what: 'some DOWN', down: [0], drained: [], served: [1, 2], allDown: false },
    { what: 'all drained', down: [1], drained: [0, 1, 2], served: [], allDown: false },
    { what: 'drained + rest DOWN', down: [1, 2], drained: [0], served: [1, 2], allDown: true },
  ];

  function source(override: 'open' | 'closed' | undefined, scene: Scene): FakeSource {
    const s = new FakeSource();
    const name = 't.hades.local.';
    const extra = override === undefined ? {} : { alldown: override };
    const rs = [...V4, ...V6].map((ip, i) => rec(name, i + 1, ip));
    // the override on the lowest key, carried by a TXT record: any record of the name decides
    rs.unshift(rec(name, 0, '', { hostKind: 'none', text: 'x', ...extra }));
    // a higher key saying the opposite never decides
    if (override !== undefined)
      rs.push(rec(name, 9, '', { hostKind: 'none', alldown: override === 'open' ? 'closed' : 'open' }));
    s.names.set(name, rs);
    s.names.set('via.hades.local.', [rec('via.hades.local.', 0, 't.hades.local.')]);
    for (const i of scene.down) {
      s.states.set(V4[i], 'DOWN');
      s.states.set(V6[i], 'DOWN');
    }
    for (const i of scene.drained) {
      s.drains.add(V4[i]);
      s.drains.add(V6[i]);
    }
    return s;
  }

  for (const flag of ['open', 'closed'] as const)
    for (const override of ['open', 'closed', undefined] as const)
      for (const scene of SCENES)
        it(`-all-down ${flag}, alldown ${override ?? 'absent'}, ${scene.what}`, () => {
          const closed = (override ?? flag) === 'closed' && scene.allDown;
          for (const policy of ['sticky', 'random-one', 'all'] as const)
            for (const generations of [true, false])
              for (const [type, ips] of [
                [RRType.A, V4],
                [RRType.AAAA, V6],
              ] as const)
                for (const qname of ['t.hades.local', 'via.hades.local']) {
                  const s = source(override, scene);
                  if (!generations) s.recordGeneration = undefined;
                  const h = new DnsHandler({
                    catalog: s,
                    zones: ['hades.local.'],
                    select: policy,
                    allDown: flag,
                    seed: 1,
                  });
                  const where = `${policy} ${generations ? 'kept' : 'general'} ${type} ${qname}`;
                  for (let c = 0; c < 4; c++) {
                    const m = decode(Buffer.from(ask(h, qname, type, `192.0.2.${c}`), 'hex'));
                    const got = m.answers.filter((r) => r.type === type).map((r) => r.data as string);
                    if (closed) {
                      assert.equal(m.rcode, 2, `${where}: SERVFAIL`);
                      assert.equal(m.answers.length, 0, `${where}: no records, not even the CNAME`);
                      assert.equal(m.authorities.length, 0, where);
                      continue;
                    }
                    assert.equal(m.rcode, 0, where);
                    const want = scene.served.map((i) => ips[i]);
                    if (want.length === 0 || policy !== 'all') {
                      assert.equal(got.length, Math.min(1, want.length), where);
                      for (const ip of got) assert.ok(want.includes(ip), `${where}: ${ip}`);
                    } else assert.deepEqual(got.sort(), want, where);
                  }
                  const asked = 4;
                  assert.equal(
                    h.stats.allDownClosed,
                    closed ? asked : 0,
                    `${where}: closed counted per answer`,
                  );
                  assert.equal(
                    h.stats.failOpen,
                    scene.allDown && !closed ? asked : 0,
                    `${where}: fail-open counted per answer`,
                  );
                }
        });

  it('SRV and MX: closed withholds the DOWN addresses; nothing else left → SERVFAIL; name targets stay', () => {
    for (const generations of [true, false]) {
      const s = new FakeSource();
      if (!generations) s.recordGeneration = undefined;
      const n = '_x._tcp.s.hades.local.';
      s.names.set(n, [
        rec(n, 0, '10.8.0.1', { port: 80, mail: true, alldown: 'closed' }),
        rec(n, 1, '10.8.0.2', { port: 80, mail: true }),
      ]);
      const m2 = 'm.hades.local.';
      s.names.set(m2, [
        rec(m2, 0, '10.8.1.1', { port: 80, mail: true, alldown: 'closed' }),
        rec(m2, 1, 'mail.example.', { port: 25, mail: true }),
      ]);
      for (const ip of ['10.8.0.1', '10.8.0.2', '10.8.1.1']) s.states.set(ip, 'DOWN');
      const h = handler(s, 'all');
      for (const type of [RRType.SRV, RRType.MX]) {
        const m = decode(Buffer.from(ask(h, '_x._tcp.s.hades.local', type, '192.0.2.1'), 'hex'));
        assert.equal(m.rcode, 2, `${type}: SERVFAIL`);
        assert.equal(m.answers.length + m.additionals.filter((r) => r.type !== RRType.OPT).length, 0);
        const k = decode(Buffer.from(ask(h, 'm.hades.local', type, '192.0.2.1'), 'hex'));
        assert.equal(k.rcode, 0, `${type}: the name target is answered`);
        assert.equal(k.answers.length, 1, `${type}: only the name target`);
        assert.equal(
          k.additionals.filter((r) => r.type === RRType.A).length,
          0,
          'no glue of a withheld address',
        );
      }
      assert.equal(h.stats.allDownClosed, 4);
      assert.equal(h.stats.failOpen, 0);
      // open (the server's default, no override): fail-open as before
      s.names.set(n, [
        rec(n, 0, '10.8.0.1', { port: 80, mail: true }),
        rec(n, 1, '10.8.0.2', { port: 80, mail: true }),
      ]);
      s.recordGeneration = s.recordGeneration === undefined ? undefined : 2;
      const o = decode(Buffer.from(ask(h, '_x._tcp.s.hades.local', RRType.SRV, '192.0.2.1'), 'hex'));
      assert.equal(o.rcode, 0);
      // both records own the same name and port: one SRV, its DOWN addresses as glue
      assert.equal(o.answers.length, 1);
      assert.ok(o.additionals.some((r) => r.type === RRType.A && r.data === '10.8.0.1'));
    }
  });

  it('glue stays fail-open whatever the target name says', () => {
    const s = new FakeSource();
    const n = '_y._tcp.g.hades.local.';
    s.names.set(n, [rec(n, 0, 'gt.hades.local.', { port: 80 })]);
    s.names.set('gt.hades.local.', [rec('gt.hades.local.', 0, '10.7.0.1', { alldown: 'closed' })]);
    s.states.set('10.7.0.1', 'DOWN');
    const h = new DnsHandler({ catalog: s, zones: ['hades.local.'], allDown: 'closed', seed: 1 });
    const m = decode(Buffer.from(ask(h, '_y._tcp.g.hades.local', RRType.SRV, '192.0.2.1'), 'hex'));
    assert.equal(m.rcode, 0);
    assert.deepEqual(
      m.additionals.filter((r) => r.type === RRType.A).map((r) => r.data),
      ['10.7.0.1'],
    );
    const a = decode(Buffer.from(ask(h, 'gt.hades.local', RRType.A, '192.0.2.1'), 'hex'));
    assert.equal(a.rcode, 2, 'the target itself is closed');
  });

  it('a bad allDown option throws naming it', () => {
    assert.throws(
      () => new DnsHandler({ catalog: new FakeSource(), zones: ['hades.local.'], allDown: 'shut' as 'open' }),
      /allDown must be one of open, closed/,
    );
  });
});

/**
 * Tiers and locality, table-driven: which addresses a client may get (the union over many
 * clients of one zone must be exactly the candidates; under `all` each answer is them), on the
 * kept per-name answers and on the general path alike.
 */
describe('tiers and locality', () => {
  type Spec = [ip: string, extra?: Partial<Record>];
  interface Case {
    what: string;
    recs: Spec[];
    down?: string[];
    drained?: string[];
    policy?: SelectPolicy;
    allDown?: 'open' | 'closed';
    /** Client source addresses (all in one zone, or none); `ecs` with trustEcs. */
    clients: string[];
    ecs?: string;
    trustEcs?: boolean;
    /** The candidates, or 'SERVFAIL'. */
    want: string[] | 'SERVFAIL';
  }
  const inA = Array.from({ length: 24 }, (_, i) => `10.1.0.${i + 1}`);
  const inB = Array.from({ length: 24 }, (_, i) => `10.2.0.${i + 1}`);
  const nowhere = Array.from({ length: 24 }, (_, i) => `10.9.0.${i + 1}`);
  const inA6 = Array.from({ length: 24 }, (_, i) => `fd00:a::${(i + 1).toString(16)}`);
  const TOPO = { a: ['10.1.0.0/16', 'fd00:a::/32'], b: ['10.2.0.0/16', 'fd00:b::/32'] };
  const ZONED: Spec[] = [
    ['10.0.0.1', { zone: 'a' }],
    ['10.0.0.2', { zone: 'a' }],
    ['10.0.0.3', { zone: 'b' }],
    ['10.0.0.4'],
  ];
  const CASES: Case[] = [
    {
      what: 'the lowest tier with a healthy address',
      recs: [
        ['10.0.0.1', { priority: 10 }],
        ['10.0.0.2', { priority: 10 }],
        ['10.0.0.3', { priority: 20 }],
      ],
      clients: nowhere,
      want: ['10.0.0.1', '10.0.0.2'],
    },
    {
      what: 'a tier all DOWN: the next one',
      recs: [
        ['10.0.0.1', { priority: 10 }],
        ['10.0.0.2', { priority: 10 }],
        ['10.0.0.3', { priority: 20 }],
      ],
      down: ['10.0.0.1', '10.0.0.2'],
      clients: nowhere,
      want: ['10.0.0.3'],
    },
    {
      what: 'no priority and 0 are tier 10',
      recs: [
        ['10.0.0.1'],
        ['10.0.0.2', { priority: 10 }],
        ['10.0.0.3', { priority: 0 }],
        ['10.0.0.4', { priority: 11 }],
      ],
      clients: nowhere,
      want: ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
    },
    {
      what: 'a priority below 10 beats the unset ones',
      recs: [['10.0.0.1'], ['10.0.0.2', { priority: 5 }]],
      clients: nowhere,
      want: ['10.0.0.2'],
    },
    {
      what: 'a drained address does not hold its tier',
      recs: [
        ['10.0.0.1', { priority: 5 }],
        ['10.0.0.2', { priority: 10 }],
      ],
      drained: ['10.0.0.1'],
      clients: nowhere,
      want: ['10.0.0.2'],
    },
    {
      what: 'all ignores tiers (CoreDNS)',
      recs: [
        ['10.0.0.1', { priority: 10 }],
        ['10.0.0.2', { priority: 20 }],
      ],
      policy: 'all',
      clients: nowhere,
      want: ['10.0.0.1', '10.0.0.2'],
    },
    {
      what: 'random-one keeps to the tier',
      recs: [
        ['10.0.0.1', { priority: 10 }],
        ['10.0.0.2', { priority: 20 }],
        ['10.0.0.3', { priority: 10 }],
      ],
      policy: 'random-one',
      clients: nowhere,
      want: ['10.0.0.1', '10.0.0.3'],
    },
    {
      what: 'everything DOWN, open: the lowest tier, fail-open',
      recs: [
        ['10.0.0.1', { priority: 10 }],
        ['10.0.0.2', { priority: 20 }],
      ],
      down: ['10.0.0.1', '10.0.0.2'],
      clients: nowhere,
      want: ['10.0.0.1'],
    },
    {
      what: 'everything DOWN, closed: SERVFAIL',
      recs: [
        ['10.0.0.1', { priority: 10 }],
        ['10.0.0.2', { priority: 20 }],
      ],
      down: ['10.0.0.1', '10.0.0.2'],
      allDown: 'closed',
      clients: nowhere,
      want: 'SERVFAIL',
    },
    { what: 'a client of zone a: its zone', recs: ZONED, clients: inA, want: ['10.0.0.1', '10.0.0.2'] },
    { what: 'a client of zone b: its zone', recs: ZONED, clients: inB, want: ['10.0.0.3'] },
    {
      what: 'a client without a zone: the whole tier',
      recs: ZONED,
      clients: nowhere,
      want: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'],
    },
    {
      what: 'its zone all DOWN: the whole tier (healthy)',
      recs: ZONED,
      down: ['10.0.0.1', '10.0.0.2'],
      clients: inA,
      want: ['10.0.0.3', '10.0.0.4'],
    },
    {
      what: 'its zone drained in part: the rest of its zone',
      recs: ZONED,
      drained: ['10.0.0.1'],
      clients: inA,
      want: ['10.0.0.2'],
    },
    {
      what: 'a zone in a backup tier does not pull its clients',
      recs: [['10.0.0.1', { zone: 'a', priority: 20 }], ['10.0.0.2', { zone: 'b' }], ['10.0.0.3']],
      clients: inA,
      want: ['10.0.0.2', '10.0.0.3'],
    },
    {
      what: 'the tier first, then the zone within it',
      recs: [
        ['10.0.0.1', { zone: 'a', priority: 20 }],
        ['10.0.0.2', { zone: 'b', priority: 10 }],
        ['10.0.0.3', { zone: 'a', priority: 10 }],
      ],
      down: ['10.0.0.2'],
      clients: inB,
      want: ['10.0.0.3'],
    },
    {
      what: 'all: locality applies',
      recs: ZONED,
      policy: 'all',
      clients: inA,
      want: ['10.0.0.1', '10.0.0.2'],
    },
    {
      what: 'random-one: locality applies',
      recs: ZONED,
      policy: 'random-one',
      clients: inA,
      want: ['10.0.0.1', '10.0.0.2'],
    },
    {
      what: 'IPv6: a client of zone a gets zone a AAAA',
      recs: [
        ['fd00::1', { zone: 'a' }],
        ['fd00::2', { zone: 'b' }],
        ['fd00::3', { zone: 'a', priority: 20 }],
      ],
      clients: inA6,
      want: ['fd00::1'],
    },
    {
      what: 'IPv6 client, IPv4 answer: its zone still decides',
      recs: ZONED,
      clients: inA6,
      want: ['10.0.0.1', '10.0.0.2'],
    },
    {
      what: 'ECS trusted: the subnet decides the zone, not the resolver',
      recs: ZONED,
      clients: inA,
      ecs: '10.2.3.0/24',
      trustEcs: true,
      want: ['10.0.0.3'],
    },
    {
      what: 'ECS not trusted: the resolver decides',
      recs: ZONED,
      clients: inA,
      ecs: '10.2.3.0/24',
      want: ['10.0.0.1', '10.0.0.2'],
    },
    {
      what: 'ECS /0: the source address decides',
      recs: ZONED,
      clients: inB,
      ecs: '10.1.0.0/0',
      trustEcs: true,
      want: ['10.0.0.3'],
    },
    {
      what: 'ECS shorter than every zone CIDR: no zone',
      recs: ZONED,
      policy: 'all', // one subnet is one sticky identity: all shows the candidates
      clients: inA,
      ecs: '10.0.0.0/8',
      trustEcs: true,
      want: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'],
    },
  ];

  function sourceOf(c: Case): FakeSource {
    const s = new FakeSource();
    const n = 'svc.hades.local.';
    s.names.set(
      n,
      c.recs.map(([ip, extra], i) => rec(n, i, ip, extra)),
    );
    for (const ip of c.down ?? []) s.states.set(ip, 'DOWN');
    for (const ip of c.drained ?? []) s.drains.add(ip);
    s.topology = topology(TOPO);
    return s;
  }

  function askFrom(
    h: DnsHandler,
    type: number,
    address: string,
    ecs?: string,
  ): { rcode: number; ips: string[] } {
    const w = new ResponseWriter();
    const [ea, ep] = (ecs ?? '').split('/');
    const req = encodeQuery({
      id: 9,
      name: 'svc.hades.local',
      type,
      edns: { udpSize: 1232, ecs: ecs === undefined ? null : { address: ea, sourcePrefix: Number(ep) } },
    });
    const client: ClientInfo = {
      address,
      port: 5353,
      family: address.includes(':') ? 6 : 4,
      transport: 'udp',
    };
    const m = decode(w.buf.subarray(0, h.handle(req, req.length, client, w, 1232)));
    return { rcode: m.rcode, ips: m.answers.map((r) => r.data as string) };
  }

  for (const c of CASES)
    it(c.what, () => {
      for (const generations of [true, false]) {
        const s = sourceOf(c);
        if (!generations) s.recordGeneration = undefined;
        const policy = c.policy ?? 'sticky';
        const h = new DnsHandler({
          catalog: s,
          zones: ['hades.local.'],
          select: policy,
          allDown: c.allDown,
          trustEcs: c.trustEcs,
          seed: 3,
        });
        const type = c.recs[0][0].includes(':') ? RRType.AAAA : RRType.A;
        const where = `${generations ? 'kept' : 'general'}`;
        const seen = new Set<string>();
        for (const address of c.clients)
          for (let r = 0; r < 3; r++) {
            const got = askFrom(h, type, address, c.ecs);
            if (c.want === 'SERVFAIL') {
              assert.equal(got.rcode, 2, where);
              continue;
            }
            assert.equal(got.rcode, 0, where);
            if (policy === 'all') assert.deepEqual(got.ips.sort(), c.want, `${where} ${address}`);
            else assert.equal(got.ips.length, 1, where);
            for (const ip of got.ips) seen.add(ip);
          }
        if (c.want !== 'SERVFAIL') assert.deepEqual([...seen].sort(), c.want, `${where}: the candidates`);
      }
    });

  it('weights apply within the tier (sticky: shares over many clients)', () => {
    const s = sourceOf({
      what: '',
      recs: [
        ['10.0.0.1', { weight: 1 }],
        ['10.0.0.2', { weight: 3 }],
        ['10.0.0.3', { priority: 20, weight: 100 }],
      ],
      clients: [],
      want: [],
    });
    const h = new DnsHandler({ catalog: s, zones: ['hades.local.'], seed: 3 });
    const count = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const ip = askFrom(h, RRType.A, `10.${9 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`).ips[0];
      count.set(ip, (count.get(ip) ?? 0) + 1);
    }
    assert.equal(count.get('10.0.0.3'), undefined, 'the backup tier is never chosen');
    const share = (count.get('10.0.0.2') ?? 0) / 4000;
    assert.ok(share > 0.7 && share < 0.8, `weight 3 of 4: ${share}`);
  });
});
