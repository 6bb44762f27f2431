/**
 * Finding and reading a message's TSIG RR (RFC 8945 §4.2, §5.2): it must be the last additional
 * record and appear once; anywhere else, or malformed, the message is FORMERR.
 */
import { HEADER_SIZE, MAX_NAME_OCTETS, RRClass, RRType } from '../wire/constants.js';
import { labelToPresentation, skipName } from '../wire/names.js';

export interface TsigRecord {
  /** Start of the TSIG RR's owner name: msg[0, offset) is the message without it. */
  offset: number;
  /** Lower-case presentation form with the trailing dot. */
  keyName: string;
  /** Lower-case presentation form with the trailing dot (`hmac-sha256.`). */
  algorithm: string;
  /** Seconds since the epoch (48 bits). */
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
}

/** The message's TSIG, undefined when it has none, 'formerr' when one is misplaced or malformed. */
export function readTsigRecord(msg: Buffer, len: number): TsigRecord | undefined | 'formerr' {
  if (len > msg.length) len = msg.length;
  if (len < HEADER_SIZE) return 'formerr';
  const qd = msg.readUInt16BE(4);
  const rrs = msg.readUInt16BE(6) + msg.readUInt16BE(8);
  const ar = msg.readUInt16BE(10);
  let p = HEADER_SIZE;
  for (let i = 0; i < qd; i++) {
    p = skipName(msg, p, len);
    if (p < 0 || p + 4 > len) return 'formerr';
    p += 4;
  }
  const total = rrs + ar;
  for (let i = 0; i < total; i++) {
    const start = p;
    p = skipName(msg, p, len);
    if (p < 0 || p + 10 > len) return 'formerr';
    const type = msg.readUInt16BE(p);
    const rdlen = msg.readUInt16BE(p + 8);
    const rdata = p + 10;
    p = rdata + rdlen;
    if (p > len) return 'formerr';
    if (type !== RRType.TSIG) continue;
    // a TSIG anywhere but last (a second one included) is FORMERR (RFC 8945 §5.2)
    if (i !== total - 1 || i < rrs) return 'formerr';
    if (msg.readUInt16BE(rdata - 8) !== RRClass.ANY || msg.readUInt32BE(rdata - 6) !== 0) return 'formerr';
    return readRdata(msg, start, rdata, p);
  }
  return undefined;
}

function readRdata(msg: Buffer, offset: number, rdata: number, end: number): TsigRecord | 'formerr' {
  const keyName = readName(msg, offset, end);
  // RFC 8945 §4.2: the algorithm name is not compressed
  const algEnd = skipName(msg, rdata, end);
  if (keyName === undefined || algEnd < 0 || msg[algEnd - 1] !== 0) return 'formerr';
  const algorithm = readName(msg, rdata, end);
  let p = algEnd;
  if (algorithm === undefined || p + 10 > end) return 'formerr';
  const timeSigned = msg.readUInt16BE(p) * 0x1_0000_0000 + msg.readUInt32BE(p + 2);
  const fudge = msg.readUInt16BE(p + 6);
  const macLen = msg.readUInt16BE(p + 8);
  p += 10;
  if (p + macLen + 6 > end) return 'formerr';
  const mac = Buffer.from(msg.subarray(p, p + macLen));
  p += macLen;
  const originalId = msg.readUInt16BE(p);
  const error = msg.readUInt16BE(p + 2);
  const otherLen = msg.readUInt16BE(p + 4);
  p += 6;
  if (p + otherLen !== end) return 'formerr';
  const otherData = Buffer.from(msg.subarray(p, end));
  return { offset, keyName, algorithm, timeSigned, fudge, mac, originalId, error, otherData };
}

/**
 * The lower-case presentation form of the name at `p`, following backward pointers, or undefined
 * when it is malformed. Every pointer must point before the one it is in, so the walk ends.
 */
function readName(msg: Buffer, p: number, end: number): string | undefined {
  let s = '';
  let octets = 0;
  let limit = end;
  for (;;) {
    if (p >= limit) return undefined;
    const l = msg[p];
    if (l === 0) return s === '' ? '.' : s;
    if (l >= 0xc0) {
      if (p + 2 > limit) return undefined;
      const to = ((l & 0x3f) << 8) | msg[p + 1];
      if (to >= p) return undefined;
      limit = p;
      p = to;
      continue;
    }
    if (l >= 0x40 || p + 1 + l > limit) return undefined;
    octets += l + 1;
    if (octets > MAX_NAME_OCTETS - 1) return undefined;
    s += labelToPresentation(msg, p + 1, l, true) + '.';
    p += 1 + l;
  }
}
