/**
 * Hot-path query parser: fills a caller-owned, reused Query from a request datagram/frame.
 * It allocates nothing except the lower-case qname string, and not even that when the name is
 * the same as the one the Query object held before (the string is reused).
 */

import { EcsFamily, EdnsOption, Flag, MIN_UDP_SIZE, OPCODE_MASK, OPCODE_SHIFT, RRType } from './constants.js';
import { SKIP_BAD_LABEL, SKIP_BAD_POINTER, skipName } from './names.js';

/** Result of parseQuery. */
export const ParseStatus = Object.freeze({
  /** A well-formed QUERY: answer it. */
  OK: 0,
  /** Header readable, rest malformed: answer FORMERR (with the question if `hasQuestion`, OPT if `edns`). */
  FORMERR: 1,
  /** Too short for a header, or a response (QR set): send nothing. */
  DROP: 2,
  /** Opcode other than QUERY: answer NOTIMP (question/OPT echoed when they could be read). */
  NOTIMP: 3,
  /** Well-formed, but EDNS version > 0: answer BADVERS (rcode 16) with an OPT of version 0. */
  BADVERS: 4,
} as const);
export type ParseStatus = (typeof ParseStatus)[keyof typeof ParseStatus];

/** Why a packet was not OK; a constant string (no allocation), for logs, metrics and tests. */
export type ParseReason =
  | ''
  | 'short header'
  | 'response'
  | 'opcode'
  | 'qdcount'
  | 'truncated question'
  | 'bad label type'
  | 'pointer in question'
  | 'name too long'
  | 'truncated record'
  | 'bad pointer'
  | 'OPT outside additional'
  | 'multiple OPT'
  | 'OPT owner not root'
  | 'bad option'
  | 'bad ECS'
  | 'multiple ECS'
  | 'EDNS version';

/**
 * One parsed query. Create with newQuery() and reuse it for every packet: parseQuery resets
 * every field. Buffers inside (qnameWire, ecsAddress) are owned by the Query and overwritten
 * by the next parse.
 */
export class Query {
  /** Why the status is not OK ('' when OK). */
  reason: ParseReason = '';
  id = 0;
  /** The raw 16-bit flags word of the request. */
  flags = 0;
  opcode = 0;
  rd = false;
  cd = false;
  ad = false;
  qdcount = 0;
  ancount = 0;
  nscount = 0;
  arcount = 0;

  /** The question was read completely (name, type, class). The other q* fields are valid only then. */
  hasQuestion = false;
  /** Lower-case presentation form with trailing dot (`.` for the root); see README for escapes. */
  qname = '.';
  /** Offset of the raw qname in the request (always 12: the question follows the header). */
  qnameOffset = 12;
  /** Wire length of the qname, including the root octet. */
  qnameLength = 0;
  /** Number of labels, the root not counted. */
  qnameLabels = 0;
  /** The request's qname octets, letter case as sent (0x20), uncompressed; first qnameLength bytes. */
  readonly qnameWire: Buffer = Buffer.alloc(256);
  /**
   * A label holds an octet that presentation form must escape (`.`, `\`, or outside 0x21..0x7e):
   * qname then contains `\.`, `\\` or `\DDD` and names no record Hades can store.
   */
  qnameEscaped = false;
  /**
   * Every octet of every label is a letter, digit, `-`, `_` or `*`: the only names the record
   * layer can store. A false value means "cannot exist in the catalog" (e.g. `a/b`, `a\.b`).
   */
  qnamePlain = true;
  qtype = 0;
  qclass = 0;
  /** Offset just after the question in the request. */
  questionEnd = 0;

  /** An OPT record was present (also set when the OPT itself was malformed). */
  edns = false;
  ednsVersion = 0;
  /** The 16-bit EDNS flags field (DO is its top bit). */
  ednsFlags = 0;
  /** The requestor's UDP payload size, at least 512 (512 without EDNS). */
  udpSize = MIN_UDP_SIZE;
  /** DNSSEC OK. */
  do = false;

  /**
   * Offset of a TSIG record's owner in the request (RFC 8945: the last additional record), or -1.
   * Only noted here: src/dns/transfer verifies it.
   */
  tsigOffset = -1;

  /** An EDNS Client Subnet option (RFC 7871) was present and valid. */
  ecs = false;
  /** 1 = IPv4, 2 = IPv6. */
  ecsFamily = 0;
  ecsSourcePrefix = 0;
  ecsScopePrefix = 0;
  /** Address octets, zero-padded to 16; the first ecsAddressLength = ceil(source/8) were sent. */
  readonly ecsAddress: Buffer = Buffer.alloc(16);
  ecsAddressLength = 0;

  /** @internal lower-case presentation bytes of `qname`, to reuse the string for a repeated name. */
  readonly _pres: Buffer = Buffer.alloc(1024);
  /** @internal length of `_pres` matching `qname`, -1 when stale. */
  _presLen = -1;
}

/** A fresh reusable Query. */
export function newQuery(): Query {
  return new Query();
}

const OPT = RRType.OPT;
const ECS = EdnsOption.CLIENT_SUBNET;
const TSIG = RRType.TSIG;

/**
 * Parses the first `len` bytes of `buf` into `q`. Never throws, never allocates except the qname
 * string. See ParseStatus and the README for the exact FORMERR/DROP/NOTIMP/BADVERS rules.
 */
export function parseQuery(buf: Buffer, len: number, q: Query): ParseStatus {
  if (len > buf.length) len = buf.length;
  q.reason = '';
  q.hasQuestion = false;
  q.qnameLength = 0;
  q.qnameLabels = 0;
  q.qnameEscaped = false;
  q.qnamePlain = true;
  q.qtype = 0;
  q.qclass = 0;
  q.questionEnd = 0;
  q.edns = false;
  q.ednsVersion = 0;
  q.ednsFlags = 0;
  q.udpSize = MIN_UDP_SIZE;
  q.do = false;
  q.ecs = false;
  q.ecsFamily = 0;
  q.ecsSourcePrefix = 0;
  q.ecsScopePrefix = 0;
  q.ecsAddressLength = 0;
  q.tsigOffset = -1;
  if (len < 12) {
    q.id = q.flags = q.opcode = q.qdcount = q.ancount = q.nscount = q.arcount = 0;
    q.rd = q.cd = q.ad = false;
    q.reason = 'short header';
    return ParseStatus.DROP;
  }
  const flags = (buf[2] << 8) | buf[3];
  q.id = (buf[0] << 8) | buf[1];
  q.flags = flags;
  q.opcode = (flags & OPCODE_MASK) >> OPCODE_SHIFT;
  q.rd = (flags & Flag.RD) !== 0;
  q.cd = (flags & Flag.CD) !== 0;
  q.ad = (flags & Flag.AD) !== 0;
  q.qdcount = (buf[4] << 8) | buf[5];
  q.ancount = (buf[6] << 8) | buf[7];
  q.nscount = (buf[8] << 8) | buf[9];
  q.arcount = (buf[10] << 8) | buf[11];
  if ((flags & Flag.QR) !== 0) {
    q.reason = 'response';
    return ParseStatus.DROP;
  }
  if (q.opcode !== 0) {
    // Best effort: read the question and OPT so the NOTIMP reply can echo them.
    parseBody(buf, len, q);
    q.reason = 'opcode';
    return ParseStatus.NOTIMP;
  }
  return parseBody(buf, len, q);
}

function formerr(q: Query, reason: ParseReason): ParseStatus {
  q.reason = reason;
  return ParseStatus.FORMERR;
}

function parseBody(buf: Buffer, len: number, q: Query): ParseStatus {
  if (q.qdcount !== 1) return formerr(q, 'qdcount');
  let p = parseQuestionName(buf, len, q);
  if (p < 0) return ParseStatus.FORMERR;
  if (p + 4 > len) return formerr(q, 'truncated question');
  q.qtype = (buf[p] << 8) | buf[p + 1];
  q.qclass = (buf[p + 2] << 8) | buf[p + 3];
  p += 4;
  q.questionEnd = p;
  q.hasQuestion = true;

  // Answer and authority sections: skipped, but must be well-formed and hold no OPT.
  const skip = q.ancount + q.nscount;
  for (let i = 0; i < skip; i++) {
    p = skipName(buf, p, len);
    if (p < 0)
      return formerr(
        q,
        p === SKIP_BAD_POINTER ? 'bad pointer' : p === SKIP_BAD_LABEL ? 'bad label type' : 'truncated record',
      );
    if (p + 10 > len) return formerr(q, 'truncated record');
    if (((buf[p] << 8) | buf[p + 1]) === OPT) return formerr(q, 'OPT outside additional');
    p += 10 + ((buf[p + 8] << 8) | buf[p + 9]);
    if (p > len) return formerr(q, 'truncated record');
  }

  for (let i = 0; i < q.arcount; i++) {
    const owner = p;
    p = skipName(buf, p, len);
    if (p < 0)
      return formerr(
        q,
        p === SKIP_BAD_POINTER ? 'bad pointer' : p === SKIP_BAD_LABEL ? 'bad label type' : 'truncated record',
      );
    if (p + 10 > len) return formerr(q, 'truncated record');
    const rdlen = (buf[p + 8] << 8) | buf[p + 9];
    const rdata = p + 10;
    const end = rdata + rdlen;
    if (end > len) return formerr(q, 'truncated record');
    const type = (buf[p] << 8) | buf[p + 1];
    if (type === TSIG) q.tsigOffset = owner;
    if (type === OPT) {
      if (q.edns) return formerr(q, 'multiple OPT');
      q.edns = true;
      const size = (buf[p + 2] << 8) | buf[p + 3];
      q.udpSize = Math.max(size, MIN_UDP_SIZE);
      // TTL field: extended rcode (8) | version (8) | flags (16)
      q.ednsVersion = buf[p + 5];
      q.ednsFlags = (buf[p + 6] << 8) | buf[p + 7];
      q.do = (buf[p + 6] & 0x80) !== 0;
      if (p !== owner + 1 || buf[owner] !== 0) return formerr(q, 'OPT owner not root');
      const st = parseOptions(buf, rdata, end, q);
      if (st !== ParseStatus.OK) return st;
    }
    p = end;
  }
  // Octets after the last counted record are ignored (see README).
  if (q.edns && q.ednsVersion !== 0) {
    q.reason = 'EDNS version';
    return ParseStatus.BADVERS;
  }
  return ParseStatus.OK;
}

/**
 * Reads the question name at offset 12: copies its raw bytes to q.qnameWire and builds the
 * lower-case presentation string. Returns the offset after the name, or -1 (reason set).
 */
function parseQuestionName(buf: Buffer, len: number, q: Query): number {
  const wire = q.qnameWire;
  const pres = q._pres;
  const prevLen = q._presLen;
  let same = true;
  let w = 0; // octets copied to wire
  let n = 0; // presentation length
  let p = 12;
  let labels = 0;
  let escaped = false;
  let plain = true;
  for (;;) {
    if (p >= len) return badName(q, 'truncated question');
    const l = buf[p];
    if (l === 0) break;
    if (l >= 0x40) return badName(q, l >= 0xc0 ? 'pointer in question' : 'bad label type');
    if (p + 1 + l > len) return badName(q, 'truncated question');
    // the name so far plus this label plus the root octet
    if (w + 1 + l + 1 > 255) return badName(q, 'name too long');
    wire[w++] = l;
    const e = p + 1 + l;
    for (let i = p + 1; i < e; i++) {
      let c = buf[i];
      wire[w++] = c;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      else if (
        !((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f || c === 0x2a)
      ) {
        plain = false;
        if (c === 0x2e || c === 0x5c || c < 0x21 || c > 0x7e) {
          escaped = true;
          if (same && pres[n] !== 0x5c) same = false;
          pres[n++] = 0x5c;
          if (c !== 0x2e && c !== 0x5c) {
            const d0 = 0x30 + ((c / 100) | 0);
            const d1 = 0x30 + (((c / 10) | 0) % 10);
            if (same && (pres[n] !== d0 || pres[n + 1] !== d1)) same = false;
            pres[n++] = d0;
            pres[n++] = d1;
            c = 0x30 + (c % 10);
          }
        }
      }
      if (same && pres[n] !== c) same = false;
      pres[n++] = c;
    }
    if (same && pres[n] !== 0x2e) same = false;
    pres[n++] = 0x2e;
    labels++;
    p = e;
  }
  wire[w++] = 0;
  p++;
  if (labels === 0) {
    if (same && pres[0] !== 0x2e) same = false;
    pres[n++] = 0x2e;
  }
  if (!same || n !== prevLen) {
    q.qname = pres.toString('latin1', 0, n);
    q._presLen = n;
  }
  q.qnameLength = w;
  q.qnameLabels = labels;
  q.qnameEscaped = escaped;
  q.qnamePlain = plain;
  return p;
}

function badName(q: Query, reason: ParseReason): number {
  q._presLen = -1; // _pres was partly overwritten: the cached qname no longer matches it
  q.qnameLength = 0;
  q.reason = reason;
  return -1;
}

/** Walks the OPT RDATA options in [p, end). */
function parseOptions(buf: Buffer, p: number, end: number, q: Query): ParseStatus {
  while (p < end) {
    if (p + 4 > end) return formerr(q, 'bad option');
    const code = (buf[p] << 8) | buf[p + 1];
    const olen = (buf[p + 2] << 8) | buf[p + 3];
    const data = p + 4;
    p = data + olen;
    if (p > end) return formerr(q, 'bad option');
    if (code === ECS) {
      if (q.ecs) return formerr(q, 'multiple ECS');
      if (olen < 4) return formerr(q, 'bad ECS');
      const family = (buf[data] << 8) | buf[data + 1];
      const source = buf[data + 2];
      const max = family === EcsFamily.IPV4 ? 32 : family === EcsFamily.IPV6 ? 128 : 0;
      if (max === 0 || source > max) return formerr(q, 'bad ECS');
      const alen = (source + 7) >> 3;
      if (olen - 4 !== alen) return formerr(q, 'bad ECS');
      // RFC 7871 §6: bits beyond SOURCE PREFIX-LENGTH must be zero
      if ((source & 7) !== 0 && (buf[data + 4 + alen - 1] & (0xff >> (source & 7))) !== 0)
        return formerr(q, 'bad ECS');
      const addr = q.ecsAddress;
      for (let i = 0; i < 16; i++) addr[i] = i < alen ? buf[data + 4 + i] : 0;
      q.ecs = true;
      q.ecsFamily = family;
      q.ecsSourcePrefix = source;
      q.ecsScopePrefix = buf[data + 3];
      q.ecsAddressLength = alen;
    }
  }
  return ParseStatus.OK;
}
