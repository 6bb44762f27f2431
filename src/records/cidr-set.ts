/**
 * A list of CIDRs to test addresses against: `-api-trusted-proxies` (src/api/forwarded.ts) and
 * `-transfer-allow` (src/dns/transfer). Entries are CIDRs or bare addresses (`192.0.2.7` is
 * `192.0.2.7/32`); an IPv4 peer on a dual-stack socket (`::ffff:10.0.0.1`) is its IPv4 address.
 */
import { parseIP } from './ip.js';
import { type Cidr, parseCidr } from './topology.js';

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) → `10.0.0.1`. */
export function unmapped(ip: string): string {
  const m = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(ip);
  return m ? m[1] : ip;
}

/** Why an entry is not a CIDR or an address: the entry as given and parseCidr's reason. */
export interface CidrEntryError {
  readonly entry: string;
  readonly why: string;
}

export class CidrSet {
  static readonly EMPTY = new CidrSet([]);

  private constructor(private readonly cidrs: readonly Cidr[]) {}

  /** From CIDRs or bare addresses (blank entries skipped, repeats kept once), or the first bad entry. */
  static parse(list: readonly string[]): CidrSet | CidrEntryError {
    const cidrs: Cidr[] = [];
    for (const text of list) {
      const t = text.trim();
      if (t === '') continue;
      const ip = t.includes('/') ? undefined : parseIP(t);
      const c = parseCidr(ip ? `${ip.text}/${ip.kind === 'ipv4' ? 32 : 128}` : t);
      if (typeof c === 'string') return { entry: t, why: c };
      if (!cidrs.some((x) => x.text === c.text)) cidrs.push(c);
    }
    return cidrs.length === 0 ? CidrSet.EMPTY : new CidrSet(cidrs);
  }

  get size(): number {
    return this.cidrs.length;
  }

  /** The CIDRs, canonical. */
  get list(): string[] {
    return this.cidrs.map((c) => c.text);
  }

  /** True when `ip` (text, possibly `::ffff:`-mapped) is inside one of the CIDRs. */
  has(ip: string): boolean {
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
}
