import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Record } from '../records/types.js';
import { makeSelectors, policyFor, Rng, shuffleAll } from './select.js';
import type { ClientInfo } from './types.js';

const CLIENT: ClientInfo = { address: '192.0.2.1', port: 1, family: 4, transport: 'udp' };

function rec(target: string, extra: Partial<Record> = {}): Record {
  return { key: `/k/${target}`, name: `${target}.`, hostKind: 'ipv4', target, modRevision: 1, ...extra };
}

describe('select', () => {
  it('all: every candidate, a permutation, only within [0, count)', () => {
    const sel = shuffleAll(new Rng(1));
    const cands = ['a', 'b', 'c', 'd', 'e', 'z'].map((t) => rec(t));
    assert.equal(sel(cands, 5, CLIENT, 'x.'), 5);
    assert.deepEqual(
      cands
        .slice(0, 5)
        .map((r) => r.target)
        .sort(),
      ['a', 'b', 'c', 'd', 'e'],
    );
    assert.equal(cands[5].target, 'z');
  });

  it('all: each candidate first about equally often', () => {
    const sel = shuffleAll(new Rng(42));
    const first = new Map<string, number>();
    const cands = ['a', 'b', 'c', 'd'].map((t) => rec(t));
    for (let i = 0; i < 4000; i++) {
      sel(cands, 4, CLIENT, 'x.');
      first.set(cands[0].target, (first.get(cands[0].target) ?? 0) + 1);
    }
    for (const t of ['a', 'b', 'c', 'd']) {
      const n = first.get(t) ?? 0;
      assert.ok(n > 850 && n < 1150, `${t} first ${n} times of 4000`);
    }
  });

  it('Rng: integers in range, every value reached, same seed same sequence', () => {
    const a = new Rng(7);
    const b = new Rng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const x = a.below(10);
      assert.equal(x, b.below(10));
      assert.ok(Number.isInteger(x) && x >= 0 && x < 10);
      seen.add(x);
    }
    assert.equal(seen.size, 10);
    assert.equal(new Rng(0).below(1), 0, 'seed 0 is replaced (xorshift would stick at 0)');
  });

  it('one candidate: itself', () => {
    const cands = [rec('a')];
    assert.equal(shuffleAll()(cands, 1, CLIENT, 'x.'), 1);
  });

  it('policyFor: the first record select wins, else the server policy', () => {
    const plain = [rec('a'), rec('b')];
    assert.equal(policyFor(plain, 2, 'sticky'), 'sticky');
    const mixed = [rec('a'), rec('b', { select: 'all' }), rec('c', { select: 'random-one' })];
    assert.equal(policyFor(mixed, 3, 'sticky'), 'all');
    assert.equal(policyFor(mixed, 1, 'sticky'), 'sticky');
  });

  it('makeSelectors: overrides replace entries; the others fall back to all', () => {
    const one = () => 1;
    const s = makeSelectors({ seed: 3 }, { sticky: one });
    assert.equal(s.sticky, one);
    const cands = [rec('a'), rec('b'), rec('c')];
    assert.equal(s.all(cands, 3, CLIENT, 'x.'), 3);
    assert.equal(s['random-one'](cands, 3, CLIENT, 'x.'), 3);
  });
});
