import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mulberry32 } from '../../test/lib/prng.js';
import { toRecord } from '../records/record.js';
import type { Record } from '../records/types.js';
import { RecordIndex } from './record-index.js';

let rev = 1;
function rec(key: string, value: object = {}, prefix = '/hades'): Record {
  return toRecord({ key, value: JSON.stringify(value), modRevision: rev++ }, prefix);
}

const DATA: [string, object][] = [
  ['/hades/local/hades/user/cctv1/a1', { host: '10.0.0.1' }],
  ['/hades/local/hades/user/cctv1/a2', { host: '10.0.0.2' }],
  ['/hades/local/hades/user/cctv2/b1', { host: '10.0.1.1' }],
  ['/hades/local/hades/svc/ns1/web/c1', { host: '10.1.0.1' }],
  ['/hades/local/hades/svc/ns2/web/c2', { host: '10.2.0.1' }],
  ['/hades/local/hades/svc/ns2/db/c3', { host: '10.2.0.2' }],
  // A record at a node that also has children.
  ['/hades/local/hades/exact', { host: '10.9.9.9' }],
  ['/hades/local/hades/exact/sub/x', { host: '10.9.9.10' }],
  // A record stored under a literal `*` label: not a wildcard for queries.
  ['/hades/local/hades/star/*', { host: '10.7.7.7' }],
  // Groups: the shortest keys agree on g1.
  ['/hades/local/hades/grp/x', { host: '10.3.0.1', group: 'g1' }],
  ['/hades/local/hades/grp/y', { host: '10.3.0.2', group: 'g1' }],
  ['/hades/local/hades/grp/sub/z', { host: '10.3.0.3', group: 'g2' }],
  ['/hades/local/hades/grp/sub/w', { host: '10.3.0.4' }],
  ['/hades/local/hades/grp/sub/v', { host: '10.3.0.5', group: 'g1' }],
  // Groups: the shortest keys disagree.
  ['/hades/local/hades/conflict/a', { host: '10.4.0.1', group: 'g1' }],
  ['/hades/local/hades/conflict/b', { host: '10.4.0.2', group: 'g2' }],
  ['/hades/local/hades/conflict/sub/c', { host: '10.4.0.3', group: 'g3' }],
  // Groups: the shortest level mixes a group and no group.
  ['/hades/local/hades/mixed/a', { host: '10.5.0.1', group: 'g1' }],
  ['/hades/local/hades/mixed/b', { host: '10.5.0.2' }],
  ['/hades/local/hades/mixed/sub/c', { host: '10.5.0.3', group: 'g2' }],
  // Reverse (PTR) records.
  ['/hades/arpa/in-addr/10/0/0/1', { host: 'cctv1.user.hades.local' }],
  ['/hades/arpa/in-addr/10/0/0/2', { host: 'cctv1.user.hades.local' }],
  ['/hades/arpa/ip6/1/0/0/0', { host: 'v6.hades.local' }],
  // Keys in other case and with empty segments land on the same nodes as their lower-case form.
  ['/hades/local/hades/Case/One', { host: '10.6.0.1' }],
  ['/hades/local/hades/case/one', { host: '10.6.0.2' }],
  ['/hades/local/hades//trail/', { host: '10.6.0.3' }],
  // Labels a query treats as wildcards, stored literally.
  ['/hades/local/hades/any/k', { host: '10.8.0.1' }],
];

function build(): RecordIndex {
  const idx = new RecordIndex('/hades');
  for (const [k, v] of DATA) idx.set(rec(k, v));
  return idx;
}

const U = '/hades/local/hades/';
function keysOf(out: Record[]): string[] {
  return out.map((r) => r.key).sort();
}

describe('RecordIndex.lookup', () => {
  const idx = build();
  const cases: [string, string[]][] = [
    // exact and subtree aggregation
    ['a1.cctv1.user.hades.local.', ['user/cctv1/a1']],
    ['cctv1.user.hades.local.', ['user/cctv1/a1', 'user/cctv1/a2']],
    ['CCTV1.User.Hades.LOCAL', ['user/cctv1/a1', 'user/cctv1/a2']],
    ['user.hades.local.', ['user/cctv1/a1', 'user/cctv1/a2', 'user/cctv2/b1']],
    ['exact.hades.local.', ['exact', 'exact/sub/x']],
    ['sub.exact.hades.local.', ['exact/sub/x']],
    ['nope.hades.local.', []],
    ['a3.cctv1.user.hades.local.', []],
    ['x.a1.cctv1.user.hades.local.', []],
    // wildcards: `*` and `any` match exactly one label, at any position, then aggregate below
    ['*.user.hades.local.', ['user/cctv1/a1', 'user/cctv1/a2', 'user/cctv2/b1']],
    ['any.user.hades.local.', ['user/cctv1/a1', 'user/cctv1/a2', 'user/cctv2/b1']],
    ['ANY.user.hades.local.', ['user/cctv1/a1', 'user/cctv1/a2', 'user/cctv2/b1']],
    ['a1.*.user.hades.local.', ['user/cctv1/a1']],
    ['*.*.user.hades.local.', ['user/cctv1/a1', 'user/cctv1/a2', 'user/cctv2/b1']],
    ['web.*.svc.hades.local.', ['svc/ns1/web/c1', 'svc/ns2/web/c2']],
    ['*.*.svc.hades.local.', ['svc/ns1/web/c1', 'svc/ns2/db/c3', 'svc/ns2/web/c2']],
    ['web.ns1.svc.*.local.', ['svc/ns1/web/c1']],
    ['web.ns1.*.any.local.', ['svc/ns1/web/c1']],
    ['*.a1.cctv1.user.hades.local.', []],
    ['*.nope.hades.local.', []],
    // a stored `*` label is literal: only a query wildcard (or aggregation) reaches it
    ['foo.star.hades.local.', []],
    ['*.star.hades.local.', ['star/*']],
    ['star.hades.local.', ['star/*']],
    // a query label `any` is a wildcard even where a literal `any` label is stored
    ['k.any.hades.local.', ['any/k']],
    // groups (CoreDNS msg.Group)
    ['grp.hades.local.', ['grp/sub/v', 'grp/sub/w', 'grp/x', 'grp/y']],
    ['sub.grp.hades.local.', ['grp/sub/v', 'grp/sub/w', 'grp/sub/z']],
    ['z.sub.grp.hades.local.', ['grp/sub/z']],
    ['conflict.hades.local.', ['conflict/a', 'conflict/b', 'conflict/sub/c']],
    ['mixed.hades.local.', ['mixed/a', 'mixed/b']],
    // case and empty segments in keys
    ['one.case.hades.local.', ['Case/One', 'case/one']],
    ['trail.hades.local.', ['/trail/']],
  ];
  for (const [name, want] of cases) {
    test(`${name} → ${want.length} record(s)`, () => {
      const out: Record[] = [];
      const n = idx.lookup(name, out);
      assert.equal(n, out.length);
      assert.deepEqual(keysOf(out), want.map((k) => U + k).sort());
    });
  }

  const reverse: [string, string[]][] = [
    ['1.0.0.10.in-addr.arpa.', ['/hades/arpa/in-addr/10/0/0/1']],
    ['0.0.10.in-addr.arpa.', ['/hades/arpa/in-addr/10/0/0/1', '/hades/arpa/in-addr/10/0/0/2']],
    ['3.0.0.10.in-addr.arpa.', []],
    ['*.0.0.10.in-addr.arpa.', ['/hades/arpa/in-addr/10/0/0/1', '/hades/arpa/in-addr/10/0/0/2']],
    ['0.0.0.1.ip6.arpa.', ['/hades/arpa/ip6/1/0/0/0']],
  ];
  for (const [name, want] of reverse) {
    test(`reverse ${name}`, () => {
      const out: Record[] = [];
      idx.lookup(name, out);
      assert.deepEqual(keysOf(out), want);
    });
  }

  test('the root name and the empty name return everything (no group at the top)', () => {
    const out: Record[] = [];
    assert.equal(idx.lookup('.', out), DATA.length);
    assert.equal(idx.lookup('', out), DATA.length);
  });

  test('out is cleared and reused', () => {
    const out: Record[] = [rec('/hades/x/y')];
    assert.equal(idx.lookup('cctv2.user.hades.local', out), 1);
    assert.equal(out.length, 1);
    assert.equal(out[0].key, `${U}user/cctv2/b1`);
    assert.equal(idx.lookup('nope.local', out), 0);
    assert.equal(out.length, 0);
  });
});

describe('RecordIndex.lookupExact', () => {
  const idx = build();
  const cases: [string, string[]][] = [
    ['exact.hades.local.', ['exact']],
    ['cctv1.user.hades.local.', []],
    ['a1.cctv1.user.hades.local', ['user/cctv1/a1']],
    ['a1.*.user.hades.local.', ['user/cctv1/a1']],
    ['*.cctv1.user.hades.local.', ['user/cctv1/a1', 'user/cctv1/a2']],
    // no group rule on exact lookups
    ['x.grp.hades.local.', ['grp/x']],
  ];
  for (const [name, want] of cases) {
    test(name, () => {
      const out: Record[] = [];
      idx.lookupExact(name, out);
      assert.deepEqual(keysOf(out), want.map((k) => U + k).sort());
    });
  }
});

describe('RecordIndex.has (NXDOMAIN vs NODATA)', () => {
  const idx = build();
  const cases: [string, boolean][] = [
    ['a1.cctv1.user.hades.local.', true],
    ['cctv1.user.hades.local.', true],
    // empty non-terminals exist
    ['user.hades.local.', true],
    ['hades.local.', true],
    ['local.', true],
    ['sub.grp.hades.local.', true],
    ['.', true],
    ['nope.hades.local.', false],
    ['a3.cctv1.user.hades.local.', false],
    ['x.a1.cctv1.user.hades.local.', false],
    ['*.user.hades.local.', true],
    ['a1.*.user.hades.local.', true],
    ['a9.*.user.hades.local.', false],
    ['*.a1.cctv1.user.hades.local.', false],
    ['x.star.hades.local.', false],
    ['*.star.hades.local.', true],
    ['1.0.0.10.in-addr.arpa.', true],
    ['in-addr.arpa.', true],
    ['9.0.0.10.in-addr.arpa.', false],
  ];
  for (const [name, want] of cases) {
    test(`${name} ${want ? 'exists' : 'does not exist'}`, () => {
      assert.equal(idx.has(name), want);
    });
  }
  test('an empty index has nothing, not even the root', () => {
    const empty = new RecordIndex();
    assert.equal(empty.has('local.'), false);
    assert.equal(empty.has('.'), true);
    assert.equal(empty.lookup('.', []), 0);
  });
});

describe('RecordIndex set/remove', () => {
  test('set replaces a key, remove prunes empty nodes up to the first non-empty one', () => {
    const idx = build();
    const n = idx.size;
    assert.equal(n, DATA.length);
    assert.equal(idx.set(rec(`${U}user/cctv1/a1`, { host: '10.0.0.99' })), false);
    assert.equal(idx.size, n);
    assert.equal(idx.get(`${U}user/cctv1/a1`)?.target, '10.0.0.99');

    assert.equal(idx.remove(`${U}user/cctv1/a1`), true);
    assert.equal(idx.remove(`${U}user/cctv1/a1`), false);
    assert.equal(idx.has('a1.cctv1.user.hades.local.'), false);
    assert.equal(idx.has('cctv1.user.hades.local.'), true);
    assert.equal(idx.remove(`${U}user/cctv1/a2`), true);
    assert.equal(idx.has('cctv1.user.hades.local.'), false);
    assert.equal(idx.node('cctv1.user.hades.local.'), undefined);
    assert.equal(idx.has('user.hades.local.'), true);
    assert.equal(idx.remove(`${U}user/cctv2/b1`), true);
    assert.equal(idx.node('user.hades.local.'), undefined);
    assert.equal(idx.has('hades.local.'), true);
    assert.equal(idx.size, n - 3);

    // A node with its own record keeps it when its children go, and vice versa.
    assert.equal(idx.remove(`${U}exact/sub/x`), true);
    assert.equal(idx.node('sub.exact.hades.local.'), undefined);
    assert.deepEqual(keysOf(collect(idx, 'exact.hades.local.')), [`${U}exact`]);
    idx.set(rec(`${U}exact/sub/x`));
    assert.equal(idx.remove(`${U}exact`), true);
    assert.deepEqual(keysOf(collect(idx, 'exact.hades.local.')), [`${U}exact/sub/x`]);
  });

  test('several keys on one node (case variants) are kept and removed one by one', () => {
    const idx = build();
    assert.equal(idx.remove(`${U}Case/One`), true);
    assert.deepEqual(keysOf(collect(idx, 'one.case.hades.local')), [`${U}case/one`]);
    assert.equal(idx.get(`${U}Case/One`), undefined);
    assert.equal(idx.get(`${U}case/one`)?.target, '10.6.0.2');
    assert.equal(idx.remove(`${U}Case/One`), false);
    assert.equal(idx.remove(`${U}case/one`), true);
    assert.equal(idx.has('case.hades.local'), false);
  });

  test('removing a key that is not there changes nothing', () => {
    const idx = build();
    const g = idx.generation('.');
    assert.equal(idx.remove(`${U}user/cctv1`), false);
    assert.equal(idx.remove(`${U}user/cctv1/zz`), false);
    assert.equal(idx.remove('/other/local'), false);
    assert.equal(idx.generation('.'), g);
    assert.equal(idx.size, DATA.length);
  });

  test('keys outside the prefix are refused; the prefix itself is the root', () => {
    const idx = new RecordIndex('hades/');
    assert.equal(idx.prefix, '/hades');
    assert.throws(() => idx.set(rec('/hadesx/local/a', {}, '/hadesx')), RangeError);
    idx.set(rec('/hades', { host: '10.0.0.1' }));
    assert.equal(idx.lookupExact('.', []), 1);
    assert.equal(idx.covers('/hades/local'), true);
    assert.equal(idx.covers('/hadesx/local'), false);
  });

  test('forEach visits every record once', () => {
    const idx = build();
    const seen: string[] = [];
    idx.forEach((r) => {
      seen.push(r.key);
    });
    assert.deepEqual(seen.sort(), DATA.map(([k]) => k).sort());
  });
});

describe('RecordIndex.generation', () => {
  test('bumps on changes at or below a name, not on siblings or elsewhere', () => {
    const idx = build();
    const names = [
      '.',
      'local.',
      'hades.local.',
      'user.hades.local.',
      'cctv1.user.hades.local.',
      'cctv2.user.hades.local.',
      'svc.hades.local.',
      'new.cctv1.user.hades.local.',
      '*.user.hades.local.',
      '0.0.10.in-addr.arpa.',
    ];
    const snap = (): Map<string, number> => new Map(names.map((n) => [n, idx.generation(n)]));
    const expectChanged = (before: Map<string, number>, changed: string[]): void => {
      const after = snap();
      for (const n of names) {
        if (changed.includes(n)) assert.notEqual(after.get(n), before.get(n), `${n} should have changed`);
        else assert.equal(after.get(n), before.get(n), `${n} should not have changed`);
      }
    };
    const above = ['.', 'local.', 'hades.local.', 'user.hades.local.', '*.user.hades.local.'];

    let before = snap();
    idx.set(rec(`${U}user/cctv1/a3`, { host: '10.0.0.3' }));
    // `new.cctv1...` does not exist: its generation is cctv1's, which changed.
    expectChanged(before, [...above, 'cctv1.user.hades.local.', 'new.cctv1.user.hades.local.']);

    before = snap();
    idx.set(rec(`${U}user/cctv2/b1`, { host: '10.0.1.9' }));
    expectChanged(before, [...above, 'cctv2.user.hades.local.']);

    before = snap();
    idx.set(rec(`${U}user/cctv1/new`, { host: '10.0.0.4' }));
    expectChanged(before, [...above, 'cctv1.user.hades.local.', 'new.cctv1.user.hades.local.']);

    before = snap();
    idx.remove(`${U}svc/ns1/web/c1`);
    expectChanged(before, ['.', 'local.', 'hades.local.', 'svc.hades.local.']);

    before = snap();
    idx.remove(`${U}user/cctv1/zz`);
    expectChanged(before, []);

    before = snap();
    idx.set(rec('/hades/arpa/in-addr/10/0/0/3', { host: 'x.hades.local' }));
    expectChanged(before, ['.', '0.0.10.in-addr.arpa.']);
  });

  test('stamps are never reused: a name removed and set again gets a new generation', () => {
    const idx = build();
    const name = 'cctv2.user.hades.local.';
    const seen = new Set<number>([idx.generation(name)]);
    for (let i = 0; i < 5; i++) {
      idx.remove(`${U}user/cctv2/b1`);
      assert.ok(!seen.has(idx.generation(name)));
      seen.add(idx.generation(name));
      idx.set(rec(`${U}user/cctv2/b1`, { host: '10.0.1.1' }));
      assert.ok(!seen.has(idx.generation(name)));
      seen.add(idx.generation(name));
    }
    // And a new index never repeats a stamp of an old one.
    const other = build();
    assert.ok(other.generation(name) > Math.max(...seen));
  });

  test('node() exposes the gen field of existing nodes', () => {
    const idx = build();
    const node = idx.node('cctv1.user.hades.local.');
    assert.ok(node);
    assert.equal(node.gen, idx.generation('cctv1.user.hades.local.'));
    assert.equal(idx.node('nope.local.'), undefined);
  });
});

function collect(idx: RecordIndex, name: string): Record[] {
  const out: Record[] = [];
  idx.lookup(name, out);
  return out;
}

// ---- a model check: random changes against a naive reading of the CoreDNS semantics ----------

/** CoreDNS: the records whose key labels start with the query's (wildcards match any), then Group. */
/**
 * The models scan every record for every query at every step: split each key once (the test is
 * CPU-bound, and splitting the same keys again and again made it take minutes on a busy machine).
 */
const segmentsMemo = new Map<string, string[]>();
function segmentsOf(key: string): string[] {
  let labels = segmentsMemo.get(key);
  if (labels === undefined) {
    labels = key.slice('/hades/'.length).split('/').filter(Boolean);
    segmentsMemo.set(key, labels);
  }
  return labels;
}

function naiveLookup(all: Map<string, Record>, name: string): string[] {
  const q = name.replace(/\.$/, '').split('.').filter(Boolean).reverse();
  const hits: { r: Record; depth: number }[] = [];
  for (const r of all.values()) {
    const labels = segmentsOf(r.key);
    if (labels.length < q.length) continue;
    if (q.every((l, i) => l === '*' || l === 'any' || l === labels[i]))
      hits.push({ r, depth: labels.length });
  }
  if (hits.length === 0) return [];
  const min = Math.min(...hits.map((h) => h.depth));
  const groups = new Set(hits.filter((h) => h.depth === min && h.r.group).map((h) => h.r.group));
  let out = hits;
  if (groups.size === 1) {
    const g = [...groups][0];
    out = hits.filter((h) => !h.r.group || h.r.group === g);
  }
  return out.map((h) => h.r.key).sort();
}

test('random changes agree with a naive model (lookup, has, generation)', () => {
  const rand = mulberry32(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const L1 = ['a', 'b', 'c'];
  const L2 = ['x', 'y', 'any', '*'];
  const L3 = ['1', '2', '3', '4'];
  const G = [undefined, undefined, 'g1', 'g2'];
  const idx = new RecordIndex();
  const model = new Map<string, Record>();
  const queries: string[] = ['.', 'local.'];
  for (const a of [...L1, '*', 'any'])
    for (const b of [...L2, 'zz']) {
      queries.push(`${a}.local.`, `${b}.${a}.local.`);
      for (const c of [...L3.slice(0, 2), '*']) queries.push(`${c}.${b}.${a}.local.`);
    }
  const gens = new Map<string, number>();
  const answers = new Map<string, string>();
  for (let step = 0; step < 3000; step++) {
    const depth = 1 + Math.floor(rand() * 3);
    const labels = ['local', pick(L1), pick(L2), pick(L3)].slice(0, depth + 1);
    const key = `/hades/${labels.join('/')}`;
    if (rand() < 0.45 && model.has(key)) {
      assert.equal(idx.remove(key), true);
      model.delete(key);
    } else {
      const r = rec(key, { host: `10.0.0.${step % 250}`, group: pick(G) });
      assert.equal(idx.set(r), !model.has(key));
      model.set(key, r);
    }
    assert.equal(idx.size, model.size);
    for (const q of queries) {
      const want = naiveLookup(model, q);
      const got = keysOf(collect(idx, q));
      assert.deepEqual(got, want, `step ${step}: lookup ${q}`);
      assert.equal(idx.has(q), want.length > 0 || q === '.', `step ${step}: has ${q}`);
      // Freshness: whenever the answer changed, the generation changed.
      const ans = want.join(',');
      const g = idx.generation(q);
      if (answers.has(q) && answers.get(q) !== ans) assert.notEqual(g, gens.get(q), `step ${step}: gen ${q}`);
      answers.set(q, ans);
      gens.set(q, g);
    }
  }
});

// ---- leaves: records with nothing below them are kept inline in their parent ---------------

/** Labels of a key under /hades as the index reads them: lower case, empty segments skipped. */
const labelsMemo = new Map<string, string[]>();
function labelsOf(key: string): string[] {
  let labels = labelsMemo.get(key);
  if (labels === undefined) {
    labels = segmentsOf(key).map((l) => l.toLowerCase());
    labelsMemo.set(key, labels);
  }
  return labels;
}

/** Like naiveLookup, for keys in any case and with empty segments; `exact`: CoreDNS exact lookups. */
function naiveLookup2(all: Map<string, Record>, name: string, exact: boolean): string[] {
  const q = name.replace(/\.$/, '').split('.').filter(Boolean).reverse();
  const hits: { r: Record; depth: number }[] = [];
  for (const r of all.values()) {
    const labels = labelsOf(r.key);
    if (exact ? labels.length !== q.length : labels.length < q.length) continue;
    if (q.every((l, i) => l === '*' || l === 'any' || l === labels[i]))
      hits.push({ r, depth: labels.length });
  }
  if (hits.length === 0 || exact) return hits.map((h) => h.r.key).sort();
  const min = Math.min(...hits.map((h) => h.depth));
  const groups = new Set(hits.filter((h) => h.depth === min && h.r.group).map((h) => h.r.group));
  let out = hits;
  if (groups.size === 1) {
    const g = [...groups][0];
    out = hits.filter((h) => !h.r.group || h.r.group === g);
  }
  return out.map((h) => h.r.key).sort();
}

describe('RecordIndex leaves', () => {
  test('a name with more records than fit inline spills into nodes; lookups see them all', () => {
    const idx = new RecordIndex();
    const keys = Array.from({ length: 40 }, (_, i) => `${U}big/r${i}`);
    for (const k of keys) idx.set(rec(k, { host: '10.0.0.1' }));
    assert.equal(idx.size, 40);
    assert.deepEqual(keysOf(collect(idx, 'big.hades.local.')), [...keys].sort());
    for (const k of keys) {
      const leaf = `${k.slice(k.lastIndexOf('/') + 1)}.big.hades.local.`;
      assert.deepEqual(keysOf(collect(idx, leaf)), [k]);
      assert.equal(idx.has(leaf), true);
      assert.equal(idx.get(k)?.key, k);
    }
    for (const k of keys) assert.equal(idx.remove(k), true);
    assert.equal(idx.size, 0);
    assert.equal(idx.has('big.hades.local.'), false);
    assert.equal(idx.node('hades.local.'), undefined);
  });

  test('a leaf that gets a child becomes a node, keeping its records; removing the child keeps them', () => {
    const idx = new RecordIndex();
    idx.set(rec(`${U}web/a`, { host: '10.0.0.1' }));
    idx.set(rec(`${U}web/A`, { host: '10.0.0.2' }));
    idx.set(rec(`${U}web/b`, { host: '10.0.0.3' }));
    assert.equal(idx.node('a.web.hades.local.'), undefined, 'a leaf has no node of its own');
    const g = idx.generation('a.web.hades.local.');
    idx.set(rec(`${U}web/a/x`, { host: '10.0.0.4' }));
    assert.ok(idx.node('a.web.hades.local.'));
    assert.notEqual(idx.generation('a.web.hades.local.'), g);
    assert.deepEqual(keysOf(collect(idx, 'a.web.hades.local.')), [`${U}web/A`, `${U}web/a`, `${U}web/a/x`]);
    assert.deepEqual(keysOf(lookupExact(idx, 'a.web.hades.local.')), [`${U}web/A`, `${U}web/a`]);
    assert.equal(idx.remove(`${U}web/a/x`), true);
    assert.deepEqual(keysOf(collect(idx, 'a.web.hades.local.')), [`${U}web/A`, `${U}web/a`]);
    assert.equal(idx.remove(`${U}web/A`), true);
    assert.equal(idx.remove(`${U}web/a`), true);
    assert.equal(idx.has('a.web.hades.local.'), false);
    assert.deepEqual(keysOf(collect(idx, 'web.hades.local.')), [`${U}web/b`]);
    assert.equal(idx.size, 1);
  });

  test('leaf generations: own stamp, unchanged by siblings, changed by the leaf and by case variants', () => {
    const idx = new RecordIndex();
    idx.set(rec(`${U}svc/a1`, { host: '10.0.0.1' }));
    idx.set(rec(`${U}svc/a2`, { host: '10.0.0.2' }));
    const a1 = idx.generation('a1.svc.hades.local.');
    const a2 = idx.generation('a2.svc.hades.local.');
    assert.notEqual(a1, a2);
    assert.equal(
      idx.generation('x.a1.svc.hades.local.'),
      a1,
      'below a leaf: the leaf is the deepest existing node',
    );
    idx.set(rec(`${U}svc/a2`, { host: '10.0.0.3' }));
    assert.equal(idx.generation('a1.svc.hades.local.'), a1);
    assert.notEqual(idx.generation('a2.svc.hades.local.'), a2);
    idx.set(rec(`${U}svc/A1`, { host: '10.0.0.4' }));
    const both = idx.generation('a1.svc.hades.local.');
    assert.notEqual(both, a1);
    idx.remove(`${U}svc/a1`);
    assert.notEqual(idx.generation('a1.svc.hades.local.'), both);
    assert.deepEqual(keysOf(collect(idx, 'a1.svc.hades.local.')), [`${U}svc/A1`]);
  });

  test('random changes with wide fan-out, case variants and deep keys agree with a naive model', () => {
    const rand = mulberry32(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const L1 = ['a', 'b'];
    const L2 = ['x', 'Y', 'y'];
    const L3 = Array.from({ length: 24 }, (_, i) => (i % 5 === 0 ? `K${i}` : `k${i}`));
    const L4 = ['d', 'E'];
    const G = [undefined, undefined, 'g1', 'g2'];
    const idx = new RecordIndex();
    const model = new Map<string, Record>();
    const queries: string[] = ['.', 'local.', '*.local.'];
    for (const a of L1) {
      queries.push(`${a}.local.`, `*.${a}.local.`);
      for (const b of ['x', 'y']) {
        queries.push(`${b}.${a}.local.`, `*.${b}.${a}.local.`, `${b}.*.local.`);
        for (const c of ['k0', 'k1', 'k5', 'k7', 'k23', 'zz']) {
          queries.push(`${c}.${b}.${a}.local.`, `d.${c}.${b}.${a}.local.`, `*.${c}.${b}.${a}.local.`);
        }
      }
    }
    const plain = queries.filter((q) => !q.includes('*'));
    /** The labels of the deepest existing node on q's path, per the model. */
    const deepest = (q: string): string[] => {
      const ql = q.replace(/\.$/, '').split('.').filter(Boolean).reverse();
      let best: string[] = [];
      for (const r of model.values()) {
        const kl = labelsOf(r.key);
        let n = 0;
        while (n < ql.length && n < kl.length && ql[n] === kl[n]) n++;
        if (n > best.length) best = ql.slice(0, n);
      }
      return best;
    };
    for (let step = 0; step < 2500; step++) {
      const labels = ['local', pick(L1), pick(L2), pick(L3), pick(L4)].slice(0, 2 + Math.floor(rand() * 4));
      const key = `/hades/${labels.join('/')}${rand() < 0.05 ? '/' : ''}`;
      const before = new Map(plain.map((q) => [q, { gen: idx.generation(q), anc: deepest(q) }]));
      let changed: boolean;
      if (rand() < 0.4) {
        changed = model.has(key);
        assert.equal(idx.remove(key), changed);
        model.delete(key);
      } else {
        const r = rec(key, { host: `10.0.0.${step % 250}`, group: pick(G) });
        assert.equal(idx.set(r), !model.has(key));
        model.set(key, r);
        changed = true;
      }
      assert.equal(idx.size, model.size);
      const kl = labelsOf(key);
      for (const q of plain) {
        const { gen, anc } = before.get(q)!;
        const under = anc.every((l, i) => kl[i] === l);
        if (!changed || !under) assert.equal(idx.generation(q), gen, `step ${step}: ${key} left ${q} alone`);
        else assert.notEqual(idx.generation(q), gen, `step ${step}: ${key} is at or below ${q}'s node`);
      }
      if (step % 5 !== 0 && step < 2400) continue;
      for (const q of queries) {
        assert.deepEqual(keysOf(collect(idx, q)), naiveLookup2(model, q, false), `step ${step}: lookup ${q}`);
        assert.deepEqual(
          keysOf(lookupExact(idx, q)),
          naiveLookup2(model, q, true),
          `step ${step}: exact ${q}`,
        );
        const exists = q === '.' || naiveLookup2(model, q, false).length > 0;
        assert.equal(idx.has(q), exists, `step ${step}: has ${q}`);
      }
      for (const [k, r] of model) assert.equal(idx.get(k), r, `step ${step}: get ${k}`);
      const all: string[] = [];
      idx.forEach((r) => {
        all.push(r.key);
      });
      assert.deepEqual(all.sort(), [...model.keys()].sort(), `step ${step}: forEach`);
    }
  });
});

function lookupExact(idx: RecordIndex, name: string): Record[] {
  const out: Record[] = [];
  idx.lookupExact(name, out);
  return out;
}
