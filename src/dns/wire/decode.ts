/**
 * General, safe decoder of whole DNS messages into plain objects: for tests, the forwarder and
 * other slow paths (it allocates freely). It never throws anything but WireError, and every
 * loop is bounded by the message length (compression pointers must point strictly backwards,
 * so a pointer loop is impossible).
 */

import { formatIPv4, formatIPv6 } from '../../records/ip.js';
import { EcsFamily, EdnsOption, MAX_NAME_OCTETS, OPCODE_SHIFT, RRClass, RRType } from './constants.js';
import { WireError } from './errors.js';
import { labelToPresentation } from './names.js';

export interface Question {
  /** Presentation form, case as on the wire, trailing dot. */
  name: string;
  type: number;
  class: number;
}

export interface MxData {
  preference: number;
  exchange: string;
}

export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export interface EdnsOptionData {
  code: number;
  data: Buffer;
}

/** RDATA of an OPT pseudo-record (its class is the UDP size, its TTL the extended rcode/version/flags). */
export interface OptData {
  options: EdnsOptionData[];
}

/**
 * RDATA by type: A/AAAA → address text; NS/CNAME/PTR/DNAME → name; MX, SRV, SOA → objects;
 * TXT → the character-strings as Buffers; OPT → options; anything else → the raw octets.
 */
export type RData = string | Buffer | Buffer[] | MxData | SrvData | SoaData | OptData;

export interface ResourceRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: RData;
}

export interface ClientSubnet {
  family: number;
  sourcePrefix: number;
  scopePrefix: number;
  /** Address text with the missing octets as zeros (`192.0.2.0`, `2001:db8::`). */
  address: string;
}

/** The first OPT record of the additional section, unpacked. */
export interface Edns {
  udpSize: number;
  /** Upper 8 bits of the 12-bit rcode. */
  extRcode: number;
  version: number;
  do: boolean;
  /** The 16-bit flags field (DO is 0x8000). */
  flags: number;
  options: EdnsOptionData[];
  /** Parsed Client Subnet option, when present and well-formed. */
  ecs: ClientSubnet | null;
}

export interface Message {
  id: number;
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  z: boolean;
  ad: boolean;
  cd: boolean;
  /** The header's 4-bit rcode; the full rcode is `(edns.extRcode << 4) | rcode`. */
  rcode: number;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  /** Every additional record as on the wire, OPT included. */
  additionals: ResourceRecord[];
  edns: Edns | null;
  /** Octets after the last counted record (ignored). */
  trailing: number;
}

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new WireError('SHORT', `message ends inside ${what}`, this.pos);
  }

  u8(): number {
    return this.buf[this.pos++];
  }

  u16(): number {
    const v = (this.buf[this.pos] << 8) | this.buf[this.pos + 1];
    this.pos += 2;
    return v;
  }

  u32(): number {
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }

  /**
   * Reads a possibly compressed name at pos. Its in-place octets must end by `limit` (the
   * message or RDATA end); pointers may point anywhere earlier in the message.
   */
  name(limit: number): string {
    const b = this.buf;
    let p = this.pos;
    let wire = 1; // the root octet
    let out = '';
    let jumped = false;
    const msgEnd = this.end;
    for (;;) {
      const lim = jumped ? msgEnd : limit;
      if (p >= lim) throw new WireError('SHORT', 'name runs past the end', p);
      const l = b[p];
      if (l === 0) {
        if (!jumped) this.pos = p + 1;
        break;
      }
      if (l >= 0xc0) {
        if (p + 2 > lim) throw new WireError('SHORT', 'compression pointer cut off', p);
        const t = ((l & 0x3f) << 8) | b[p + 1];
        if (t >= p) throw new WireError('BADPTR', `compression pointer to ${t} does not point backwards`, p);
        if (!jumped) this.pos = p + 2;
        jumped = true;
        p = t;
        continue;
      }
      if (l >= 0x40) throw new WireError('BADLABEL', `reserved label type 0x${l.toString(16)}`, p);
      if (p + 1 + l > lim) throw new WireError('SHORT', 'label runs past the end', p);
      wire += l + 1;
      if (wire > MAX_NAME_OCTETS) throw new WireError('NAMELEN', 'name longer than 255 octets', p);
      out += labelToPresentation(b, p + 1, l, false) + '.';
      p += l + 1;
    }
    return out === '' ? '.' : out;
  }

  bytes(n: number): Buffer {
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return v;
  }
}

/** Decodes a whole message (the first `len` octets of `buf`). Throws WireError on malformed input. */
export function decode(buf: Uint8Array, len: number = buf.length): Message {
  if (len > buf.length) len = buf.length;
  const r = new Reader(buf, 0, len);
  r.need(12, 'the header');
  const id = r.u16();
  const flags = r.u16();
  const qd = r.u16();
  const an = r.u16();
  const ns = r.u16();
  const ar = r.u16();
  const msg: Message = {
    id,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> OPCODE_SHIFT) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    z: (flags & 0x0040) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
    edns: null,
    trailing: 0,
  };
  for (let i = 0; i < qd; i++) {
    const name = r.name(len);
    r.need(4, 'a question');
    msg.questions.push({ name, type: r.u16(), class: r.u16() });
  }
  for (let i = 0; i < an; i++) msg.answers.push(readRR(r));
  for (let i = 0; i < ns; i++) msg.authorities.push(readRR(r));
  for (let i = 0; i < ar; i++) {
    const rr = readRR(r);
    msg.additionals.push(rr);
    if (rr.type === RRType.OPT && msg.edns === null) msg.edns = ednsOf(rr);
  }
  msg.trailing = len - r.pos;
  return msg;
}

function readRR(r: Reader): ResourceRecord {
  const name = r.name(r.end);
  r.need(10, 'a record header');
  const type = r.u16();
  const cls = r.u16();
  const ttl = r.u32();
  const rdlen = r.u16();
  r.need(rdlen, 'RDATA');
  const start = r.pos;
  const end = start + rdlen;
  const data = readRData(r, type, cls, start, end);
  if (r.pos !== end)
    throw new WireError('RDATA', `${rdlen}-octet RDATA of type ${type} has leftover octets`, start);
  return { name, type, class: cls, ttl, data };
}

function fixed(r: Reader, n: number, end: number, type: string): void {
  if (r.pos + n > end) throw new WireError('RDATA', `${type} RDATA too short`, r.pos);
}

function readRData(r: Reader, type: number, cls: number, start: number, end: number): RData {
  const len = end - start;
  switch (type) {
    case RRType.A:
      if (len === 4) {
        r.pos = end;
        return formatIPv4(r.buf, start);
      }
      if (cls === RRClass.IN) throw new WireError('RDATA', `A RDATA of ${len} octets`, start);
      return r.bytes(len);
    case RRType.AAAA:
      if (len === 16) {
        r.pos = end;
        return formatIPv6(r.buf, start);
      }
      if (cls === RRClass.IN) throw new WireError('RDATA', `AAAA RDATA of ${len} octets`, start);
      return r.bytes(len);
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR:
    case RRType.DNAME:
      return r.name(end);
    case RRType.MX: {
      fixed(r, 2, end, 'MX');
      const preference = r.u16();
      return { preference, exchange: r.name(end) };
    }
    case RRType.SRV: {
      fixed(r, 6, end, 'SRV');
      const priority = r.u16();
      const weight = r.u16();
      const port = r.u16();
      return { priority, weight, port, target: r.name(end) };
    }
    case RRType.SOA: {
      const mname = r.name(end);
      const rname = r.name(end);
      fixed(r, 20, end, 'SOA');
      return {
        mname,
        rname,
        serial: r.u32(),
        refresh: r.u32(),
        retry: r.u32(),
        expire: r.u32(),
        minimum: r.u32(),
      };
    }
    case RRType.TXT: {
      const strings: Buffer[] = [];
      if (len === 0) throw new WireError('RDATA', 'empty TXT RDATA', start);
      while (r.pos < end) {
        const n = r.u8();
        if (r.pos + n > end) throw new WireError('RDATA', 'TXT character-string runs past RDATA', r.pos);
        strings.push(r.bytes(n));
      }
      return strings;
    }
    case RRType.OPT: {
      const options: EdnsOptionData[] = [];
      while (r.pos < end) {
        if (r.pos + 4 > end) throw new WireError('RDATA', 'EDNS option header cut off', r.pos);
        const code = r.u16();
        const n = r.u16();
        if (r.pos + n > end) throw new WireError('RDATA', 'EDNS option runs past RDATA', r.pos);
        options.push({ code, data: r.bytes(n) });
      }
      return { options };
    }
    default:
      return r.bytes(len);
  }
}

function ednsOf(rr: ResourceRecord): Edns {
  const options = (rr.data as OptData).options;
  let ecs: ClientSubnet | null = null;
  for (const o of options) if (o.code === EdnsOption.CLIENT_SUBNET && ecs === null) ecs = parseEcs(o.data);
  return {
    udpSize: rr.class,
    extRcode: rr.ttl >>> 24,
    version: (rr.ttl >>> 16) & 0xff,
    do: (rr.ttl & 0x8000) !== 0,
    flags: rr.ttl & 0xffff,
    options,
    ecs,
  };
}

/** Parses a Client Subnet option body; null when malformed (the decoder stays lenient here). */
export function parseEcs(d: Uint8Array): ClientSubnet | null {
  if (d.length < 4) return null;
  const family = (d[0] << 8) | d[1];
  const sourcePrefix = d[2];
  const scopePrefix = d[3];
  const size = family === EcsFamily.IPV4 ? 4 : family === EcsFamily.IPV6 ? 16 : 0;
  if (size === 0 || d.length - 4 > size || sourcePrefix > size * 8) return null;
  const a = new Uint8Array(16);
  a.set(d.subarray(4));
  return {
    family,
    sourcePrefix,
    scopePrefix,
    address: size === 4 ? formatIPv4(a, 0) : formatIPv6(a, 0),
  };
}
