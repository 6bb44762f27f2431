/**
 * One name as a zone transfer carries it: the records a query of each type gets for it, asked of
 * a handler made for transfers (`-select all` for every name, fail-open, no client zone:
 * DnsHandlerOptions.fixedPolicies), so a secondary answers what hades answers under `-select
 * all`. Each record is kept as a key, a latin1 string: 2 octets type, 4 octets TTL, then the
 * RDATA with its names written out in full and lower case; keys sort and compare as values
 * (views.ts diffs them).
 */
import type { DnsHandler } from '../handler.js';
import type { ClientInfo } from '../types.js';
import { MAX_MESSAGE, RRClass, RRType } from '../wire/constants.js';
import { encodeQuery } from '../wire/encode.js';
import { nameToWire, skipName } from '../wire/names.js';
import { newQuery, parseQuery } from '../wire/query.js';
import { ResponseWriter } from '../wire/writer.js';

/**
 * The types a name is asked for (the apex's SOA and NS come from the zone, not from here). In a
 * reverse zone a record naming a host is a PTR (an A question would get it as a CNAME).
 */
const FORWARD_TYPES = [RRType.A, RRType.AAAA, RRType.TXT, RRType.MX, RRType.SRV];
const REVERSE_TYPES = [RRType.PTR];

/** Types whose RDATA ends with one name (after `skip` fixed octets). */
function nameOffset(type: number): number {
  switch (type) {
    case RRType.CNAME:
    case RRType.NS:
    case RRType.PTR:
      return 0;
    case RRType.MX:
      return 2;
    case RRType.SRV:
      return 6;
    default:
      return -1;
  }
}

/** A record key's parts (see rrKey). */
export function keyType(key: string): number {
  return (key.charCodeAt(0) << 8) | key.charCodeAt(1);
}

export function keyTtl(key: string): number {
  return (
    ((key.charCodeAt(2) << 24) | (key.charCodeAt(3) << 16) | (key.charCodeAt(4) << 8) | key.charCodeAt(5)) >>>
    0
  );
}

export function keyRdata(key: string): Buffer {
  return Buffer.from(key.slice(6), 'latin1');
}

/**
 * Writes the possibly compressed name at `buf[off]` (a message of `len` octets) into `out` at
 * `o`, in full and in lower case. Returns the new `o`, or -1 when the name is malformed.
 */
function expandName(buf: Uint8Array, off: number, len: number, out: Uint8Array, o: number): number {
  let p = off;
  let hops = 0;
  for (;;) {
    if (p >= len) return -1;
    const l = buf[p];
    if (l === 0) {
      out[o++] = 0;
      return o;
    }
    if (l >= 0xc0) {
      if (p + 1 >= len || ++hops > 64) return -1;
      p = ((l & 0x3f) << 8) | buf[p + 1];
      continue;
    }
    if (l >= 0x40 || p + 1 + l > len || o + 1 + l > 255) return -1;
    out[o++] = l;
    for (let i = 1; i <= l; i++) {
      const c = buf[p + i];
      out[o++] = c >= 65 && c <= 90 ? c + 32 : c;
    }
    p += l + 1;
  }
}

export class NameRenderer {
  private readonly w = new ResponseWriter();
  private readonly q = newQuery();
  private readonly client: ClientInfo = { address: '', port: 0, family: 4, transport: 'tcp' };
  private readonly owner = Buffer.alloc(256);
  private readonly name = Buffer.alloc(256);
  private readonly scratch = Buffer.alloc(MAX_MESSAGE);

  constructor(private readonly handler: DnsHandler) {}

  /**
   * The records of `name` (absolute, lower case), sorted; empty when it has none. `reverse`: the
   * name is in an `.arpa.` zone (PTR only). A name that is an alias carries its CNAME alone (a
   * zone cannot hold a CNAME beside other data).
   */
  render(name: string, reverse: boolean): string[] {
    const nlen = nameToWire(name, this.name, 0);
    const out: string[] = [];
    for (const type of reverse ? REVERSE_TYPES : FORWARD_TYPES) {
      const cname = this.ask(name, nlen, type, out);
      if (cname !== undefined) return [cname];
    }
    out.sort();
    // the same record from two questions (never, today) would be one record
    let k = 0;
    for (let i = 0; i < out.length; i++) if (i === 0 || out[i] !== out[k - 1]) out[k++] = out[i];
    out.length = k;
    return out;
  }

  /** The NS set of a zone's apex, as an NS query answers it. */
  renderNS(apex: string): string[] {
    const out: string[] = [];
    this.ask(apex, nameToWire(apex, this.name, 0), RRType.NS, out);
    return out.sort();
  }

  /** Asks one type; pushes the keys of the answer's records owned by the name. Returns a CNAME's key. */
  private ask(name: string, nlen: number, type: number, out: string[]): string | undefined {
    const req = encodeQuery({ id: 1, name, type, rd: false });
    const q = this.q;
    const st = parseQuery(req, req.length, q);
    const a = this.handler.answer(q, st, this.client, this.w, MAX_MESSAGE);
    const buf = this.w.buf;
    const len = a.length;
    if (len < 12) return undefined;
    const ancount = (buf[6] << 8) | buf[7];
    let p = skipName(buf, 12, len);
    if (p < 0) return undefined;
    p += 4;
    for (let i = 0; i < ancount; i++) {
      const o = expandName(buf, p, len, this.owner, 0);
      p = skipName(buf, p, len);
      if (o < 0 || p < 0 || p + 10 > len) return undefined;
      const rtype = (buf[p] << 8) | buf[p + 1];
      const rclass = (buf[p + 2] << 8) | buf[p + 3];
      const rdlen = (buf[p + 8] << 8) | buf[p + 9];
      const rdata = p + 10;
      p = rdata + rdlen;
      if (p > len) return undefined;
      if (rclass !== RRClass.IN || o !== nlen || this.owner.compare(this.name, 0, nlen, 0, o) !== 0) continue;
      const key = this.key(buf, len, rtype, p - rdlen - 10, rdata, rdlen);
      if (key === undefined) continue;
      if (rtype === RRType.CNAME) return key;
      out.push(key);
    }
    return undefined;
  }

  /** rrKey of the record whose fixed fields start at `f` and RDATA at `rdata`. */
  private key(
    buf: Buffer,
    len: number,
    type: number,
    f: number,
    rdata: number,
    rdlen: number,
  ): string | undefined {
    const s = this.scratch;
    buf.copy(s, 0, f, f + 2); // type
    buf.copy(s, 2, f + 4, f + 8); // TTL
    const at = nameOffset(type);
    if (at < 0) {
      buf.copy(s, 6, rdata, rdata + rdlen);
      return s.toString('latin1', 0, 6 + rdlen);
    }
    buf.copy(s, 6, rdata, rdata + at);
    const o = expandName(buf, rdata + at, len, s, 6 + at);
    return o < 0 ? undefined : s.toString('latin1', 0, o);
  }
}
