/**
 * Byte-level helpers for relaying messages: walking the sections without decoding names,
 * matching a reply's question against ours, rewriting a reply for the client (ID, question case,
 * RA, OPT size, truncation), and the small error replies. No allocation except the reply buffers
 * themselves; every loop is bounded by the message length.
 */
import type { Transport } from '../types.js';
import { Flag, HEADER_SIZE, MAX_MESSAGE, MIN_UDP_SIZE, RRType } from '../wire/constants.js';

/** Offsets found by walkMessage (one reused instance: walkMessage is synchronous). */
export interface Walk {
  /** Offset after the question section. */
  questionEnd: number;
  /** Offset where the additional section starts (after answer + authority). */
  authEnd: number;
  /** The OPT record [optStart, optEnd), or -1. */
  optStart: number;
  optEnd: number;
  /** Offset after the last counted record. */
  end: number;
}

export function newWalk(): Walk {
  return { questionEnd: 0, authEnd: 0, optStart: -1, optEnd: -1, end: 0 };
}

/** Offset after the (possibly compressed) name at `p`, or -1 when it runs past `len` or is malformed. */
export function skipName(buf: Uint8Array, p: number, len: number): number {
  for (let guard = 0; guard < 128; guard++) {
    if (p >= len) return -1;
    const l = buf[p];
    if (l === 0) return p + 1;
    if ((l & 0xc0) === 0xc0) return p + 2 <= len ? p + 2 : -1;
    if ((l & 0xc0) !== 0) return -1;
    p += l + 1;
  }
  return -1;
}

/**
 * Walks header, questions and every counted record of `buf[0, len)`, filling `w`. Returns false
 * when the message is cut short or malformed (a record or name runs past the end).
 */
export function walkMessage(buf: Uint8Array, len: number, w: Walk): boolean {
  if (len < HEADER_SIZE) return false;
  const qd = (buf[4] << 8) | buf[5];
  const an = (buf[6] << 8) | buf[7];
  const ns = (buf[8] << 8) | buf[9];
  const ar = (buf[10] << 8) | buf[11];
  let p = HEADER_SIZE;
  for (let i = 0; i < qd; i++) {
    p = skipName(buf, p, len);
    if (p < 0 || p + 4 > len) return false;
    p += 4;
  }
  w.questionEnd = p;
  w.optStart = -1;
  w.optEnd = -1;
  const total = an + ns + ar;
  for (let i = 0; i < total; i++) {
    if (i === an + ns) w.authEnd = p;
    const start = p;
    p = skipName(buf, p, len);
    if (p < 0 || p + 10 > len) return false;
    const type = (buf[p] << 8) | buf[p + 1];
    const rdlen = (buf[p + 8] << 8) | buf[p + 9];
    p += 10 + rdlen;
    if (p > len) return false;
    if (type === RRType.OPT && i >= an + ns && w.optStart === -1) {
      w.optStart = start;
      w.optEnd = p;
    }
  }
  if (ar === 0) w.authEnd = p;
  w.end = p;
  return true;
}

/**
 * True when `buf[0, len)` is a response (QR) with one question equal to the one of our query
 * `query` (its name octets at offset 12, `qnameLen` long): the name compared ASCII
 * case-insensitively (RFC 4343; a name in a question is never compressed), then type and class.
 */
export function questionMatches(
  buf: Uint8Array,
  len: number,
  query: Uint8Array,
  qnameLen: number,
  qtype: number,
  qclass: number,
): boolean {
  if (len < HEADER_SIZE + qnameLen + 4) return false;
  if ((buf[2] & 0x80) === 0) return false; // not a response
  if (buf[4] !== 0 || buf[5] !== 1) return false;
  for (let i = HEADER_SIZE; i < HEADER_SIZE + qnameLen; i++) {
    let a = buf[i];
    let b = query[i];
    if (a !== b) {
      // a length octet is ≤ 63 and never folds, so only letters can differ by case here
      if (a >= 0x41 && a <= 0x5a) a |= 0x20;
      if (b >= 0x41 && b <= 0x5a) b |= 0x20;
      if (a !== b) return false;
    }
  }
  const p = HEADER_SIZE + qnameLen;
  return ((buf[p] << 8) | buf[p + 1]) === qtype && ((buf[p + 2] << 8) | buf[p + 3]) === qclass;
}

/** Wire length of the uncompressed name at `p` (including the root octet), or -1. */
export function plainNameLength(buf: Uint8Array, p: number, len: number): number {
  const start = p;
  for (let guard = 0; guard < 128; guard++) {
    if (p >= len) return -1;
    const l = buf[p];
    if (l === 0) return p + 1 - start;
    if (l > 63) return -1;
    p += l + 1;
  }
  return -1;
}

/**
 * The largest reply a client takes (as the handler's `udpLimit`): 65535 over TCP; over UDP 512
 * without EDNS, else its EDNS size capped by ours (`udpSize`), at least 512.
 */
export function clientLimit(
  transport: Transport,
  edns: boolean,
  clientSize: number,
  udpSize: number,
): number {
  if (transport === 'tcp') return MAX_MESSAGE;
  if (!edns) return MIN_UDP_SIZE;
  return Math.max(MIN_UDP_SIZE, Math.min(clientSize, udpSize));
}

/** The result of relayReply, for counters. */
export const RelayShape = Object.freeze({ WHOLE: 0, TRIMMED: 1, TRUNCATED: 2 } as const);

export interface RelayOptions {
  /** The client's ID. */
  id: number;
  /** The client's request (or a copy): its question name octets at offset 12 (the client's case). */
  query: Uint8Array;
  /** Their length, the same as the reply's (questionMatches checked it). */
  qnameLen: number;
  /** Largest reply the client takes (UDP size; 65535 on TCP). */
  limit: number;
  /** The client sent an OPT (else an upstream OPT is dropped, RFC 6891 §7). */
  clientEdns: boolean;
  /** UDP size we advertise in the relayed OPT. */
  udpSize: number;
}

/**
 * The reply for the client from a validated upstream reply `buf`, walked into `w` (up to `w.end`):
 * the client's ID and question octets, RA set (we recursed for it), our UDP size in the OPT.
 * When it does not fit `limit`: additional records are dropped from the end (the OPT kept;
 * records after a misplaced OPT are dropped too, since later names may point into earlier ones),
 * and when answer + authority do not fit either, header + question + OPT with TC (RFC 2181 §9).
 * `shape` receives how it was cut (RelayShape).
 */
export function relayReply(buf: Uint8Array, w: Walk, o: RelayOptions, shape?: { value: number }): Buffer {
  const hasOpt = o.clientEdns && w.optStart !== -1;
  const optLen = hasOpt ? w.optEnd - w.optStart : 0;
  let out: Buffer;
  let arCount = 0;
  let s: number = RelayShape.WHOLE;
  const ar = (buf[10] << 8) | buf[11];
  const optLast = w.optStart !== -1 && w.optEnd === w.end;
  if (w.end <= o.limit && (hasOpt ? optLast : w.optStart === -1)) {
    // the common case: everything, as it came
    out = Buffer.allocUnsafe(w.end);
    out.set(buf.subarray(0, w.end), 0);
    arCount = ar;
  } else if (w.authEnd + optLen <= o.limit) {
    // answer + authority fit: keep a prefix of the additional records (no OPT among them) + OPT
    let p = w.authEnd;
    let kept = 0;
    const room = o.limit - optLen;
    for (let i = 0; i < ar; i++) {
      if (p === w.optStart) break;
      const q = recordEnd(buf, p, w.end);
      if (q < 0 || q > room) break;
      p = q;
      kept++;
    }
    if (kept < ar - (w.optStart !== -1 ? 1 : 0)) s = RelayShape.TRIMMED;
    out = Buffer.allocUnsafe(p + optLen);
    out.set(buf.subarray(0, p), 0);
    if (hasOpt) out.set(buf.subarray(w.optStart, w.optEnd), p);
    arCount = kept + (hasOpt ? 1 : 0);
  } else {
    // TC: header + question + OPT, counts 0 (the client retries over TCP)
    s = RelayShape.TRUNCATED;
    out = Buffer.allocUnsafe(w.questionEnd + optLen);
    out.set(buf.subarray(0, w.questionEnd), 0);
    if (hasOpt) out.set(buf.subarray(w.optStart, w.optEnd), w.questionEnd);
    out[2] |= Flag.TC >> 8;
    out[6] = 0;
    out[7] = 0;
    out[8] = 0;
    out[9] = 0;
    arCount = hasOpt ? 1 : 0;
  }
  out[0] = o.id >> 8;
  out[1] = o.id & 0xff;
  out[3] |= Flag.RA;
  out[10] = arCount >> 8;
  out[11] = arCount & 0xff;
  out.set(o.query.subarray(HEADER_SIZE, HEADER_SIZE + o.qnameLen), HEADER_SIZE);
  if (hasOpt) {
    // our UDP size in the OPT's class field: root octet, type (2), class (2)
    const at = out.length - optLen + 3;
    out[at] = o.udpSize >> 8;
    out[at + 1] = o.udpSize & 0xff;
  }
  if (shape !== undefined) shape.value = s;
  return out;
}

/** Offset after the record at `p`, or -1. */
function recordEnd(buf: Uint8Array, p: number, len: number): number {
  p = skipName(buf, p, len);
  if (p < 0 || p + 10 > len) return -1;
  const rdlen = (buf[p + 8] << 8) | buf[p + 9];
  p += 10 + rdlen;
  return p > len ? -1 : p;
}
