/**
 * The response cache (`-rcache` capacity, `-rcache_ttl`): upstream replies to forwarded queries,
 * kept as wire bytes and served to later clients with their own ID, question octets (0x20 case)
 * and EDNS, TTLs counted down. Local names never enter it: their answers come from the catalog
 * (~1 µs, always current, selected per client); see README.md "Cache" for why.
 *
 * Keyed by the lower-cased question name, type, class, DO and CD. What goes in (RFC 2308, RFC
 * 1035 §7.4): NOERROR with the asked type; NXDOMAIN and NODATA only with an SOA in authority, for
 * min(SOA TTL, SOA MINIMUM); SERVFAIL for at most `servfailTtl` (5 s); never TC, other rcodes, an
 * extended rcode, opcodes other than QUERY, TTL 0, replies to RD=0 queries or to queries with a
 * Client Subnet option (answers an upstream may have tailored to one subnet), TSIG. Every stored
 * TTL is capped at `maxTtl` (`-rcache_ttl`); an entry lives for the least of its TTLs.
 *
 * At insert the reply is walked once: the upstream OPT is dropped (its options — cookies, ECS,
 * padding — belonged to the first client), the TTL field offsets, the ends of the additional
 * records, and the owner names spelled out inline that equal the question name are recorded. A
 * hit is one copy of the stored bytes into the caller's buffer plus patches in place: ID, flags
 * (RD and CD of the client, RA set, AA clear, AD only if the client asked with AD or DO), the
 * client's question octets (and the inline owners), each TTL minus the whole seconds elapsed, an
 * OPT of ours when the client sent one; cut to the client's size as the writer does (additional
 * records first, then header + question + OPT with TC).
 *
 * Table: chained hash (FNV-1a 32 over the folded name, type, class, flags, with a random per-cache
 * seed, then fmix32) with a doubly linked LRU list; lookup, insert, hit promotion and eviction are
 * O(1). A hit allocates nothing. One cache per process (each `-workers` worker has its own).
 */
import { randomInt } from 'node:crypto';
import type { Transport } from './types.js';
import {
  EDNS_UDP_SIZE,
  EdnsOption,
  Flag,
  HEADER_SIZE,
  MAX_MESSAGE,
  MIN_UDP_SIZE,
  Rcode,
  RRType,
} from './wire/constants.js';
import { skipName } from './wire/names.js';

export interface ResponseCacheOptions {
  /** Most messages kept (`-rcache`, ≥ 1); the least recently used goes first. */
  capacity: number;
  /** Longest time an entry lives and the largest TTL it serves, seconds (`-rcache_ttl`, ≥ 1). */
  maxTtl: number;
  /** Longest time a SERVFAIL is kept, seconds, 0…5 (0: never cached). Default 5. */
  servfailTtl?: number;
  /** EDNS UDP size in the OPT of cached replies, and the most sent over UDP. Default 1232. */
  udpSize?: number;
  /** Clock in milliseconds, monotonic (tests inject one). Default `performance.now()`. */
  now?: () => number;
  /** Hash seed (tests). Default: random per cache. */
  seed?: number;
}

/** Counters: plain numbers, live. Read, never write. */
export interface ResponseCacheStats {
  /** Lookups answered from the cache. */
  hits: number;
  /** Lookups not answered (nothing stored, expired, or a query the cache does not serve). */
  misses: number;
  /** Messages held now (expired ones count until they are looked up or evicted). */
  entries: number;
  /** Entries removed to make room (capacity reached). */
  evictions: number;
  /** Replies stored (new or replacing an entry for the same key). */
  inserts: number;
  /** Entries found expired on lookup and removed. */
  expired: number;
  /** Replies offered to `store` and not kept (see the module comment for the rules). */
  uncacheable: number;
}

/** SERVFAIL is cached for at most this long (RFC 2308 §7.1 allows 5 minutes; we keep it short). */
export const MAX_SERVFAIL_TTL = 5;

const OPT_LEN = 11;
const TTL_MAX = 0x7fffffff;
/** Key flag bits. */
const KEY_DO = 1;
const KEY_CD = 2;

/** One cached reply. */
class Entry {
  /** LRU neighbours (prev: more recent) and the next entry in the hash chain. */
  prev: Entry | null = null;
  next: Entry | null = null;
  chain: Entry | null = null;
  constructor(
    readonly hash: number,
    /** Question name length (wire, root octet included); the name itself is msg[12, 12 + qlen), lower case. */
    readonly qlen: number,
    readonly qtype: number,
    readonly qclass: number,
    readonly flags: number,
    /**
     * `data[0, len)`: the reply without OPT (header with ARCOUNT = the additional records kept,
     * question, records). Then, as big-endian 32-bit words: [nTtl, (offset, ttl) × nTtl, nInline,
     * (offset, length) × nInline, nAdd, end × nAdd]: the TTL fields and the TTLs to serve, the
     * inline copies of the question name, the ends of the additional records; offsets ascend
     * within each group. (One allocation per entry.)
     */
    readonly data: Uint8Array,
    readonly len: number,
    /** Where the authority section ends (the additional records start). */
    readonly authEnd: number,
    readonly insertedAt: number,
    readonly expiresAt: number,
  ) {}
}

/** What readRequest found in a request (one reused instance). */
interface Req {
  qlen: number;
  qtype: number;
  qclass: number;
  flags: number;
  hash: number;
  /** Offset after the question. */
  qend: number;
  id: number;
  rd: boolean;
  ad: boolean;
  cd: boolean;
  edns: boolean;
  udpSize: number;
  ecs: boolean;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** A scratch array twice as long, holding `a`'s contents (the scratch grows, never shrinks). */
function doubled(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const g = new Int32Array(a.length * 2);
  g.set(a);
  return g;
}

function u16(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

function put32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = (v >>> 16) & 0xff;
  b[p + 2] = (v >>> 8) & 0xff;
  b[p + 3] = v & 0xff;
}

/** ASCII fold (A–Z only, RFC 4343); length octets (≤ 63) never fold. */
function fold(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
}

/**
 * When the name at `p` in `b` spells the question name `b[12, 12 + qlen)` (ASCII
 * case-insensitively), the number of its octets written inline at `p` (up to a pointer or the
 * root octet, which is included); else 0. Pointers followed backwards only.
 */
function inlineQname(b: Uint8Array, p: number, len: number, qlen: number): number {
  if (p >= len || b[p] === 0 || b[p] >= 0xc0) return 0;
  let q = HEADER_SIZE; // position in the question name
  let inline = -1;
  for (let guard = 0; guard < 128; guard++) {
    if (p >= len) return 0;
    const l = b[p];
    if (l >= 0xc0) {
      if (p + 2 > len) return 0;
      const to = ((l & 0x3f) << 8) | b[p + 1];
      if (to >= p) return 0;
      if (inline < 0) inline = q - HEADER_SIZE;
      p = to;
      continue;
    }
    if (l >= 0x40) return 0;
    if (q >= HEADER_SIZE + qlen || b[q] !== l) return 0;
    if (l === 0) return inline < 0 ? q + 1 - HEADER_SIZE : inline;
    for (let i = 1; i <= l; i++) if (p + i >= len || fold(b[p + i]) !== fold(b[q + i])) return 0;
    p += l + 1;
    q += l + 1;
  }
  return 0;
}

export class ResponseCache {
  readonly capacity: number;
  readonly maxTtl: number;
  readonly servfailTtl: number;
  readonly udpSize: number;
  readonly stats: ResponseCacheStats = {
    hits: 0,
    misses: 0,
    entries: 0,
    evictions: 0,
    inserts: 0,
    expired: 0,
    uncacheable: 0,
  };
  private readonly now: () => number;
  private readonly seed: number;
  private buckets: (Entry | null)[];
  private mask: number;
  /** LRU list: head = most recently used. */
  private head: Entry | null = null;
  private tail: Entry | null = null;
  private readonly req: Req = {
    qlen: 0,
    qtype: 0,
    qclass: 0,
    flags: 0,
    hash: 0,
    qend: 0,
    id: 0,
    rd: false,
    ad: false,
    cd: false,
    edns: false,
    udpSize: MIN_UDP_SIZE,
    ecs: false,
  };
  /** store(): scratch for the walk (TTL offsets and values, inline names, additional ends). */
  private ttlScratch = new Int32Array(128);
  private inlineScratch = new Int32Array(16);
  private addScratch = new Int32Array(32);

  constructor(opts: ResponseCacheOptions) {
    const int = (name: string, v: number | undefined, def: number, min: number, max: number): number => {
      const x = v ?? def;
      if (!Number.isInteger(x) || x < min || x > max)
        throw new RangeError(`ResponseCache: ${name} must be an integer in ${min}..${max}, got ${v}`);
      return x;
    };
    this.capacity = int('capacity', opts.capacity, 0, 1, 0x7fffffff);
    this.maxTtl = int('maxTtl', opts.maxTtl, 0, 1, TTL_MAX);
    this.servfailTtl = Math.min(
      int('servfailTtl', opts.servfailTtl, MAX_SERVFAIL_TTL, 0, MAX_SERVFAIL_TTL),
      this.maxTtl,
    );
    this.udpSize = int('udpSize', opts.udpSize, EDNS_UDP_SIZE, MIN_UDP_SIZE, MAX_MESSAGE);
    this.now = opts.now ?? (() => performance.now());
    this.seed = (opts.seed ?? randomInt(0, 0x7fffffff)) | 0;
    const n = Math.min(1024, 1 << Math.ceil(Math.log2(Math.max(2, this.capacity))));
    this.buckets = new Array<Entry | null>(n).fill(null);
    this.mask = n - 1;
  }

  /** Messages held (same as stats.entries). */
  get size(): number {
    return this.stats.entries;
  }

  /**
   * Answers `req[0, len)` from the cache into `out` (at least 65535 octets; the server's writer
   * buffer) and returns the reply length, or 0 on a miss (nothing stored, expired, or a query
   * the cache does not serve: a response, opcode ≠ QUERY, a question count ≠ 1, records other
   * than one OPT, a Client Subnet option). `transport` sets the size limit: TCP 65535; UDP 512
   * without EDNS, else the client's size capped by `udpSize`.
   */
  serve(req: Uint8Array, len: number, transport: Transport, out: Uint8Array): number {
    const r = this.req;
    if (!this.readRequest(req, len, r) || r.ecs) {
      this.stats.misses++;
      return 0;
    }
    const e = this.find(req, r);
    if (e === null) {
      this.stats.misses++;
      return 0;
    }
    const now = this.now();
    if (now >= e.expiresAt) {
      this.remove(e);
      this.stats.expired++;
      this.stats.misses++;
      return 0;
    }
    const limit =
      transport === 'tcp'
        ? MAX_MESSAGE
        : r.edns
          ? Math.max(MIN_UDP_SIZE, Math.min(r.udpSize, this.udpSize))
          : MIN_UDP_SIZE;
    const n = this.write(e, req, r, now, limit, out);
    if (n === 0) {
      this.stats.misses++;
      return 0;
    }
    this.touch(e);
    this.stats.hits++;
    return n;
  }

  /**
   * Offers the upstream reply `reply[0, replyLen)` to the query `query[0, queryLen)` that was sent
   * for it (the client's question octets; its flags and OPT say RD, CD, DO, ECS). Stores a copy
   * when it is cacheable (see the module comment) and returns whether it did. Never throws for
   * any input; both buffers may be reused once it returns.
   */
  store(query: Uint8Array, queryLen: number, reply: Uint8Array, replyLen: number): boolean {
    const r = this.req;
    if (
      !this.readRequest(query, queryLen, r) ||
      r.ecs ||
      !r.rd ||
      !this.storeReply(query, reply, replyLen, r)
    ) {
      this.stats.uncacheable++;
      return false;
    }
    return true;
  }

  /** Drops every entry. */
  clear(): void {
    this.buckets.fill(null);
    this.head = this.tail = null;
    this.stats.entries = 0;
  }

  // ---- requests -----------------------------------------------------------------------------------

  /**
   * Reads what the key and the reply need from a query: a QUERY with one question, no answer or
   * authority records, at most an OPT in additional. False for anything else.
   */
  private readRequest(b: Uint8Array, len: number, r: Req): boolean {
    if (len > b.length) len = b.length;
    if (len < HEADER_SIZE + 5) return false;
    const flags = u16(b, 2);
    if ((flags & (Flag.QR | 0x7800)) !== 0) return false;
    if (u16(b, 4) !== 1 || u16(b, 6) !== 0 || u16(b, 8) !== 0) return false;
    let h = this.seed ^ 0x811c9dc5;
    let p = HEADER_SIZE;
    for (;;) {
      if (p >= len) return false;
      const l = b[p];
      if (l >= 0x40) return false; // no pointer in a question
      if (p + 1 + l > len || p + 1 + l - HEADER_SIZE > 255) return false;
      h = Math.imul(h ^ l, 0x01000193);
      if (l === 0) break;
      const e = p + 1 + l;
      for (let i = p + 1; i < e; i++) h = Math.imul(h ^ fold(b[i]), 0x01000193);
      p = e;
    }
    p++;
    if (p + 4 > len) return false;
    r.qlen = p - HEADER_SIZE;
    r.qtype = u16(b, p);
    r.qclass = u16(b, p + 2);
    p += 4;
    r.qend = p;
    r.id = u16(b, 0);
    r.rd = (flags & Flag.RD) !== 0;
    r.ad = (flags & Flag.AD) !== 0;
    r.cd = (flags & Flag.CD) !== 0;
    r.edns = false;
    r.udpSize = MIN_UDP_SIZE;
    r.ecs = false;
    let kflags = r.cd ? KEY_CD : 0;
    const ar = u16(b, 10);
    for (let i = 0; i < ar; i++) {
      p = skipName(b, p, len);
      if (p < 0 || p + 10 > len) return false;
      const type = u16(b, p);
      const rdlen = u16(b, p + 8);
      const end = p + 10 + rdlen;
      if (end > len || type !== RRType.OPT || r.edns) return false;
      r.edns = true;
      r.udpSize = Math.max(MIN_UDP_SIZE, u16(b, p + 2));
      if ((b[p + 6] & 0x80) !== 0) kflags |= KEY_DO;
      for (let o = p + 10; o + 4 <= end; ) {
        if (u16(b, o) === EdnsOption.CLIENT_SUBNET) r.ecs = true;
        o += 4 + u16(b, o + 2);
      }
      p = end;
    }
    r.flags = kflags;
    h = Math.imul(h ^ r.qtype, 0x01000193);
    h = Math.imul(h ^ r.qclass, 0x01000193);
    h = Math.imul(h ^ kflags, 0x01000193);
    r.hash = fmix32(h);
    return true;
  }

  // ---- the table ------------------------------------------------------------------------------------

  private find(req: Uint8Array, r: Req): Entry | null {
    const qlen = r.qlen;
    outer: for (let e = this.buckets[r.hash & this.mask]; e !== null; e = e.chain) {
      if (e.hash !== r.hash || e.qlen !== qlen || e.qtype !== r.qtype || e.qclass !== r.qclass) continue;
      if (e.flags !== r.flags) continue;
      const m = e.data;
      for (let i = HEADER_SIZE; i < HEADER_SIZE + qlen; i++) if (m[i] !== fold(req[i])) continue outer;
      return e;
    }
    return null;
  }

  /** Moves `e` to the front of the LRU list. */
  private touch(e: Entry): void {
    if (this.head === e) return;
    this.unlinkLru(e);
    this.pushFront(e);
  }

  private pushFront(e: Entry): void {
    e.prev = null;
    e.next = this.head;
    if (this.head !== null) this.head.prev = e;
    this.head = e;
    if (this.tail === null) this.tail = e;
  }

  private unlinkLru(e: Entry): void {
    if (e.prev !== null) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next !== null) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.prev = e.next = null;
  }

  private remove(e: Entry): void {
    const i = e.hash & this.mask;
    let p = this.buckets[i];
    if (p === e) this.buckets[i] = e.chain;
    else {
      while (p !== null && p.chain !== e) p = p.chain;
      if (p !== null) p.chain = e.chain;
    }
    e.chain = null;
    this.unlinkLru(e);
    this.stats.entries--;
  }

  private insert(e: Entry, req: Uint8Array, r: Req): void {
    const old = this.find(req, r);
    if (old !== null) this.remove(old);
    else if (this.stats.entries >= this.capacity && this.tail !== null) {
      this.remove(this.tail);
      this.stats.evictions++;
    }
    if (this.stats.entries >= this.buckets.length && this.buckets.length < 1 << 30) this.grow();
    const i = e.hash & this.mask;
    e.chain = this.buckets[i];
    this.buckets[i] = e;
    this.pushFront(e);
    this.stats.entries++;
    this.stats.inserts++;
  }

  /** Doubles the bucket array (load factor ≤ 1). */
  private grow(): void {
    const n = this.buckets.length * 2;
    const b = new Array<Entry | null>(n).fill(null);
    const mask = n - 1;
    for (let e = this.head; e !== null; e = e.next) {
      const i = e.hash & mask;
      e.chain = b[i];
      b[i] = e;
    }
    this.buckets = b;
    this.mask = mask;
  }

  // ---- store ---------------------------------------------------------------------------------------

  /** Walks and keeps the reply `b[0, len)` if cacheable; `r` holds its query `query` (readRequest). */
  private storeReply(query: Uint8Array, b: Uint8Array, len: number, r: Req): boolean {
    if (len > b.length) len = b.length;
    if (len < r.qend || len > MAX_MESSAGE) return false;
    const flags = u16(b, 2);
    // a response to a QUERY, not truncated, one question equal to ours
    if ((flags & Flag.QR) === 0 || (flags & 0x7800) !== 0 || (flags & Flag.TC) !== 0) return false;
    if (u16(b, 4) !== 1) return false;
    const qlen = r.qlen;
    // the question name: the query's, ASCII case-insensitively (RFC 4343)
    if (skipName(b, HEADER_SIZE, len) !== HEADER_SIZE + qlen) return false;
    for (let i = HEADER_SIZE; i < HEADER_SIZE + qlen; i++) if (fold(b[i]) !== fold(query[i])) return false;
    if (u16(b, HEADER_SIZE + qlen) !== r.qtype || u16(b, HEADER_SIZE + qlen + 2) !== r.qclass) return false;
    const rcode = flags & 0x0f;
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN && rcode !== Rcode.SERVFAIL) return false;
    if (rcode === Rcode.SERVFAIL && this.servfailTtl === 0) return false;

    const an = u16(b, 6);
    const ns = u16(b, 8);
    const ar = u16(b, 10);
    const cap = rcode === Rcode.SERVFAIL ? this.servfailTtl : this.maxTtl;
    let ttls = this.ttlScratch;
    let inl = this.inlineScratch;
    let adds = this.addScratch;
    let nTtl = 0;
    let nInl = 0;
    let nAdd = 0;
    let p = HEADER_SIZE + qlen + 4;
    let authEnd = p;
    let cut = -1; // where the kept records end (an OPT and anything after it are dropped)
    let positive = false;
    let soaTtlAt = -1; // index in ttls of the authority SOA's TTL
    let soaMinimum = 0;
    let life = cap;
    const total = an + ns + ar;
    for (let i = 0; i < total; i++) {
      if (i === an + ns) authEnd = p;
      const start = p;
      p = skipName(b, p, len);
      if (p < 0 || p + 10 > len) return false;
      const type = u16(b, p);
      const ttlAt = p + 4;
      const rdlen = u16(b, p + 8);
      const end = p + 10 + rdlen;
      if (end > len) return false;
      if (type === RRType.TSIG || type === RRType.SIG) return false;
      if (type === RRType.OPT) {
        // an OPT outside additional, or an extended rcode: not ours to repeat
        if (i < an + ns || b[ttlAt] !== 0) return false;
        cut = start;
        break;
      }
      let ttl = u32(b, ttlAt);
      if (ttl > TTL_MAX) ttl = 0; // RFC 2181 §8
      if (ttl > cap) ttl = cap;
      if (i < an) {
        if (type === r.qtype || r.qtype === RRType.ANY) positive = true;
      } else if (i < an + ns && type === RRType.SOA && soaTtlAt < 0 && rdlen >= 22) {
        soaTtlAt = nTtl;
        soaMinimum = u32(b, end - 4);
      }
      if (nTtl * 2 + 2 > ttls.length) ttls = this.ttlScratch = doubled(ttls);
      ttls[nTtl * 2] = ttlAt;
      ttls[nTtl * 2 + 1] = ttl;
      nTtl++;
      if (ttl < life) life = ttl;
      const k = inlineQname(b, start, len, qlen);
      if (k > 0) {
        if (nInl * 2 + 2 > inl.length) inl = this.inlineScratch = doubled(inl);
        inl[nInl * 2] = start;
        inl[nInl * 2 + 1] = k;
        nInl++;
      }
      if (i >= an + ns) {
        if (nAdd + 1 > adds.length) adds = this.addScratch = doubled(adds);
        adds[nAdd++] = end;
      }
      p = end;
    }
    if (ar === 0) authEnd = p;
    if (cut < 0) cut = p;
    if (rcode !== Rcode.SERVFAIL && (rcode === Rcode.NXDOMAIN || !positive)) {
      // negative (RFC 2308 §5): only with an SOA, for min(SOA TTL, MINIMUM)
      if (soaTtlAt < 0) return false;
      let neg = ttls[soaTtlAt * 2 + 1];
      if (soaMinimum < neg) neg = soaMinimum;
      ttls[soaTtlAt * 2 + 1] = neg;
      if (neg < life) life = neg;
    }
    if (!(life > 0)) return false;

    const data = new Uint8Array(cut + 4 * (3 + nTtl * 2 + nInl * 2 + nAdd));
    data.set(b.subarray(0, cut), 0);
    for (let i = HEADER_SIZE; i < HEADER_SIZE + qlen; i++) data[i] = fold(data[i]);
    data[10] = nAdd >> 8;
    data[11] = nAdd & 0xff;
    let m = cut;
    const word = (v: number): void => {
      put32(data, m, v);
      m += 4;
    };
    word(nTtl);
    for (let i = 0; i < nTtl * 2; i++) word(ttls[i]);
    word(nInl);
    for (let i = 0; i < nInl * 2; i++) word(inl[i]);
    word(nAdd);
    for (let i = 0; i < nAdd; i++) word(adds[i]);
    const now = this.now();
    const e = new Entry(r.hash, qlen, r.qtype, r.qclass, r.flags, data, cut, authEnd, now, now + life * 1000);
    this.insert(e, query, r);
    return true;
  }

  // ---- serve ---------------------------------------------------------------------------------------

  /** Writes the reply for the client (`r`, `req`) from `e` into `out`; its length, or 0 if `out` is too small. */
  private write(e: Entry, req: Uint8Array, r: Req, now: number, limit: number, out: Uint8Array): number {
    const msg = e.data;
    const len = e.len;
    const optLen = r.edns ? OPT_LEN : 0;
    // the metadata words after the message (see Entry.data)
    const nTtl = u32(msg, len);
    const inlAt = len + 4 + nTtl * 8;
    const nInl = u32(msg, inlAt);
    const addAt = inlAt + 4 + nInl * 8;
    const nAdd = u32(msg, addAt);
    let cut = len;
    let kept = nAdd;
    let tc = false;
    if (cut + optLen > limit) {
      if (e.authEnd + optLen <= limit) {
        // drop additional records from the end (no TC: RFC 2181 §9)
        cut = e.authEnd;
        kept = 0;
        for (let i = 0; i < nAdd; i++) {
          const end = u32(msg, addAt + 4 + i * 4);
          if (end + optLen > limit) break;
          cut = end;
          kept++;
        }
      } else {
        tc = true;
        cut = r.qend;
        kept = 0;
      }
    }
    if (cut + optLen > out.length) return 0;
    // a byte loop: copying a prefix with set() would need a subarray (an allocation per hit)
    for (let i = 0; i < cut; i++) out[i] = msg[i];
    // header: the client's ID, RD and CD; RA (we recursed), AA clear (from a cache), AD only when asked
    out[0] = r.id >> 8;
    out[1] = r.id & 0xff;
    let f2 = msg[2] & ~((Flag.AA | Flag.TC | Flag.RD) >> 8);
    if (r.rd) f2 |= Flag.RD >> 8;
    if (tc) f2 |= Flag.TC >> 8;
    out[2] = f2;
    let f3 = (msg[3] | Flag.RA) & ~Flag.CD;
    if (r.cd) f3 |= Flag.CD;
    if (!r.ad && (r.flags & KEY_DO) === 0) f3 &= ~Flag.AD;
    out[3] = f3;
    if (tc) out[6] = out[7] = out[8] = out[9] = 0;
    const ar = kept + (r.edns ? 1 : 0);
    out[10] = ar >> 8;
    out[11] = ar & 0xff;
    // the client's question octets, and the owners spelled out inline that equal it
    const qlen = e.qlen;
    for (let i = HEADER_SIZE; i < HEADER_SIZE + qlen; i++) out[i] = req[i];
    for (let i = 0; i < nInl; i++) {
      const at = u32(msg, inlAt + 4 + i * 8);
      if (at >= cut) break;
      const n = u32(msg, inlAt + 8 + i * 8);
      for (let j = 0; j < n; j++) out[at + j] = req[HEADER_SIZE + j];
    }
    // TTLs counted down by the whole seconds elapsed
    const elapsed = Math.floor((now - e.insertedAt) / 1000);
    for (let i = 0; i < nTtl; i++) {
      const at = u32(msg, len + 4 + i * 8);
      if (at >= cut) break;
      const t = u32(msg, len + 8 + i * 8) - elapsed;
      put32(out, at, Math.max(t, 0));
    }
    if (r.edns) {
      // OPT: root owner, type 41, our UDP size, extended rcode 0, version 0, DO copied, no options
      out[cut] = 0;
      out[cut + 1] = 0;
      out[cut + 2] = RRType.OPT;
      out[cut + 3] = this.udpSize >> 8;
      out[cut + 4] = this.udpSize & 0xff;
      out[cut + 5] = 0;
      out[cut + 6] = 0;
      out[cut + 7] = (r.flags & KEY_DO) !== 0 ? 0x80 : 0;
      out[cut + 8] = 0;
      out[cut + 9] = 0;
      out[cut + 10] = 0;
    }
    return cut + optLen;
  }
}
