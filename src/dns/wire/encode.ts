/**
 * General (slow-path) encoder: the decoded Message shape back to bytes, with name compression.
 * Used to build queries for forwarding and test fixtures. Allocates freely; throws WireError
 * for values that do not fit their wire fields.
 */

import { parseIPv4Into, parseIPv6Into } from '../../records/ip.js';
import {
  EcsFamily,
  EDNS_UDP_SIZE,
  EdnsOption,
  MAX_MESSAGE,
  OPCODE_SHIFT,
  RRClass,
  RRType,
} from './constants.js';
import type { EdnsOptionData, MxData, OptData, Question, SoaData, SrvData } from './decode.js';
import { WireError } from './errors.js';
import { nameToWire } from './names.js';

export type RDataInput =
  | string
  | Uint8Array
  | readonly (string | Uint8Array)[]
  | MxData
  | SrvData
  | SoaData
  | OptData;

export interface RRInput {
  name: string;
  type: number;
  /** Default IN. */
  class?: number;
  /** Default 0. */
  ttl?: number;
  data: RDataInput;
}

export interface ClientSubnetInput {
  /** Default: from the address text (1 for IPv4, 2 for IPv6). */
  family?: number;
  sourcePrefix: number;
  scopePrefix?: number;
  /** Address text; octets beyond the source prefix are cleared. */
  address: string;
}

export interface EdnsInput {
  /** Default 1232. */
  udpSize?: number;
  /** Default: the message rcode's upper 8 bits. */
  extRcode?: number;
  version?: number;
  do?: boolean;
  /** Extra flag bits (DO is added from `do`). */
  flags?: number;
  options?: readonly EdnsOptionData[];
  ecs?: ClientSubnetInput | null;
}

export interface MessageInput {
  id?: number;
  qr?: boolean;
  opcode?: number;
  aa?: boolean;
  tc?: boolean;
  rd?: boolean;
  ra?: boolean;
  z?: boolean;
  ad?: boolean;
  cd?: boolean;
  /** Up to 12 bits; the upper 8 go in the OPT record when `edns` is given. */
  rcode?: number;
  questions?: readonly Question[];
  answers?: readonly RRInput[];
  authorities?: readonly RRInput[];
  additionals?: readonly RRInput[];
  /** When set, an OPT record is appended to the additional section (unless it already has one). */
  edns?: EdnsInput | null;
}

/** RDATA names that may be compressed (RFC 1035 types; RFC 3597 §4). */
const COMPRESSIBLE = new Set<number>([RRType.NS, RRType.CNAME, RRType.PTR, RRType.MX, RRType.SOA]);

class Encoder {
  buf = Buffer.alloc(512);
  pos = 0;
  private readonly table = new Map<string, number>();
  private readonly scratch = Buffer.alloc(256);

  room(n: number): void {
    const need = this.pos + n;
    if (need > MAX_MESSAGE) throw new WireError('TOOBIG', 'message exceeds 65535 octets');
    if (need > this.buf.length) {
      const grown = Buffer.alloc(Math.min(MAX_MESSAGE, Math.max(need, this.buf.length * 2)));
      this.buf.copy(grown, 0, 0, this.pos);
      this.buf = grown;
    }
  }

  u8(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xff)
      throw new WireError('BADVALUE', `${what} ${v} is not 0..255`);
    this.room(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff)
      throw new WireError('BADVALUE', `${what} ${v} is not 0..65535`);
    this.room(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  u32(v: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new WireError('BADVALUE', `${what} ${v} is not 0..4294967295`);
    this.room(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  name(name: string, compress: boolean): void {
    const s = this.scratch;
    const end = nameToWire(name, s, 0);
    let p = 0;
    while (s[p] !== 0) {
      if (compress) {
        // exact octets: compression never changes the case of a name (faithful round trips)
        const key = s.toString('latin1', p, end);
        const off = this.table.get(key);
        if (off !== undefined) {
          this.u16(0xc000 | off, 'pointer');
          return;
        }
        if (this.pos <= 0x3fff) this.table.set(key, this.pos);
      }
      const l = s[p];
      this.raw(s.subarray(p, p + l + 1));
      p += l + 1;
    }
    this.u8(0, 'root');
  }
}

/** Encodes a message. Missing header fields are 0/false. */
export function encode(msg: MessageInput): Buffer {
  const e = new Encoder();
  const rcode = msg.rcode ?? 0;
  if (!Number.isInteger(rcode) || rcode < 0 || rcode > 0xfff)
    throw new WireError('BADVALUE', `rcode ${rcode}`);
  const opcode = msg.opcode ?? 0;
  if (!Number.isInteger(opcode) || opcode < 0 || opcode > 15)
    throw new WireError('BADVALUE', `opcode ${opcode}`);
  const flags =
    (msg.qr ? 0x8000 : 0) |
    (opcode << OPCODE_SHIFT) |
    (msg.aa ? 0x0400 : 0) |
    (msg.tc ? 0x0200 : 0) |
    (msg.rd ? 0x0100 : 0) |
    (msg.ra ? 0x0080 : 0) |
    (msg.z ? 0x0040 : 0) |
    (msg.ad ? 0x0020 : 0) |
    (msg.cd ? 0x0010 : 0) |
    (rcode & 0xf);
  const questions = msg.questions ?? [];
  const answers = msg.answers ?? [];
  const authorities = msg.authorities ?? [];
  const additionals = msg.additionals ?? [];
  // a decoded Message carries its OPT both in `additionals` and in `edns`: add it only once
  const edns = msg.edns && !additionals.some((rr) => rr.type === RRType.OPT) ? msg.edns : null;
  const extra = edns ? 1 : 0;
  e.u16(msg.id ?? 0, 'id');
  e.u16(flags, 'flags');
  e.u16(questions.length, 'qdcount');
  e.u16(answers.length, 'ancount');
  e.u16(authorities.length, 'nscount');
  e.u16(additionals.length + extra, 'arcount');
  for (const q of questions) {
    e.name(q.name, true);
    e.u16(q.type, 'qtype');
    e.u16(q.class, 'qclass');
  }
  for (const rr of answers) writeRR(e, rr);
  for (const rr of authorities) writeRR(e, rr);
  for (const rr of additionals) writeRR(e, rr);
  if (edns) writeRR(e, optRecord(edns, rcode >> 4));
  return Buffer.from(e.buf.subarray(0, e.pos));
}

/** The OPT pseudo-record for `edns`; `extRcode` is used unless edns.extRcode is set. */
export function optRecord(edns: EdnsInput, extRcode = 0): RRInput {
  const options: EdnsOptionData[] = [];
  if (edns.ecs) options.push({ code: EdnsOption.CLIENT_SUBNET, data: ecsOption(edns.ecs) });
  if (edns.options) options.push(...edns.options);
  const ext = edns.extRcode ?? extRcode;
  const version = edns.version ?? 0;
  if (!Number.isInteger(ext) || ext < 0 || ext > 0xff)
    throw new WireError('BADVALUE', `extended rcode ${ext}`);
  if (!Number.isInteger(version) || version < 0 || version > 0xff)
    throw new WireError('BADVALUE', `EDNS version ${version}`);
  const flags = ((edns.flags ?? 0) | (edns.do ? 0x8000 : 0)) & 0xffff;
  return {
    name: '.',
    type: RRType.OPT,
    class: edns.udpSize ?? EDNS_UDP_SIZE,
    ttl: ((ext << 24) | (version << 16) | flags) >>> 0,
    data: { options },
  };
}

/** The body of a Client Subnet option (RFC 7871 §6), address truncated to the source prefix. */
export function ecsOption(ecs: ClientSubnetInput): Buffer {
  const a = Buffer.alloc(16);
  let family = ecs.family;
  if (parseIPv4Into(ecs.address, a, 0)) family ??= EcsFamily.IPV4;
  else if (parseIPv6Into(ecs.address, a, 0)) family ??= EcsFamily.IPV6;
  else throw new WireError('BADADDR', `ECS address "${ecs.address}" is not an IP address`);
  const max = family === EcsFamily.IPV4 ? 32 : 128;
  const src = ecs.sourcePrefix;
  if (!Number.isInteger(src) || src < 0 || src > max)
    throw new WireError('BADVALUE', `ECS source prefix ${src} is not 0..${max}`);
  const scope = ecs.scopePrefix ?? 0;
  if (!Number.isInteger(scope) || scope < 0 || scope > max)
    throw new WireError('BADVALUE', `ECS scope prefix ${scope} is not 0..${max}`);
  const n = (src + 7) >> 3;
  if (src & 7) a[n - 1] &= 0xff << (8 - (src & 7));
  const out = Buffer.alloc(4 + n);
  out.writeUInt16BE(family, 0);
  out[2] = src;
  out[3] = scope;
  a.copy(out, 4, 0, n);
  return out;
}

/** A query for name/type with RD set by default and optional EDNS: the forwarder's request. */
export function encodeQuery(opts: {
  id: number;
  name: string;
  type: number;
  class?: number;
  rd?: boolean;
  cd?: boolean;
  edns?: EdnsInput | null;
}): Buffer {
  return encode({
    id: opts.id,
    rd: opts.rd ?? true,
    cd: opts.cd ?? false,
    questions: [{ name: opts.name, type: opts.type, class: opts.class ?? RRClass.IN }],
    edns: opts.edns ?? null,
  });
}

function writeRR(e: Encoder, rr: RRInput): void {
  if (rr.type === RRType.OPT) {
    e.name(rr.name, false);
  } else e.name(rr.name, true);
  e.u16(rr.type, 'type');
  e.u16(rr.class ?? RRClass.IN, 'class');
  e.u32(rr.ttl ?? 0, 'ttl');
  const lenAt = e.pos;
  e.u16(0, 'rdlength');
  writeRData(e, rr);
  const rdlen = e.pos - lenAt - 2;
  if (rdlen > 0xffff) throw new WireError('TOOBIG', `RDATA of ${rdlen} octets`);
  e.buf.writeUInt16BE(rdlen, lenAt);
}

function badData(rr: RRInput, want: string): never {
  throw new WireError('BADVALUE', `RDATA of type ${rr.type} for "${rr.name}" must be ${want}`);
}

function writeRData(e: Encoder, rr: RRInput): void {
  const d = rr.data;
  const compress = COMPRESSIBLE.has(rr.type);
  switch (rr.type) {
    case RRType.A:
    case RRType.AAAA: {
      if (d instanceof Uint8Array) {
        e.raw(d);
        return;
      }
      if (typeof d !== 'string') badData(rr, 'an address');
      const b = Buffer.alloc(16);
      if (rr.type === RRType.A ? !parseIPv4Into(d, b, 0) : !parseIPv6Into(d, b, 0))
        throw new WireError('BADADDR', `"${d}" is not an ${rr.type === RRType.A ? 'IPv4' : 'IPv6'} address`);
      e.raw(b.subarray(0, rr.type === RRType.A ? 4 : 16));
      return;
    }
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR:
    case RRType.DNAME:
      if (typeof d !== 'string') badData(rr, 'a name');
      e.name(d, compress);
      return;
    case RRType.MX: {
      const mx = d as MxData;
      if (typeof mx !== 'object' || mx === null || typeof mx.exchange !== 'string')
        badData(rr, '{preference, exchange}');
      e.u16(mx.preference, 'MX preference');
      e.name(mx.exchange, true);
      return;
    }
    case RRType.SRV: {
      const srv = d as SrvData;
      if (typeof srv !== 'object' || srv === null || typeof srv.target !== 'string')
        badData(rr, '{priority, weight, port, target}');
      e.u16(srv.priority, 'SRV priority');
      e.u16(srv.weight, 'SRV weight');
      e.u16(srv.port, 'SRV port');
      e.name(srv.target, false);
      return;
    }
    case RRType.SOA: {
      const soa = d as SoaData;
      if (
        typeof soa !== 'object' ||
        soa === null ||
        typeof soa.mname !== 'string' ||
        typeof soa.rname !== 'string'
      )
        badData(rr, 'SOA fields');
      e.name(soa.mname, true);
      e.name(soa.rname, true);
      e.u32(soa.serial, 'SOA serial');
      e.u32(soa.refresh, 'SOA refresh');
      e.u32(soa.retry, 'SOA retry');
      e.u32(soa.expire, 'SOA expire');
      e.u32(soa.minimum, 'SOA minimum');
      return;
    }
    case RRType.TXT: {
      const items = typeof d === 'string' || d instanceof Uint8Array ? [d] : d;
      if (!Array.isArray(items)) badData(rr, 'strings');
      if (items.length === 0) {
        e.u8(0, 'TXT length');
        return;
      }
      for (const item of items as (string | Uint8Array)[]) {
        const bytes = typeof item === 'string' ? Buffer.from(item, 'utf8') : item;
        if (!(bytes instanceof Uint8Array)) badData(rr, 'strings');
        if (bytes.length === 0) e.u8(0, 'TXT length');
        for (let i = 0; i < bytes.length; i += 255) {
          const chunk = bytes.subarray(i, Math.min(i + 255, bytes.length));
          e.u8(chunk.length, 'TXT length');
          e.raw(chunk);
        }
      }
      return;
    }
    case RRType.OPT: {
      const opt = d as OptData;
      if (typeof opt !== 'object' || opt === null || !Array.isArray(opt.options)) badData(rr, '{options}');
      for (const o of opt.options) {
        e.u16(o.code, 'option code');
        e.u16(o.data.length, 'option length');
        e.raw(o.data);
      }
      return;
    }
    default:
      if (!(d instanceof Uint8Array)) badData(rr, 'raw octets (Uint8Array)');
      e.raw(d);
      return;
  }
}
