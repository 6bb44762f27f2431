/**
 * Test helpers only (used by *.test.ts; not part of the package surface): a small seeded PRNG
 * and generators of valid names, addresses and record values for property tests.
 *
 * Seed: HADES_TEST_SEED (decimal) or a fixed default; a failing case reports its seed and
 * iteration so it can be replayed.
 */
import { formatIPv4, formatIPv6 } from './ip.js';
import type { AllDownPolicy, RecordValue, SelectPolicy } from './types.js';
import { ALL_DOWN_POLICIES, SELECT_POLICIES } from './types.js';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number;
  bool(p?: number): boolean;
  pick<T>(xs: readonly T[]): T;
}

/** sfc32 seeded via splitmix32. */
export function rng(seed: number): Rng {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  const u32 = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  const next = () => u32() / 4294967296;
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    bool: (p = 0.5) => next() < p,
    pick: (xs) => xs[Math.floor(next() * xs.length)],
  };
}

export const SEED = process.env.HADES_TEST_SEED ? Number(process.env.HADES_TEST_SEED) : 20260125;
export const RUNS = process.env.HADES_TEST_RUNS ? Number(process.env.HADES_TEST_RUNS) : 2000;

/** Runs `prop` on `runs` generated inputs; a failure names the seed, the run and the input. */
export function forAll<T>(gen: (r: Rng) => T, prop: (x: T) => void, runs = RUNS, seed = SEED): void {
  const r = rng(seed);
  for (let i = 0; i < runs; i++) {
    const x = gen(r);
    try {
      prop(x);
    } catch (e) {
      const err = e as Error;
      err.message = `property failed (HADES_TEST_SEED=${seed}, run ${i}) for ${JSON.stringify(x)}:\n${err.message}`;
      throw err;
    }
  }
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const INNER = `${ALNUM}-_`;

function randomCase(r: Rng, s: string): string {
  if (!r.bool(0.3)) return s;
  let o = '';
  for (const ch of s) o += r.bool() ? ch.toUpperCase() : ch;
  return o;
}

/** A valid label: LDH plus `_`, 1–63 octets, or `*`. */
export function randomLabel(r: Rng, maxLen = 63): string {
  if (r.bool(0.03)) return '*';
  const len = r.bool(0.1) ? maxLen : r.int(1, Math.min(maxLen, r.bool(0.8) ? 12 : 63));
  let s = '';
  for (let i = 0; i < len; i++) {
    const edge = i === 0 || i === len - 1;
    const set = edge ? (r.bool(0.05) ? '_' : ALNUM) : INNER;
    s += set[r.int(0, set.length - 1)];
  }
  return s;
}

/** A valid name (≤ 255 wire octets), in random case, with or without the trailing dot. */
export function randomName(r: Rng): string {
  const labels: string[] = [];
  let wire = 1;
  const n = r.int(1, r.bool(0.1) ? 127 : 8);
  for (let i = 0; i < n; i++) {
    const room = 255 - wire - 1;
    if (room < 1) break;
    const l = randomLabel(r, Math.min(63, room));
    labels.push(l);
    wire += l.length + 1;
  }
  // Avoid an all-numeric last label so the name also passes as a record host.
  if (/^[0-9]+$/.test(labels[labels.length - 1])) labels[labels.length - 1] = 'x';
  const name = randomCase(r, labels.join('.'));
  return r.bool() ? `${name}.` : name;
}

export function randomBytes(r: Rng, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r.int(0, 255);
  return b;
}

export function randomIPv4(r: Rng): string {
  return formatIPv4(randomBytes(r, 4));
}

/** 16 bytes with zero runs, v4-mapped and v4-compatible forms often enough to matter. */
export function randomIPv6Bytes(r: Rng): Uint8Array {
  const b = randomBytes(r, 16);
  const shape = r.int(0, 9);
  if (shape === 0)
    b.fill(0, 0, 10).fill(0xff, 10, 12); // ::ffff:a.b.c.d
  else if (shape === 1)
    b.fill(0, 0, 12); // ::a.b.c.d (deprecated v4-compatible)
  else if (shape === 2) b.fill(0);
  else if (shape <= 6) {
    // one or two zero runs of whole groups
    for (let k = r.int(1, 2); k > 0; k--) {
      const start = r.int(0, 7);
      const len = r.int(1, 8 - start);
      b.fill(0, start * 2, (start + len) * 2);
    }
  }
  // some groups with small values (exercise leading-zero removal)
  for (let g = 0; g < 8; g++) if (r.bool(0.2)) b[g * 2] = 0;
  return b;
}

export function randomIPv6(r: Rng): string {
  return formatIPv6(randomIPv6Bytes(r));
}

/** Some non-canonical but valid text of the same IPv6 address. */
export function variantIPv6(r: Rng, b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    let g = ((b[i] << 8) | b[i + 1]).toString(16);
    if (r.bool(0.3)) g = g.padStart(4, '0');
    if (r.bool(0.3)) g = g.toUpperCase();
    groups.push(g);
  }
  if (r.bool(0.3)) {
    // mixed notation for the last 32 bits
    return `${groups.slice(0, 6).join(':')}:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  if (r.bool(0.5)) {
    // compress some (not necessarily the longest) run of zero groups
    const zeros: number[] = [];
    for (let g = 0; g < 8; g++) if (/^0+$/.test(groups[g])) zeros.push(g);
    if (zeros.length > 0) {
      const start = r.pick(zeros);
      let end = start;
      while (end + 1 < 8 && /^0+$/.test(groups[end + 1])) end++;
      return `${groups.slice(0, start).join(':')}::${groups.slice(end + 1).join(':')}`;
    }
  }
  return groups.join(':');
}

function randomString(r: Rng, max: number): string {
  const pool = ['a', 'Z', ' ', '"', '\\', '<', '>', '&', '\n', '\u2028', 'é', '日', '😀', '=', '\u0000'];
  let s = '';
  const n = r.int(0, max);
  for (let i = 0; i < n; i++) s += r.pick(pool);
  return s;
}

/** A valid RecordValue (passes strict parsing): each field present or not at random. */
export function randomRecordValue(r: Rng): RecordValue {
  const v: RecordValue = {};
  if (r.bool(0.8)) {
    const k = r.int(0, 2);
    v.host = k === 0 ? randomIPv4(r) : k === 1 ? randomIPv6(r) : randomName(r).replace(/\*/g, 'w');
  }
  const u16 = () => (r.bool(0.2) ? r.pick([0, 65535]) : r.int(0, 65535));
  if (r.bool(0.3)) v.port = u16();
  if (r.bool(0.3)) v.priority = u16();
  if (r.bool(0.3)) v.weight = u16();
  if (r.bool(0.2)) v.text = randomString(r, 40);
  if (r.bool(0.2)) v.mail = r.bool();
  if (r.bool(0.5)) v.ttl = r.bool(0.2) ? r.pick([0, 2147483647]) : r.int(0, 86400);
  if (r.bool(0.1)) v.targetstrip = r.int(0, 5);
  if (r.bool(0.2)) v.group = randomString(r, 10);
  if (r.bool(0.3)) v.type = r.pick(['A', 'AAAA', 'cname', 'SRV', 'TXT']);
  if (r.bool(0.3)) v.source = r.pick(['api', 'svc', 'endpoints']);
  if (r.bool(0.2)) v.user = randomString(r, 10);
  if (r.bool(0.2)) v.cluster = randomString(r, 10);
  if (r.bool(0.2)) v.select = r.pick<SelectPolicy>(SELECT_POLICIES);
  if (r.bool(0.2)) v.alldown = r.pick<AllDownPolicy>(ALL_DOWN_POLICIES);
  return v;
}
