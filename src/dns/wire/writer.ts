/**
 * Hot-path response writer. One ResponseWriter owns one Buffer and is reused for every reply:
 * start() → add*() in section order → finish(limit) → send buf[0, length). Nothing is allocated
 * per message: the compression table is a fixed open-addressing hash whose slots are
 * invalidated by bumping a generation number.
 */

import { parseIPv4Into, parseIPv6Into } from '../../records/ip.js';
import {
  Flag,
  HEADER_SIZE,
  MAX_MESSAGE,
  MIN_UDP_SIZE,
  OPCODE_SHIFT,
  Rcode,
  RRClass,
  RRType,
  Section,
  type SectionId,
} from './constants.js';
import { WireError } from './errors.js';
import { nameToWire } from './names.js';
import type { Query } from './query.js';

/** Owner meaning "the question name": a compression pointer to offset 12 (keeps the query's case). */
export const QNAME = 12;

/**
 * An owner name: a presentation string (compressed against what was written before), or the
 * offset of a name already in this message (QNAME, or `targetOffset` after an add).
 */
export type Owner = string | number;

/** The EDNS Client Subnet fields to echo; a Query satisfies it. */
export interface EcsSource {
  ecs: boolean;
  ecsFamily: number;
  ecsSourcePrefix: number;
  ecsAddress: Uint8Array;
}

const TABLE_SIZE = 1 << 14;
const TABLE_MASK = TABLE_SIZE - 1;
/** Compression targets must lie in the first 16 KiB (14-bit pointers). */
const MAX_POINTER = 0x3fff;
const MAX_ENTRIES = TABLE_SIZE >> 1;
const MAX_RRS = 8192;
/** Worst-case owner + fixed RR header: name 255 + type/class/ttl/rdlength 10. */
const RR_OVERHEAD = 265;
const SLACK = 2048;

export class ResponseWriter {
  /** The reply is buf[0, length) after finish(). */
  readonly buf: Buffer = Buffer.alloc(MAX_MESSAGE + SLACK);
  /** Length returned by the last finish(). */
  length = 0;
  /** Offset of the rdata name written by the last addCNAME/addNS/addPTR/addMX/addSRV, usable as an Owner; -1 if unusable. */
  targetOffset = -1;
  /** Class of the records added next (reset to IN by start()). */
  rrClass: number = RRClass.IN;

  private pos = 0;
  private started = false;
  private hasQuestion = false;
  private questionEnd = 0;
  private headerFlags = 0;
  private rcode = 0;
  private section = 1;
  private readonly counts = new Int32Array(4);
  private readonly rrStarts = new Int32Array(MAX_RRS);
  private rrCount = 0;
  /** Section in which a record did not fit in the buffer (0 = none). */
  private overflowSection = 0;
  private inRR = false;
  private rrBegin = 0;
  private rdStart = 0;

  private optSet = false;
  private optUdp = 0;
  private optVersion = 0;
  private optDo = false;
  private ecsFamily = 0;
  private ecsSource = 0;
  private ecsScope = 0;
  private ecsLen = 0;
  private readonly ecsAddr = new Uint8Array(16);

  // compression table
  private gen = 0;
  private entries = 0;
  private questionIndexed = false;
  private readonly slotGen = new Uint32Array(TABLE_SIZE);
  private readonly slotHash = new Int32Array(TABLE_SIZE);
  private readonly slotOff = new Uint16Array(TABLE_SIZE);
  // analysis of the name being written
  private readonly scratch: Buffer = Buffer.alloc(256);
  private readonly labelOff = new Int32Array(128);
  private readonly hashes = new Int32Array(129);

  /**
   * Begins a reply to `q`: header (id, opcode, RD and CD copied; QR set) and, when the query's
   * question was readable, the question with the request's own qname octets (case preserved).
   * `rcode` may be extended (> 15, e.g. BADVERS): its upper bits go in the OPT record.
   * `flags` is a bit set of Flag.AA, Flag.RA, Flag.AD (others are ignored).
   */
  start(q: Query, rcode: number, flags: number): void {
    const b = this.buf;
    this.started = true;
    this.pos = HEADER_SIZE;
    this.length = 0;
    this.targetOffset = -1;
    this.rrClass = RRClass.IN;
    this.section = Section.ANSWER;
    this.counts[1] = this.counts[2] = this.counts[3] = 0;
    this.rrCount = 0;
    this.overflowSection = 0;
    this.inRR = false;
    this.optSet = false;
    this.rcode = rcode & 0xfff;
    this.headerFlags =
      Flag.QR |
      ((q.opcode & 0xf) << OPCODE_SHIFT) |
      (flags & (Flag.AA | Flag.RA | Flag.AD)) |
      (q.flags & (Flag.RD | Flag.CD));
    if (++this.gen === 0x100000000) {
      this.slotGen.fill(0);
      this.gen = 1;
    }
    this.entries = 0;
    b[0] = q.id >> 8;
    b[1] = q.id & 0xff;
    this.hasQuestion = q.hasQuestion;
    if (q.hasQuestion) {
      const n = q.qnameLength;
      const src = q.qnameWire;
      for (let i = 0; i < n; i++) b[HEADER_SIZE + i] = src[i];
      let p = HEADER_SIZE + n;
      b[p++] = q.qtype >> 8;
      b[p++] = q.qtype & 0xff;
      b[p++] = q.qclass >> 8;
      b[p++] = q.qclass & 0xff;
      this.pos = p;
    }
    // the question's suffixes become compression targets when the first name is written
    this.questionIndexed = !q.hasQuestion;
    this.questionEnd = this.pos;
  }

  /**
   * A whole reply without records: `rcode`, the question echoed when it was readable, and an OPT
   * with `udpSize` when the request had one (DO copied, except on FORMERR: the request's flags
   * may be what was malformed). Returns its length for `limit`.
   */
  empty(q: Query, rcode: number, udpSize: number, limit: number): number {
    this.start(q, rcode, 0);
    if (q.edns) this.addOPT(udpSize, 0, rcode === Rcode.FORMERR ? false : q.do);
    return this.finish(limit);
  }

  /** Replaces the rcode given to start() (e.g. NXDOMAIN once the lookup is done). */
  setRcode(rcode: number): void {
    this.rcode = rcode & 0xfff;
  }

  /** Sets (`on`) or clears header flag bits (AA, RA, AD). */
  setFlags(bits: number, on: boolean): void {
    bits &= Flag.AA | Flag.RA | Flag.AD;
    this.headerFlags = on ? this.headerFlags | bits : this.headerFlags & ~bits;
  }

  /** Octets written so far (before finish(): without the OPT). */
  get size(): number {
    return this.pos;
  }

  /**
   * Keeps only the first `n` answer records, dropping what was written after them (only while
   * nothing was added to a later section). Compression entries into the dropped octets stay
   * harmless: see matches().
   */
  keepAnswers(n: number): void {
    if (this.inRR) this.rollback();
    if (this.counts[2] + this.counts[3] > 0)
      throw new Error('ResponseWriter.keepAnswers after a record of a later section');
    if (n >= this.counts[1]) return;
    this.pos = this.rrStarts[n];
    this.counts[1] = n;
    this.rrCount = n;
    this.overflowSection = 0;
    this.targetOffset = -1;
  }

  /** Number of records in a section so far. */
  count(section: SectionId): number {
    return this.counts[section];
  }

  /** A record; `addr` is a 32-bit number (0xC0000201 = 192.0.2.1), 4 octets, or dotted-quad text. */
  addA(section: SectionId, owner: Owner, ttl: number, addr: number | Uint8Array | string): void {
    if (!this.begin(section, owner, RRType.A, ttl, 4)) return;
    const b = this.buf;
    const p = this.pos;
    if (typeof addr === 'number') {
      b[p] = addr >>> 24;
      b[p + 1] = (addr >>> 16) & 0xff;
      b[p + 2] = (addr >>> 8) & 0xff;
      b[p + 3] = addr & 0xff;
    } else if (typeof addr === 'string') {
      if (!parseIPv4Into(addr, b, p)) this.fail('BADADDR', `not an IPv4 address: "${addr}"`);
    } else {
      if (addr.length !== 4) this.fail('BADADDR', `IPv4 address must be 4 octets, got ${addr.length}`);
      b[p] = addr[0];
      b[p + 1] = addr[1];
      b[p + 2] = addr[2];
      b[p + 3] = addr[3];
    }
    this.pos = p + 4;
    this.end();
  }

  /** AAAA record; `addr` is 16 octets or IPv6 text. */
  addAAAA(section: SectionId, owner: Owner, ttl: number, addr: Uint8Array | string): void {
    if (!this.begin(section, owner, RRType.AAAA, ttl, 16)) return;
    const b = this.buf;
    const p = this.pos;
    if (typeof addr === 'string') {
      if (!parseIPv6Into(addr, b, p)) this.fail('BADADDR', `not an IPv6 address: "${addr}"`);
    } else {
      if (addr.length !== 16) this.fail('BADADDR', `IPv6 address must be 16 octets, got ${addr.length}`);
      for (let i = 0; i < 16; i++) b[p + i] = addr[i];
    }
    this.pos = p + 16;
    this.end();
  }

  addCNAME(section: SectionId, owner: Owner, ttl: number, target: string): void {
    this.addNameRR(section, owner, RRType.CNAME, ttl, target);
  }

  addNS(section: SectionId, owner: Owner, ttl: number, host: string): void {
    this.addNameRR(section, owner, RRType.NS, ttl, host);
  }

  addPTR(section: SectionId, owner: Owner, ttl: number, target: string): void {
    this.addNameRR(section, owner, RRType.PTR, ttl, target);
  }

  addMX(section: SectionId, owner: Owner, ttl: number, preference: number, exchange: string): void {
    if (!this.begin(section, owner, RRType.MX, ttl, 257)) return;
    this.u16(preference);
    this.targetOffset = this.pos <= MAX_POINTER ? this.pos : -1;
    this.writeName(exchange, true);
    this.end();
  }

  /**
   * SRV record. The target is never compressed (RFC 2782) and is not offered to later names as
   * a compression target; `targetOffset` still lets a caller point an owner at it explicitly.
   */
  addSRV(
    section: SectionId,
    owner: Owner,
    ttl: number,
    priority: number,
    weight: number,
    port: number,
    target: string,
  ): void {
    if (!this.begin(section, owner, RRType.SRV, ttl, 261)) return;
    this.u16(priority);
    this.u16(weight);
    this.u16(port);
    this.targetOffset = this.pos <= MAX_POINTER ? this.pos : -1;
    this.writeName(target, false);
    this.end();
  }

  /**
   * TXT record. Each string's UTF-8 octets are split into character-strings of at most 255
   * octets (a split may fall inside a multi-byte character: TXT data is octets). An empty
   * string, or an empty list, gives one empty character-string.
   */
  addTXT(section: SectionId, owner: Owner, ttl: number, strings: readonly string[] | string): void {
    let rdlen = 0;
    if (typeof strings === 'string') rdlen = txtLength(strings);
    else {
      for (let i = 0; i < strings.length; i++) rdlen += txtLength(strings[i]);
      if (strings.length === 0) rdlen = 1;
    }
    if (rdlen > 0xffff) this.fail('BADVALUE', `TXT data of ${rdlen} octets exceeds 65535`);
    if (!this.begin(section, owner, RRType.TXT, ttl, rdlen)) return;
    if (typeof strings === 'string') this.txt(strings);
    else if (strings.length === 0) this.buf[this.pos++] = 0;
    else for (let i = 0; i < strings.length; i++) this.txt(strings[i]);
    this.end();
  }

  /** SOA record; `rname` is the mailbox in name form (`hostmaster.example.`). */
  addSOA(
    section: SectionId,
    owner: Owner,
    ttl: number,
    mname: string,
    rname: string,
    serial: number,
    refresh: number,
    retry: number,
    expire: number,
    minimum: number,
  ): void {
    if (!this.begin(section, owner, RRType.SOA, ttl, 530)) return;
    this.writeName(mname, true);
    this.writeName(rname, true);
    this.u32(serial);
    this.u32(refresh);
    this.u32(retry);
    this.u32(expire);
    this.u32(minimum);
    this.end();
  }

  /** Any record type from ready-made RDATA (RFC 3597); names inside are not compressed. */
  addRaw(section: SectionId, owner: Owner, type: number, ttl: number, rdata: Uint8Array): void {
    if (rdata.length > 0xffff) this.fail('BADVALUE', `RDATA of ${rdata.length} octets exceeds 65535`);
    if (type === RRType.OPT) throw new Error('ResponseWriter: use addOPT for OPT records');
    if (!this.begin(section, owner, type & 0xffff, ttl, rdata.length)) return;
    this.buf.set(rdata, this.pos);
    this.pos += rdata.length;
    this.end();
  }

  /**
   * Requests an OPT record (RFC 6891), written by finish() as the last additional record and
   * kept through truncation. Its extended-rcode bits come from the rcode given to start() /
   * setRcode(). With `ecs` (a Query whose `ecs` is true) the Client Subnet option is echoed
   * with the given scope prefix length (RFC 7871 §7.2.1).
   */
  addOPT(udpSize: number, version: number, dnssecOk: boolean, ecs?: EcsSource | null, scopePrefix = 0): void {
    this.optSet = true;
    this.optUdp = udpSize < MIN_UDP_SIZE ? MIN_UDP_SIZE : Math.min(udpSize, 0xffff);
    this.optVersion = version & 0xff;
    this.optDo = dnssecOk;
    if (ecs?.ecs) {
      const max = ecs.ecsFamily === 1 ? 32 : 128;
      const source = Math.min(ecs.ecsSourcePrefix, max);
      this.ecsFamily = ecs.ecsFamily;
      this.ecsSource = source;
      this.ecsScope = scopePrefix < 0 ? 0 : Math.min(scopePrefix, max);
      this.ecsLen = (source + 7) >> 3;
      for (let i = 0; i < 16; i++) this.ecsAddr[i] = i < this.ecsLen ? ecs.ecsAddress[i] : 0;
      const rem = source & 7;
      if (rem !== 0) this.ecsAddr[this.ecsLen - 1] &= 0xff << (8 - rem);
    } else this.ecsFamily = 0;
  }

  /**
   * Completes the reply for a transport limit (the client's UDP size, or 65535 on TCP; clamped
   * to 512..65535) and returns its length. Truncation policy (README): additional records are
   * dropped from the end without TC; if the answer or authority section cannot be complete,
   * the reply becomes header + question + OPT with TC set.
   */
  finish(limit: number): number {
    if (!this.started) throw new Error('ResponseWriter.finish() before start()');
    if (this.inRR) this.rollback();
    if (!(limit >= MIN_UDP_SIZE)) limit = MIN_UDP_SIZE;
    else if (limit > MAX_MESSAGE) limit = MAX_MESSAGE;
    const b = this.buf;
    const counts = this.counts;
    let optLen = this.optSet ? 11 + (this.ecsFamily !== 0 ? 8 + this.ecsLen : 0) : 0;
    let tc = false;
    const ov = this.overflowSection;
    if ((ov === 0 || ov === Section.ADDITIONAL) && this.pos + optLen <= limit) {
      // everything fits (or only additional records were lost): no TC
    } else {
      const nonAdd = counts[1] + counts[2];
      const addStart = counts[3] > 0 ? this.rrStarts[nonAdd] : this.pos;
      if ((ov === 0 || ov === Section.ADDITIONAL) && addStart + optLen <= limit) {
        let k = counts[3];
        let end = this.pos;
        while (k > 0 && end + optLen > limit) {
          k--;
          end = this.rrStarts[nonAdd + k];
        }
        counts[3] = k;
        this.pos = end;
      } else {
        tc = true;
        counts[1] = counts[2] = counts[3] = 0;
        this.pos = this.questionEnd;
        if (this.pos + optLen > limit) optLen = 0;
      }
    }
    let arcount = counts[3];
    if (optLen > 0) {
      this.writeOPT();
      arcount++;
    }
    const flags = this.headerFlags | (tc ? Flag.TC : 0) | (this.rcode & 0xf);
    b[2] = flags >> 8;
    b[3] = flags & 0xff;
    b[4] = 0;
    b[5] = this.hasQuestion ? 1 : 0;
    b[6] = counts[1] >> 8;
    b[7] = counts[1] & 0xff;
    b[8] = counts[2] >> 8;
    b[9] = counts[2] & 0xff;
    b[10] = arcount >> 8;
    b[11] = arcount & 0xff;
    this.started = false;
    this.length = this.pos;
    return this.pos;
  }

  // ---- internals ----

  private writeOPT(): void {
    const b = this.buf;
    let p = this.pos;
    b[p++] = 0; // root owner
    b[p++] = 0;
    b[p++] = RRType.OPT;
    b[p++] = this.optUdp >> 8;
    b[p++] = this.optUdp & 0xff;
    b[p++] = (this.rcode >> 4) & 0xff;
    b[p++] = this.optVersion;
    b[p++] = this.optDo ? 0x80 : 0;
    b[p++] = 0;
    if (this.ecsFamily !== 0) {
      const olen = 4 + this.ecsLen;
      b[p++] = 0;
      b[p++] = 4 + olen;
      b[p++] = 0;
      b[p++] = 8; // CLIENT_SUBNET
      b[p++] = 0;
      b[p++] = olen;
      b[p++] = 0;
      b[p++] = this.ecsFamily;
      b[p++] = this.ecsSource;
      b[p++] = this.ecsScope;
      for (let i = 0; i < this.ecsLen; i++) b[p++] = this.ecsAddr[i];
    } else {
      b[p++] = 0;
      b[p++] = 0;
    }
    this.pos = p;
  }

  private addNameRR(section: SectionId, owner: Owner, type: number, ttl: number, target: string): void {
    if (!this.begin(section, owner, type, ttl, 255)) return;
    this.targetOffset = this.pos <= MAX_POINTER ? this.pos : -1;
    this.writeName(target, true);
    this.end();
  }

  /** Writes owner + type/class/ttl and reserves rdlength. False when the record cannot fit. */
  private begin(section: SectionId, owner: Owner, type: number, ttl: number, rdMax: number): boolean {
    if (!this.started) throw new Error('ResponseWriter: add before start()');
    if (this.inRR) this.rollback();
    if (section < this.section || section > Section.ADDITIONAL)
      throw new Error(`ResponseWriter: section ${section} after section ${this.section}`);
    this.section = section;
    this.targetOffset = -1;
    if (this.overflowSection !== 0) return false;
    if (this.pos + RR_OVERHEAD + rdMax > this.buf.length || this.rrCount === MAX_RRS) {
      this.overflowSection = section;
      return false;
    }
    this.rrBegin = this.pos;
    this.inRR = true;
    if (typeof owner === 'number') {
      if (
        owner === QNAME ? !this.hasQuestion : !(owner > QNAME && owner < this.rrBegin && owner <= MAX_POINTER)
      )
        throw new Error(`ResponseWriter: owner offset ${owner} is not a name in this message`);
      this.buf[this.pos++] = 0xc0 | (owner >> 8);
      this.buf[this.pos++] = owner & 0xff;
    } else this.writeName(owner, true);
    const b = this.buf;
    let p = this.pos;
    b[p++] = type >> 8;
    b[p++] = type & 0xff;
    b[p++] = (this.rrClass >> 8) & 0xff;
    b[p++] = this.rrClass & 0xff;
    // RFC 2181 §8: TTLs are 0..2^31-1
    const t = ttl > 0 ? (ttl > 0x7fffffff ? 0x7fffffff : ttl >>> 0) : 0;
    b[p++] = t >>> 24;
    b[p++] = (t >>> 16) & 0xff;
    b[p++] = (t >>> 8) & 0xff;
    b[p++] = t & 0xff;
    p += 2;
    this.rdStart = p;
    this.pos = p;
    return true;
  }

  private end(): void {
    const rdlen = this.pos - this.rdStart;
    this.buf[this.rdStart - 2] = rdlen >> 8;
    this.buf[this.rdStart - 1] = rdlen & 0xff;
    this.inRR = false;
    if (this.pos > MAX_MESSAGE) {
      this.pos = this.rrBegin;
      this.overflowSection = this.section;
      this.targetOffset = -1;
      return;
    }
    this.rrStarts[this.rrCount++] = this.rrBegin;
    this.counts[this.section]++;
  }

  /** Drops a record whose writing threw half-way. Compression entries into it stay harmless: see matches(). */
  private rollback(): void {
    this.pos = this.rrBegin;
    this.inRR = false;
    this.targetOffset = -1;
  }

  private fail(code: 'BADADDR' | 'BADVALUE', message: string): never {
    if (this.inRR) this.rollback();
    throw new WireError(code, message);
  }

  private u16(v: number): void {
    this.buf[this.pos++] = (v >> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
  }

  private u32(v: number): void {
    const b = this.buf;
    b[this.pos++] = (v >>> 24) & 0xff;
    b[this.pos++] = (v >>> 16) & 0xff;
    b[this.pos++] = (v >>> 8) & 0xff;
    b[this.pos++] = v & 0xff;
  }

  private txt(s: string): void {
    const b = this.buf;
    const n = Buffer.byteLength(s, 'utf8');
    if (n === 0) {
      b[this.pos++] = 0;
      return;
    }
    const chunks = Math.ceil(n / 255);
    const p = this.pos;
    // write the octets shifted right by `chunks`, then move each chunk down behind its length
    // octet; destinations never overtake the next chunk's source
    b.write(s, p + chunks, n, 'utf8');
    for (let i = 0; i < chunks; i++) {
      const len = i === chunks - 1 ? n - i * 255 : 255;
      const dst = p + i * 256;
      b[dst] = len;
      b.copy(b, dst + 1, p + chunks + i * 255, p + chunks + i * 255 + len);
    }
    this.pos = p + n + chunks;
  }

  /**
   * Writes a presentation name at pos. With `compress`, the longest suffix already in the
   * message becomes a pointer and the new suffixes become targets; without it the name is
   * written in full and not recorded (SRV targets).
   */
  private writeName(name: string, compress: boolean): void {
    if (!this.questionIndexed) {
      this.questionIndexed = true;
      const labels = this.analyze(this.buf, HEADER_SIZE);
      for (let i = 0; i < labels; i++) this.insert(this.hashes[i], this.labelOff[i]);
    }
    const s = this.scratch;
    nameToWire(name, s, 0); // throws WireError BADNAME
    const labels = this.analyze(s, 0);
    let match = -1;
    let upto = labels;
    if (compress) {
      for (let i = 0; i < labels; i++) {
        const off = this.lookup(s, this.labelOff[i], this.hashes[i]);
        if (off >= 0) {
          match = off;
          upto = i;
          break;
        }
      }
    }
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < upto; i++) {
      const lo = this.labelOff[i];
      const len = s[lo];
      if (compress && p <= MAX_POINTER) this.insert(this.hashes[i], p);
      b[p] = len;
      for (let k = 1; k <= len; k++) b[p + k] = s[lo + k];
      p += len + 1;
    }
    if (match >= 0) {
      b[p++] = 0xc0 | (match >> 8);
      b[p++] = match & 0xff;
    } else b[p++] = 0;
    this.pos = p;
  }

  /**
   * Fills labelOff/hashes for the uncompressed name at src[off]: hashes[i] identifies the
   * suffix starting at label i, case-insensitively. Returns the label count.
   */
  private analyze(src: Uint8Array, off: number): number {
    const lo = this.labelOff;
    let n = 0;
    let p = off;
    while (src[p] !== 0) {
      lo[n++] = p;
      p += src[p] + 1;
    }
    const h = this.hashes;
    h[n] = 0x2f1d3c4b;
    for (let i = n - 1; i >= 0; i--) {
      const start = lo[i];
      const len = src[start];
      let x = 0x811c9dc5 ^ len;
      for (let k = start + 1; k <= start + len; k++) {
        let c = src[k];
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        x = Math.imul(x ^ c, 0x01000193);
      }
      h[i] = Math.imul(h[i + 1] ^ x, 0x9e3779b1) ^ (x >>> 13);
    }
    return n;
  }

  private insert(hash: number, off: number): void {
    if (this.entries >= MAX_ENTRIES) return;
    let i = (hash ^ (hash >>> 16)) & TABLE_MASK;
    while (this.slotGen[i] === this.gen) i = (i + 1) & TABLE_MASK;
    this.slotGen[i] = this.gen;
    this.slotHash[i] = hash;
    this.slotOff[i] = off;
    this.entries++;
  }

  private lookup(src: Uint8Array, srcOff: number, hash: number): number {
    let i = (hash ^ (hash >>> 16)) & TABLE_MASK;
    while (this.slotGen[i] === this.gen) {
      if (this.slotHash[i] === hash) {
        const off = this.slotOff[i];
        if (this.matches(src, srcOff, off)) return off;
      }
      i = (i + 1) & TABLE_MASK;
    }
    return -1;
  }

  /**
   * True when the name at message offset `off` (following pointers) equals the uncompressed
   * name at src[a], ignoring ASCII case. Only targets before pos, and pointers that point
   * backwards, are accepted, so a pointer to `off` is valid whatever the table holds.
   */
  private matches(src: Uint8Array, a: number, off: number): boolean {
    const b = this.buf;
    let p = off;
    if (p >= this.pos || p < HEADER_SIZE) return false;
    for (;;) {
      let l = b[p];
      while (l >= 0xc0) {
        const t = ((l & 0x3f) << 8) | b[p + 1];
        if (t >= p || t < HEADER_SIZE) return false;
        p = t;
        l = b[p];
      }
      if (l >= 0x40) return false;
      if (src[a] !== l) return false;
      if (l === 0) return true;
      if (p + 1 + l >= this.pos) return false;
      for (let k = 1; k <= l; k++) {
        let x = src[a + k];
        let y = b[p + k];
        if (x >= 0x41 && x <= 0x5a) x |= 0x20;
        if (y >= 0x41 && y <= 0x5a) y |= 0x20;
        if (x !== y) return false;
      }
      a += l + 1;
      p += l + 1;
    }
  }
}

function txtLength(s: string): number {
  const n = Buffer.byteLength(s, 'utf8');
  return n === 0 ? 1 : n + Math.ceil(n / 255);
}
