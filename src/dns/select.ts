/**
 * Answer selection (docs/dns.md, "Answer selection"): which of a name's healthy addresses an A/AAAA
 * answer carries. A Selector reorders the candidates in place so that the chosen ones come
 * first and returns how many to emit; it allocates nothing.
 *
 * - `sticky` (the default): one address, by weighted rendezvous hashing (HRW) of
 *   (client identity, name, address). Each candidate gets the score w / −ln(u), where u ∈ (0, 1)
 *   is a fixed hash of the three and w the record's `weight`; the highest score wins. So a client
 *   gets candidate i with probability w_i / Σw (the exponential race), the same client gets the
 *   same address from every replica and after restarts (the hash has no seed), and removing an
 *   address moves only the clients that had it (everyone else's winner is still in the set).
 * - `random-one`: one address, weighted random, drawn per query from the handler's Rng.
 * - `all`: every candidate, shuffled (CoreDNS `loadbalance`).
 *
 * Weight: a record's `weight` when positive, else 1 (absent and 0 are one share each; unlike
 * SRV answers, where CoreDNS counts 0 as 100).
 *
 * Client identity: the client's source address as bytes (family, prefix length 32/128, the 4 or
 * 16 octets; an IPv4-mapped IPv6 source counts as the IPv4 address). With `trustEcs` and an EDNS
 * Client Subnet option of source prefix > 0 in the query: its family, source prefix and the
 * address masked to it, so every client of one resolver in one /24 gets the same address, and an
 * ECS /32 of an address is the same identity as that address asking directly. An ECS source
 * prefix of 0 (the resolver asks us not to use the client's subnet) falls back to the source
 * address.
 */
import { randomInt } from 'node:crypto';
import type { AllDownPolicy, Record, SelectPolicy } from '../records/types.js';
import type { ClientInfo } from './types.js';
import type { EcsSource } from './wire/writer.js';

/**
 * Picks among `cands[0, count)` (the deduplicated, health-filtered address records of one
 * A or AAAA answer; count ≥ 1) for `client` asking for `name` (the name whose addresses these
 * are: the end of a CNAME chain, lower case, absolute). `query` carries the request's EDNS Client
 * Subnet (a parsed Query satisfies it). Reorders `cands[0, count)` in place so that the records
 * to emit come first, and returns how many to emit (1..count). Must not keep references to its
 * arguments past the call (the handler reuses them).
 */
export type Selector = (
  cands: Record[],
  count: number,
  client: ClientInfo,
  name: string,
  query?: EcsSource | null,
) => number;

export interface SelectorOptions {
  /** Seed of the selectors' random numbers (default: random). Tests fix it. */
  seed?: number;
  /** `sticky` takes the client identity from the EDNS Client Subnet when the query has one. */
  trustEcs?: boolean;
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

/** The selection weight of an address record: its `weight` when positive, else 1. */
export function weightOf(r: Record): number {
  const w = r.weight;
  return w !== undefined && w > 0 ? w : 1;
}

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

const TWO31 = 0x80000000;

/** `random-one`: one candidate, candidate i with probability weight_i / Σ weights, per query. */
export function randomOne(rng: Rng = new Rng()): Selector {
  return (cands, count) => {
    if (count <= 1) return count;
    let total = 0;
    for (let i = 0; i < count; i++) total += weightOf(cands[i]);
    // weights are integers; past 2^31 (32768 addresses of weight 65535) draw a fraction instead
    let r = total <= TWO31 ? rng.below(total) : (rng.below(TWO31) / TWO31) * total;
    let pick = count - 1;
    for (let i = 0; i < count; i++) {
      r -= weightOf(cands[i]);
      if (r < 0) {
        pick = i;
        break;
      }
    }
    const t = cands[0];
    cands[0] = cands[pick];
    cands[pick] = t;
    return 1;
  };
}

// ---- the fixed hash ------------------------------------------------------------------------
//
// FNV-1a 64 over the identity bytes, a 0 octet, the name and a 0 octet, xor FNV-1a 64 of the
// address text, then MurmurHash3's fmix64 finalizer (FNV-1a alone mixes its last octets poorly into the high bits,
// and HRW compares hashes that differ only in those). 64-bit arithmetic is done on two uint32
// halves with Math.imul and 16-bit limbs: no BigInt, no allocation. Fixed constants, no seed:
// every process on every machine computes the same value. Changing any of this moves clients.

const FNV_OFFSET_HI = 0xcbf29ce4;
const FNV_OFFSET_LO = 0x84222325;
/** The FNV-1a 64 prime is 2^40 + 0x1b3. */
const FNV_PRIME_LO = 0x1b3;
const TWO20 = 1048576;
const TWO52 = 4503599627370496;

/** FNV-1a 64 of `b[start, end)` continuing from state `s` ([hi, lo] as int32 bit patterns). */
export function fnv64Bytes(s: Int32Array, b: Uint8Array, start: number, end: number): void {
  let hi = s[0];
  let lo = s[1];
  for (let i = start; i < end; i++) {
    lo ^= b[i];
    // (hi, lo) × (2^40 + 0x1b3) mod 2^64, in int32 arithmetic (16-bit limbs for lo × 0x1b3)
    const t0 = (lo & 0xffff) * FNV_PRIME_LO;
    const t1 = (lo >>> 16) * FNV_PRIME_LO + (t0 >>> 16);
    hi = (Math.imul(hi, FNV_PRIME_LO) + (lo << 8) + (t1 >>> 16)) | 0;
    lo = (t1 << 16) | (t0 & 0xffff);
  }
  s[0] = hi;
  s[1] = lo;
}

/**
 * FNV-1a 64 of the octets of `str` continuing from `s`: one octet per UTF-16 code unit below
 * 0x100 (names and IP text are ASCII), two (low, high) for the others.
 */
export function fnv64String(s: Int32Array, str: string): void {
  let hi = s[0];
  let lo = s[1];
  for (let i = 0; i < str.length; i++) {
    let c = str.charCodeAt(i);
    for (;;) {
      lo ^= c & 0xff;
      const t0 = (lo & 0xffff) * FNV_PRIME_LO;
      const t1 = (lo >>> 16) * FNV_PRIME_LO + (t0 >>> 16);
      hi = (Math.imul(hi, FNV_PRIME_LO) + (lo << 8) + (t1 >>> 16)) | 0;
      lo = (t1 << 16) | (t0 & 0xffff);
      if (c < 0x100) break;
      c >>>= 8;
    }
  }
  s[0] = hi;
  s[1] = lo;
}

/** Resets `s` to the FNV-1a 64 offset basis. */
export function fnv64Init(s: Int32Array): void {
  s[0] = FNV_OFFSET_HI;
  s[1] = FNV_OFFSET_LO;
}

/** The high 32 bits of the 64-bit product of two uint32. */
function mulHi32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const lo = a0 * b0;
  const mid1 = a1 * b0 + (lo >>> 16); // < 2^32 + 2^16: exact
  const mid2 = a0 * b1 + (mid1 % 65536);
  return (a1 * b1 + Math.floor(mid1 / 65536) + Math.floor(mid2 / 65536)) >>> 0;
}

/** MurmurHash3 fmix64 of `s` in place (k ^= k>>>33; k *= C1; k ^= k>>>33; k *= C2; k ^= k>>>33). */
export function fmix64(s: Int32Array): void {
  let hi = s[0] >>> 0;
  let lo = s[1] >>> 0;
  lo = (lo ^ (hi >>> 1)) >>> 0;
  // × 0xff51afd7ed558ccd
  let nhi = (mulHi32(lo, 0xed558ccd) + Math.imul(hi, 0xed558ccd) + Math.imul(lo, 0xff51afd7)) >>> 0;
  lo = Math.imul(lo, 0xed558ccd) >>> 0;
  hi = nhi;
  lo = (lo ^ (hi >>> 1)) >>> 0;
  // × 0xc4ceb9fe1a85ec53
  nhi = (mulHi32(lo, 0x1a85ec53) + Math.imul(hi, 0x1a85ec53) + Math.imul(lo, 0xc4ceb9fe)) >>> 0;
  lo = Math.imul(lo, 0x1a85ec53) >>> 0;
  hi = nhi;
  lo = (lo ^ (hi >>> 1)) >>> 0;
  s[0] = hi;
  s[1] = lo;
}

/**
 * The top 52 bits of the 64-bit state `s` as a number in the open interval (0, 1):
 * (x + 0.5) / 2^52 (with 53 bits the largest value would round to 1, and −ln 1 = 0).
 */
export function unitOf(s: Int32Array): number {
  return ((s[0] >>> 0) * TWO20 + ((s[1] >>> 0) >>> 12) + 0.5) / TWO52;
}

// ---- client identity -----------------------------------------------------------------------

/**
 * Parses IPv4 dotted-quad text `str[start, end)` into `out[off, off + 4)`; false if it is not one.
 */
function parseV4(str: string, start: number, end: number, out: Uint8Array, off: number): boolean {
  let part = 0;
  let digits = 0;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = str.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part === 3) return false;
      out[off + part++] = v;
      v = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      v = v * 10 + (c - 0x30);
      if (++digits > 3 || v > 255) return false;
    } else return false;
  }
  if (digits === 0 || part !== 3) return false;
  out[off + 3] = v;
  return true;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Parses IPv6 text `str[0, end)` (`::` once, an optional dotted IPv4 tail) into `out[off, off+16)`;
 * false if it is not one.
 */
function parseV6(str: string, end: number, out: Uint8Array, off: number): boolean {
  let n = 0; // octets written
  let gap = -1; // octet index of `::`
  let i = 0;
  if (end >= 2 && str.charCodeAt(0) === 0x3a && str.charCodeAt(1) === 0x3a) {
    gap = 0;
    i = 2;
    if (i === end) {
      for (let k = 0; k < 16; k++) out[off + k] = 0;
      return true;
    }
  } else if (end > 0 && str.charCodeAt(0) === 0x3a) return false;
  for (;;) {
    // one group: hex digits, or a dotted IPv4 tail
    const gs = i;
    let v = 0;
    while (i < end) {
      const h = hexValue(str.charCodeAt(i));
      if (h < 0) break;
      v = v * 16 + h;
      i++;
    }
    if (i < end && str.charCodeAt(i) === 0x2e) {
      if (n > 12 || !parseV4(str, gs, end, out, off + n)) return false;
      n += 4;
      break;
    }
    if (i === gs || i - gs > 4 || n > 14) return false;
    out[off + n++] = v >>> 8;
    out[off + n++] = v & 0xff;
    if (i === end) break;
    if (str.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < end && str.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = n;
      i++;
      if (i === end) break;
    } else if (i === end) return false;
  }
  if (gap < 0) return n === 16;
  if (n > 14) return false;
  // move the octets after `::` to the end, zero the gap
  const tail = n - gap;
  for (let k = tail - 1; k >= 0; k--) out[off + 16 - tail + k] = out[off + gap + k];
  for (let k = gap; k < 16 - tail; k++) out[off + k] = 0;
  return true;
}

const MAPPED_V4_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * Writes the identity of an IP address text into `id`: [4, 32, a, b, c, d] or [6, 128, 16 octets]
 * (IPv4-mapped IPv6 as IPv4; a `%zone` suffix ignored). Returns the length, or 0 when the text is
 * no IP address.
 */
export function addressIdentity(address: string, id: Uint8Array): number {
  let end = address.length;
  const pct = address.indexOf('%');
  if (pct >= 0) end = pct;
  if (parseV4(address, 0, end, id, 2)) {
    id[0] = 4;
    id[1] = 32;
    return 6;
  }
  if (!parseV6(address, end, id, 2)) return 0;
  let mapped = true;
  for (let k = 0; k < 12; k++) {
    if (id[2 + k] !== MAPPED_V4_PREFIX[k]) {
      mapped = false;
      break;
    }
  }
  if (mapped) {
    for (let k = 0; k < 4; k++) id[2 + k] = id[14 + k];
    id[0] = 4;
    id[1] = 32;
    return 6;
  }
  id[0] = 6;
  id[1] = 128;
  return 18;
}

/**
 * The identity of the last source address asked, parsed once per address: the sticky hash and
 * the client's zone (locality.ts) both read it, so a query from a new client parses its address
 * once. Synchronous, one per handler.
 */
export class AddressIdentity {
  /** The identity of `address` (addressIdentity's layout); valid after `of`. */
  readonly id = new Uint8Array(18);
  private address = '';
  private len = 0;

  /** The identity's length in `id` for `address` (0: not an IP literal). */
  of(address: string): number {
    if (address !== this.address) {
      this.len = addressIdentity(address, this.id);
      this.address = address;
    }
    return this.len;
  }
}

/**
 * Writes the identity of an EDNS Client Subnet into `id`: family (4 or 6), source prefix, and the
 * ceil(prefix / 8) address octets with the bits past the prefix cleared. Returns the length.
 */
export function subnetIdentity(q: EcsSource, id: Uint8Array): number {
  const v4 = q.ecsFamily === 1;
  const max = v4 ? 32 : 128;
  const prefix = Math.min(q.ecsSourcePrefix, max);
  id[0] = v4 ? 4 : 6;
  id[1] = prefix;
  const len = (prefix + 7) >> 3;
  const a = q.ecsAddress;
  for (let k = 0; k < len; k++) id[2 + k] = a[k];
  if ((prefix & 7) !== 0) id[1 + len] &= 0xff << (8 - (prefix & 7));
  return 2 + len;
}

/**
 * The sticky selector: a Selector over Records, plus `pickKeyed` over candidates whose address
 * hashes and weights were computed once (`stickyKeys`): the same pick without reading the
 * records or hashing their address text per query (answer-address.ts keeps the keys per name).
 */
export interface StickySelector extends Selector {
  /**
   * The index of the winner among `count` (≥ 2) candidates whose keys are
   * `keys[KEY_STRIDE * i, KEY_STRIDE * i + 3)` = (address hash hi, lo, weight); `cands` are the
   * same candidates as Records (read only to break an exact tie).
   */
  pickKeyed(
    keys: readonly number[],
    count: number,
    cands: readonly Record[],
    client: ClientInfo,
    name: string,
    query?: EcsSource | null,
  ): number;
}

/** Numbers per candidate in `stickyKeys`' output (hash hi, hash lo, weight, and room for two more). */
export const KEY_STRIDE = 5;

/** FNV-1a 64 of an address text from the offset basis: the address's part of the sticky hash. */
export function addressHash(target: string, out: Int32Array): void {
  fnv64Init(out);
  fnv64String(out, target);
}

/**
 * Writes the sticky keys of `cands[0, m)` into `keys[KEY_STRIDE * i, KEY_STRIDE * i + 3)`:
 * address hash (hi, lo as int32) and weight.
 */
export function stickyKeys(cands: readonly Record[], m: number, keys: number[]): void {
  const t = new Int32Array(2);
  for (let i = 0; i < m; i++) {
    addressHash(cands[i].target, t);
    keys[KEY_STRIDE * i] = t[0];
    keys[KEY_STRIDE * i + 1] = t[1];
    keys[KEY_STRIDE * i + 2] = weightOf(cands[i]);
  }
}

/**
 * `sticky`: one candidate per (client identity, name), by weighted rendezvous hashing. The
 * winner is the candidate with the highest weight / −ln(u), u = fmix64(B xor A) in (0, 1), where
 * B is FNV-1a 64 of (identity, 0, name, 0) and A is FNV-1a 64 of the address text; ties (never
 * seen in practice) go to the lower address text. Deterministic: no state, no seed. A depends on
 * the address alone, so it is computed once per record (`stickyKeys`), not per query.
 */
export function stickyHrw(trustEcs = false, ident = new AddressIdentity()): StickySelector {
  const id = new Uint8Array(18);
  const base = new Int32Array(2);
  const h = new Int32Array(2);
  const t = new Int32Array(2);
  // the hash state after the identity of the last source address asked (and its 0 octet):
  // a resolver asks again and again, and parsing its address text is most of that part
  let lastAddress = '';
  const afterId = new Int32Array(2);
  /** base ← FNV-1a 64 of (identity, 0, name, 0). */
  const start = (client: ClientInfo, name: string, query: EcsSource | null | undefined): void => {
    if (trustEcs && query?.ecs && query.ecsSourcePrefix > 0) {
      fnv64Init(base);
      fnv64Bytes(base, id, 0, subnetIdentity(query, id));
      id[0] = 0;
      fnv64Bytes(base, id, 0, 1);
    } else if (client.address === lastAddress && lastAddress !== '') {
      base[0] = afterId[0];
      base[1] = afterId[1];
    } else {
      fnv64Init(base);
      const n = ident.of(client.address);
      if (n > 0) fnv64Bytes(base, ident.id, 0, n);
      else {
        // not an IP literal (no transport gives one): the text itself, behind a 0 family octet
        id[0] = 0;
        fnv64Bytes(base, id, 0, 1);
        fnv64String(base, client.address);
      }
      id[0] = 0;
      fnv64Bytes(base, id, 0, 1);
      lastAddress = client.address;
      afterId[0] = base[0];
      afterId[1] = base[1];
    }
    fnv64String(base, name);
    id[0] = 0;
    fnv64Bytes(base, id, 0, 1);
  };
  /** The score of an address with hash (hi, lo) and weight w, for the current base. */
  const score = (hi: number, lo: number, w: number): number => {
    h[0] = base[0] ^ hi;
    h[1] = base[1] ^ lo;
    fmix64(h);
    return w / -Math.log(unitOf(h));
  };
  const sel = ((cands, count, client, name, query) => {
    if (count <= 1) return count;
    start(client, name, query);
    let best = 0;
    let bestScore = -1;
    for (let i = 0; i < count; i++) {
      const r = cands[i];
      addressHash(r.target, t);
      const sc = score(t[0], t[1], weightOf(r));
      if (sc > bestScore || (sc === bestScore && r.target < cands[best].target)) {
        best = i;
        bestScore = sc;
      }
    }
    const x = cands[0];
    cands[0] = cands[best];
    cands[best] = x;
    return 1;
  }) as StickySelector;
  sel.pickKeyed = (keys, count, cands, client, name, query) => {
    start(client, name, query);
    let best = 0;
    let bestScore = -1;
    for (let i = 0; i < count; i++) {
      const k = KEY_STRIDE * i;
      const sc = score(keys[k], keys[k + 1], keys[k + 2]);
      if (sc > bestScore || (sc === bestScore && cands[i].target < cands[best].target)) {
        best = i;
        bestScore = sc;
      }
    }
    return best;
  };
  return sel;
}

/** One selector per policy. */
export type PolicySelectors = { readonly [P in SelectPolicy]: Selector };

/**
 * The selectors, and the sticky selector's pick over precomputed keys when sticky is the
 * built-in one (null when a test replaced it: answers then take the general path).
 */
export type Selectors = PolicySelectors & {
  readonly pickKeyed: StickySelector['pickKeyed'] | null;
  /** The source-address identity the sticky selector parses, shared with the client's zone. */
  readonly identity: AddressIdentity;
};

/** One selector per policy. `overrides` replace entries (tests). */
export function makeSelectors(
  opts: SelectorOptions = {},
  overrides: Partial<PolicySelectors> = {},
): Selectors {
  const rng = new Rng(opts.seed);
  const identity = new AddressIdentity();
  const sticky = stickyHrw(opts.trustEcs === true, identity);
  return {
    all: overrides.all ?? shuffleAll(rng),
    sticky: overrides.sticky ?? sticky,
    'random-one': overrides['random-one'] ?? randomOne(rng),
    pickKeyed: overrides.sticky === undefined ? sticky.pickKeyed : null,
    identity,
  };
}

/**
 * A per-name setting: the `field` of the record with the lowest key among those that carry one in
 * `recs[0, n)` (all the name's records: every type, healthy or not, so A and AAAA answers and
 * health changes never switch it), else the server's.
 */
function lowestKeyField<K extends 'select' | 'alldown'>(
  recs: readonly Record[],
  n: number,
  field: K,
  server: NonNullable<Record[K]>,
): NonNullable<Record[K]> {
  let found: Record | undefined;
  for (let i = 0; i < n; i++) {
    const r = recs[i];
    if (r[field] !== undefined && (found === undefined || r.key < found.key)) found = r;
  }
  return (found?.[field] ?? server) as NonNullable<Record[K]>;
}

/** The selection policy of a name (its records' `select`, else the server's). */
export function policyFor(recs: readonly Record[], n: number, server: SelectPolicy): SelectPolicy {
  return lowestKeyField(recs, n, 'select', server);
}

/** The all-down policy of a name (its records' `alldown`, else the server's). */
export function allDownFor(recs: readonly Record[], n: number, server: AllDownPolicy): AllDownPolicy {
  return lowestKeyField(recs, n, 'alldown', server);
}
