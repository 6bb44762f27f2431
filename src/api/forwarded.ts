/**
 * Which client a request is from, for the rate limiter and the request log: the peer's address,
 * or — only when the peer is a trusted proxy (`-api-trusted-proxies`) — the right-most address of
 * `X-Forwarded-For` that is not itself trusted, as nginx's `real_ip_recursive on`: every proxy
 * appends the address it was reached from, so the entries left of the last trusted hop are the
 * client's to write and cannot be believed. No trusted proxies (the default): the header is never
 * read.
 */

import { CidrSet, unmapped } from '../records/cidr-set.js';
import { parseIP } from '../records/ip.js';

export class TrustedProxies {
  static readonly NONE = new TrustedProxies(CidrSet.EMPTY);

  private constructor(private readonly cidrs: CidrSet) {}

  /**
   * From CIDRs or bare addresses (`10.0.0.0/8`, `192.0.2.7`, `fd00::/8`); the first that is
   * neither is returned as a message naming it.
   */
  static parse(list: readonly string[]): TrustedProxies | string {
    const set = CidrSet.parse(list);
    if (!(set instanceof CidrSet)) return `"${set.entry}" is not an address or CIDR: ${set.why}`;
    return set.size === 0 ? TrustedProxies.NONE : new TrustedProxies(set);
  }

  get size(): number {
    return this.cidrs.size;
  }

  /** The CIDRs, canonical. */
  get list(): string[] {
    return this.cidrs.list;
  }

  /** True when `ip` is inside one of the CIDRs. */
  trusts(ip: string): boolean {
    return this.cidrs.has(ip);
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
