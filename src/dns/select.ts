/**
 * Answer selection (DESIGN.md "Answer selection"): which of a name's healthy addresses an A/AAAA
 * answer carries. A Selector reorders the candidates in place so that the chosen ones come
 * first and returns how many to emit; it allocates nothing.
 *
 * Implemented here: `all` (every healthy address, shuffled: CoreDNS `loadbalance`). `sticky`
 * (weighted rendezvous hashing of client × name × address) and `random-one` (weighted random)
 * are issue 4; until then they select like `all` (see `IMPLEMENTED_POLICIES`) and slot in by
 * replacing their entries in `makeSelectors` — the handler needs no change.
 */
import { randomInt } from 'node:crypto';
import type { Record, SelectPolicy } from '../records/types.js';
import type { ClientInfo } from './types.js';

/**
 * Picks among `cands[0, count)` (the deduplicated, health-filtered address records of one
 * A or AAAA answer; count ≥ 1) for `client` asking for `name` (the name whose addresses these
 * are: the end of a CNAME chain, lower case, absolute). Reorders `cands[0, count)` in place so
 * that the records to emit come first, and returns how many to emit (1..count). Must not keep
 * references to its arguments past the call (the handler reuses them).
 */
export type Selector = (cands: Record[], count: number, client: ClientInfo, name: string) => number;

export interface SelectorOptions {
  /** Seed of the selectors' random numbers (default: random). Tests fix it. */
  seed?: number;
}

/**
 * A small non-cryptographic PRNG (xorshift32) whose state lives in an Int32Array, so drawing
 * numbers never allocates (Math.random's doubles get boxed on this path). Not for secrets.
 */
export class Rng {
  private readonly s = new Int32Array(1);

  constructor(seed: number = randomInt(1, 0x7fffffff)) {
    this.s[0] = seed | 0 || 0x2545f491;
  }

  /** An integer in [0, n) for 1 ≤ n ≤ 2^31 (modulo bias below n / 2^31). */
  below(n: number): number {
    let x = this.s[0];
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s[0] = x;
    return (x >>> 1) % n;
  }
}

/** Policies with their own implementation; the others currently behave as `all`. */
export const IMPLEMENTED_POLICIES: readonly SelectPolicy[] = ['all'];

/** `all`: every candidate, in a uniformly random order (Fisher–Yates). */
export function shuffleAll(rng: Rng = new Rng()): Selector {
  return (cands, count) => {
    for (let i = count - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      const t = cands[i];
      cands[i] = cands[j];
      cands[j] = t;
    }
    return count;
  };
}

export type Selectors = { readonly [P in SelectPolicy]: Selector };

/** One selector per policy. `overrides` replace entries (tests; issue 4 until it lands here). */
export function makeSelectors(opts: SelectorOptions = {}, overrides: Partial<Selectors> = {}): Selectors {
  const rng = new Rng(opts.seed);
  const all = shuffleAll(rng);
  return {
    all: overrides.all ?? all,
    // issue 4: weighted rendezvous hashing of (client identity, name, address)
    sticky: overrides.sticky ?? all,
    // issue 4: one address, weighted random
    'random-one': overrides['random-one'] ?? all,
  };
}

/**
 * The policy for one answer: the first `select` field found among the candidates (a record's
 * `select` overrides the server policy for its name), else the server's.
 */
export function policyFor(cands: readonly Record[], count: number, server: SelectPolicy): SelectPolicy {
  for (let i = 0; i < count; i++) {
    const s = cands[i].select;
    if (s !== undefined) return s;
  }
  return server;
}
