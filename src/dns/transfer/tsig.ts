/**
 * TSIG (RFC 8945): verifying signed requests, signing responses (one message or a whole AXFR/IXFR
 * stream), signing our own requests (NOTIFY) and verifying their replies. HMAC by node:crypto.
 *
 * Transfers and NOTIFY are the slow path: this allocates (one Hmac per message) and is not on the
 * query path. Secrets never appear in an error message or a log line.
 */
import { createHmac, type Hmac, timingSafeEqual } from 'node:crypto';
import { TSIG_ALGORITHMS, type TsigAlgorithm, type TsigKey } from '../../common/tsig-key.js';
import { HEADER_SIZE, RRClass, RRType } from '../wire/constants.js';
import { nameToWire } from '../wire/names.js';
import { readTsigRecord, type TsigRecord } from './tsig-read.js';

export type { TsigAlgorithm, TsigKey } from '../../common/tsig-key.js';
export type { TsigRecord } from './tsig-read.js';

/** The TSIG error field's values (RFC 8945 §3; extended rcodes shared with EDNS's BADVERS = 16). */
export const TsigError = Object.freeze({ OK: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18 } as const);

/** Fudge we sign with (RFC 8945 §10 recommends 300 s). */
export const FUDGE = 300;

interface AlgorithmInfo {
  /** node:crypto's digest name. */
  hash: string;
  /** The algorithm's name on the wire, lower case (its canonical form in the digest). */
  wireName: string;
  /** HMAC output octets. */
  size: number;
}

/** RFC 8945 §6's table. hmac-md5 keeps its historical name. */
const ALGORITHMS: Readonly<Record<TsigAlgorithm, AlgorithmInfo>> = Object.freeze({
  'hmac-md5': { hash: 'md5', wireName: 'hmac-md5.sig-alg.reg.int.', size: 16 },
  'hmac-sha1': { hash: 'sha1', wireName: 'hmac-sha1.', size: 20 },
  'hmac-sha224': { hash: 'sha224', wireName: 'hmac-sha224.', size: 28 },
  'hmac-sha256': { hash: 'sha256', wireName: 'hmac-sha256.', size: 32 },
  'hmac-sha384': { hash: 'sha384', wireName: 'hmac-sha384.', size: 48 },
  'hmac-sha512': { hash: 'sha512', wireName: 'hmac-sha512.', size: 64 },
});

/** The algorithm whose wire name is `wireName` (lower case, trailing dot), or undefined. */
export function algorithmOf(wireName: string): TsigAlgorithm | undefined {
  for (const a of TSIG_ALGORITHMS) if (ALGORITHMS[a].wireName === wireName) return a;
  return undefined;
}

/** Where a message's TSIG RR is and what it says; see tsig-read.ts. */
export function readTsig(msg: Buffer, len: number): TsigRecord | undefined | 'formerr' {
  return readTsigRecord(msg, len);
}

/** The MAC's length is the algorithm's whole output: truncated MACs (RFC 8945 §5.2.2.1) are refused. */
function macSizeOk(key: TsigKey, rec: TsigRecord): boolean {
  return rec.mac.length === ALGORITHMS[key.algorithm].size;
}

function keyMatches(key: TsigKey, rec: TsigRecord): boolean {
  return rec.keyName === key.name && rec.algorithm === ALGORITHMS[key.algorithm].wireName;
}

/**
 * Verifies a signed request (RFC 8945 §5.2): key, then MAC, then time (the time is checked after
 * the MAC, so an unsigned clock probe learns nothing). Returns 0 or BADKEY / BADSIG / BADTIME.
 */
export function verifyRequest(key: TsigKey, msg: Buffer, len: number, rec: TsigRecord, now: number): number {
  if (!keyMatches(key, rec)) return TsigError.BADKEY;
  if (!macSizeOk(key, rec) || rec.offset > len) return TsigError.BADSIG;
  const h = hmacOf(key);
  updateMessage(h, msg, rec.offset, rec.originalId, true);
  updateVariables(h, rec.keyName, rec.algorithm, rec.timeSigned, rec.fudge, rec.error, rec.otherData);
  if (!timingSafeEqual(h.digest(), rec.mac)) return TsigError.BADSIG;
  if (Math.abs(now - rec.timeSigned) > rec.fudge) return TsigError.BADTIME;
  return TsigError.OK;
}

/**
 * Verifies a reply to a request we signed with `requestMac` (RFC 8945 §5.3). Returns 0 or the TSIG
 * error: BADSIG also for a reply without a (well-formed) TSIG; an unsigned error reply's own error
 * (the server's BADKEY/BADSIG) as is; BADKEY when the reply names another key.
 */
export function verifyResponse(
  key: TsigKey,
  msg: Buffer,
  len: number,
  requestMac: Buffer,
  now: number,
): number {
  const rec = readTsigRecord(msg, len);
  if (rec === undefined || rec === 'formerr') return TsigError.BADSIG;
  if (rec.error !== 0 && rec.mac.length === 0) return rec.error;
  if (!keyMatches(key, rec)) return TsigError.BADKEY;
  if (!macSizeOk(key, rec)) return TsigError.BADSIG;
  const h = hmacOf(key);
  updateMac(h, requestMac);
  updateMessage(h, msg, rec.offset, rec.originalId, true);
  updateVariables(h, rec.keyName, rec.algorithm, rec.timeSigned, rec.fudge, rec.error, rec.otherData);
  if (!timingSafeEqual(h.digest(), rec.mac)) return TsigError.BADSIG;
  if (rec.error !== 0) return rec.error;
  if (Math.abs(now - rec.timeSigned) > rec.fudge) return TsigError.BADTIME;
  return TsigError.OK;
}

/**
 * Signs the messages of one response stream (RFC 8945 §5.3.1): every message, the first over the
 * request's MAC, the message and all TSIG variables, each following one over the prior MAC, the
 * message and the timers only. One signer per stream; sign the messages in sending order.
 */
export class TsigSigner {
  private priorMac: Buffer;
  private first = true;

  constructor(
    private readonly key: TsigKey,
    requestMac: Buffer,
    private readonly originalId: number,
  ) {
    this.priorMac = requestMac;
  }

  /** Appends the TSIG RR to msg[0, len) in place, ARCOUNT + 1; the new length, or -1 when it does not fit. */
  sign(msg: Buffer, len: number, now: number): number {
    const { key } = this;
    const info = ALGORITHMS[key.algorithm];
    if (len + tsigLength(key.name, info, 0) > msg.length) return -1;
    const h = hmacOf(key);
    // RFC 8945 §5.3: a response to a signed request includes the request's MAC, a following
    // message of a stream the prior message's MAC
    updateMac(h, this.priorMac);
    updateMessage(h, msg, len, this.originalId, false);
    if (this.first) updateVariables(h, key.name, info.wireName, now, FUDGE, 0, EMPTY);
    else updateTimers(h, now, FUDGE);
    const mac = h.digest();
    this.first = false;
    this.priorMac = mac;
    return writeTsig(msg, len, key.name, info.wireName, now, FUDGE, mac, this.originalId, 0, EMPTY);
  }
}

/**
 * Appends the TSIG RR of a TSIG error reply (RFC 8945 §5.3.2) and sets the header's rcode to
 * NOTAUTH (before signing: the MAC covers the header). BADKEY and BADSIG: unsigned (MAC empty),
 * the request's key and algorithm names echoed. BADTIME: signed with `key` over the request's
 * MAC, time signed = the request's, other data = our time (6 octets), so the client can both trust
 * and measure the skew. Returns the new length, or -1 when it does not fit (or BADTIME without key).
 */
export function appendTsigError(
  key: TsigKey | undefined,
  keyName: string,
  algorithm: string,
  msg: Buffer,
  len: number,
  req: TsigRecord,
  error: number,
  now: number,
): number {
  if (len < HEADER_SIZE) return -1;
  if (error !== TsigError.BADTIME) {
    if (len + tsigLength(keyName, { wireName: algorithm, size: 0 }, 0) > msg.length) return -1;
    msg[3] = (msg[3] & 0xf0) | NOTAUTH;
    return writeTsig(msg, len, keyName, algorithm, now, FUDGE, EMPTY, req.originalId, error, EMPTY);
  }
  if (key === undefined) return -1;
  const info = ALGORITHMS[key.algorithm];
  if (len + tsigLength(key.name, info, 6) > msg.length) return -1;
  msg[3] = (msg[3] & 0xf0) | NOTAUTH;
  const other = Buffer.alloc(6);
  writeTime(other, 0, now);
  const h = hmacOf(key);
  updateMac(h, req.mac);
  updateMessage(h, msg, len, req.originalId, false);
  updateVariables(h, key.name, info.wireName, req.timeSigned, FUDGE, error, other);
  return writeTsig(
    msg,
    len,
    key.name,
    info.wireName,
    req.timeSigned,
    FUDGE,
    h.digest(),
    req.originalId,
    error,
    other,
  );
}
const NOTAUTH = 9;

/** Signs a request (a NOTIFY) in place: the new length (-1 when it does not fit) and the MAC, to verify the reply. */
export function signRequest(
  key: TsigKey,
  msg: Buffer,
  len: number,
  now: number,
): { length: number; mac: Buffer } {
  const info = ALGORITHMS[key.algorithm];
  if (len < HEADER_SIZE || len + tsigLength(key.name, info, 0) > msg.length)
    return { length: -1, mac: EMPTY };
  const id = msg.readUInt16BE(0);
  const h = hmacOf(key);
  updateMessage(h, msg, len, id, false);
  updateVariables(h, key.name, info.wireName, now, FUDGE, 0, EMPTY);
  const mac = h.digest();
  return { length: writeTsig(msg, len, key.name, info.wireName, now, FUDGE, mac, id, 0, EMPTY), mac };
}

const EMPTY = Buffer.alloc(0);

function hmacOf(key: TsigKey): Hmac {
  return createHmac(ALGORITHMS[key.algorithm].hash, key.secret);
}

/** A MAC with its 2-octet length in front (the request MAC / prior MAC component). */
function updateMac(h: Hmac, mac: Buffer): void {
  const l = Buffer.allocUnsafe(2);
  l.writeUInt16BE(mac.length, 0);
  h.update(l);
  h.update(mac);
}

/**
 * msg[0, end) as it was before the TSIG was added: the original ID in place of the header's and
 * ARCOUNT less the TSIG, which `end` (the TSIG's offset, or the length before signing) excludes.
 * `signed`: the message holds its TSIG (verifying); when signing, ARCOUNT does not count it yet.
 */
function updateMessage(h: Hmac, msg: Buffer, end: number, originalId: number, signed: boolean): void {
  const head = Buffer.allocUnsafe(HEADER_SIZE);
  msg.copy(head, 0, 0, HEADER_SIZE);
  head.writeUInt16BE(originalId, 0);
  if (signed) head.writeUInt16BE((head.readUInt16BE(10) - 1) & 0xffff, 10);
  h.update(head);
  h.update(msg.subarray(HEADER_SIZE, end));
}

/** The TSIG variables (RFC 8945 §4.3.3): names canonical, class ANY, TTL 0, timers, error, other data. */
function updateVariables(
  h: Hmac,
  keyName: string,
  algorithm: string,
  timeSigned: number,
  fudge: number,
  error: number,
  other: Buffer,
): void {
  const b = Buffer.allocUnsafe(256 + 6 + 256 + 6 + 2 + 2 + 2);
  let p = nameToWire(keyName.toLowerCase(), b, 0);
  b.writeUInt16BE(RRClass.ANY, p);
  b.writeUInt32BE(0, p + 2);
  p = nameToWire(algorithm.toLowerCase(), b, p + 6);
  writeTime(b, p, timeSigned);
  b.writeUInt16BE(fudge, p + 6);
  b.writeUInt16BE(error, p + 8);
  b.writeUInt16BE(other.length, p + 10);
  h.update(b.subarray(0, p + 12));
  h.update(other);
}

/** Timers only (RFC 8945 §5.3.1: the messages of a stream after the first). */
function updateTimers(h: Hmac, timeSigned: number, fudge: number): void {
  const b = Buffer.allocUnsafe(8);
  writeTime(b, 0, timeSigned);
  b.writeUInt16BE(fudge, 6);
  h.update(b);
}

/** Unix seconds as the 48-bit Time Signed field. */
function writeTime(b: Buffer, p: number, seconds: number): void {
  const s = Math.max(0, Math.floor(seconds));
  b.writeUInt16BE(Math.floor(s / 0x1_0000_0000) & 0xffff, p);
  b.writeUInt32BE(s % 0x1_0000_0000, p + 2);
}

const NAME_SCRATCH = Buffer.alloc(256);

/** Octets of a TSIG RR: owner, fixed fields, algorithm name, timers, MAC, ID, error, other. */
function tsigLength(keyName: string, info: { wireName: string; size: number }, otherLen: number): number {
  return (
    nameToWire(keyName, NAME_SCRATCH, 0) +
    10 +
    nameToWire(info.wireName, NAME_SCRATCH, 0) +
    16 +
    info.size +
    otherLen
  );
}

/** Writes the TSIG RR at msg[len] (uncompressed names: RFC 8945 §4.2) and bumps ARCOUNT. */
function writeTsig(
  msg: Buffer,
  len: number,
  keyName: string,
  algorithm: string,
  timeSigned: number,
  fudge: number,
  mac: Buffer,
  originalId: number,
  error: number,
  other: Buffer,
): number {
  let p = nameToWire(keyName, msg, len);
  msg.writeUInt16BE(RRType.TSIG, p);
  msg.writeUInt16BE(RRClass.ANY, p + 2);
  msg.writeUInt32BE(0, p + 4);
  const rdlenAt = p + 8;
  p = nameToWire(algorithm, msg, p + 10);
  writeTime(msg, p, timeSigned);
  msg.writeUInt16BE(fudge, p + 6);
  msg.writeUInt16BE(mac.length, p + 8);
  p += 10;
  p += mac.copy(msg, p);
  msg.writeUInt16BE(originalId, p);
  msg.writeUInt16BE(error, p + 2);
  msg.writeUInt16BE(other.length, p + 4);
  p += 6;
  p += other.copy(msg, p);
  msg.writeUInt16BE(p - rdlenAt - 2, rdlenAt);
  msg.writeUInt16BE((msg.readUInt16BE(10) + 1) & 0xffff, 10);
  return p;
}
