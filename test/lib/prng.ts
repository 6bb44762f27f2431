/**
 * Seeded randomness for tests (fuzzers, model checks): a run is replayed from its seed.
 */

/** mulberry32: small, fast, seeded; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded generator's basics (on mulberry32): fuzzers extend it with their own packets and names. */
export class RandomGen {
  /** Uniform in [0, 1). */
  readonly r: () => number;
  constructor(seed: number) {
    this.r = mulberry32(seed);
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.r() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  /** `n` random octets. */
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}
