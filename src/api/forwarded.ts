/**
 * Which client a request is from, for the rate limiter and the request log: the peer's address,
 * or — only when the peer is a trusted proxy (`-api-trusted-proxies`) — the right-most address of
 * `X-Forwarded-For` that is not itself trusted, as nginx's `real_ip_recursive on`: every proxy
 * appends the address it was reached from, so the entries left of the last trusted hop are the
 * client's to write and cannot be believed. No trusted proxies (the default): the header is never
 * read.
 */

import { parseIP } from '../records/ip.js';
import { type Cidr, parseCidr } from '../records/topology.js';

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) → `10.0.0.1`. */
function unmapped(ip: string): string {
  const m = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(ip);
  return m ? m[1] : ip;
}

export class TrustedProxies {
  static readonly NONE = new TrustedProxies([]);

  private constructor(private readonly cidrs: readonly Cidr[]) {}

  /**
   * From CIDRs or bare addresses (`10.0.0.0/8`, `192.0.2.7`, `fd00::/8`); the first that is
   * neither is returned as a message naming it.
   */
  static parse(list: readonly string[]): TrustedProxies | string {
    const cidrs: Cidr[] = [];
    for (const text of list) {
      const t = text.trim();
      if (t === '') continue;
      const ip = t.includes('/') ? undefined : parseIP(t);
      const c = parseCidr(ip ? `${ip.text}/${ip.kind === 'ipv4' ? 32 : 128}` : t);
      if (typeof c === 'string') return `"${t}" is not an address or CIDR: ${c}`;
      cidrs.push(c);
    }
    return cidrs.length === 0 ? TrustedProxies.NONE : new TrustedProxies(cidrs);
  }

  get size(): number {
    return this.cidrs.length;
  }

  /** The CIDRs, canonical. */
  get list(): string[] {
    return this.cidrs.map((c) => c.text);
  }

  /** True when `ip` is inside one of the CIDRs. */
  trusts(ip: string): boolean {
    if (this.cidrs.length === 0) return false;
    const p = parseIP(unmapped(ip));
    if (!p) return false;
    const family = p.kind === 'ipv4' ? 4 : 6;
    for (const c of this.cidrs) {
      if (c.family !== family) continue;
      let ok = true;
      for (let bit = 0; bit < c.prefix && ok; bit += 8) {
        const i = bit >> 3;
        const keep = Math.min(8, c.prefix - bit);
        const mask = (0xff << (8 - keep)) & 0xff;
        ok = (p.bytes[i] & mask) === c.bytes[i];
      }
      if (ok) return true;
    }
    return false;
  }

  /**
   * The client of a request from `peer` carrying `xff` (the X-Forwarded-For header, several
   * headers as node:http joins them with ", "). An untrusted peer: the peer. A trusted one: walk
   * the list from the right, past trusted addresses; the first untrusted one is the client. An
   * entry that is not an address stops the walk (the last trusted hop is the client), and so
   * does the list's start (every hop trusted: its left-most address).
   */
  clientOf(peer: string, xff: string | string[] | undefined): string {
    const from = unmapped(peer);
    if (!this.trusts(from) || xff === undefined) return from;
    const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',');
    let client = from;
    for (let i = hops.length - 1; i >= 0; i--) {
      const ip = parseIP(unmapped(hops[i].trim()));
      if (!ip) break;
      client = ip.text;
      if (!this.trusts(client)) break;
    }
    return client;
  }
}
