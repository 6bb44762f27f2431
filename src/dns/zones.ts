/**
 * The zones this server is authoritative for (`-domain`, a comma list; reverse zones such as
 * `10.in-addr.arpa.` included) and the longest-match lookup of a query name. Each zone carries
 * the names derived from it once, so the query path builds no strings: the SOA's `ns.dns.<zone>`
 * and `hostmaster.<zone>`, and the special apex record name `apex.dns.<zone>` (CoreDNS etcd).
 */
import { parseName } from '../records/names.js';

export interface Zone {
  /** Canonical: lower case, absolute (`hades.local.`; `.` for the root). */
  readonly name: string;
  /** `ns.dns.<zone>`: where the zone's NS records live (and the SOA MNAME). */
  readonly nsName: string;
  /** `apex.dns.<zone>`: where the apex's own A/AAAA (and other) records live. */
  readonly apexName: string;
  /** `hostmaster.<zone>`: the SOA RNAME. */
  readonly hostmaster: string;
}

const DOT = 46;
const BACKSLASH = 92;

function under(prefix: string, zone: string): string {
  return zone === '.' ? `${prefix}.` : `${prefix}.${zone}`;
}

export class Zones {
  /** Longest first, so the first match is the most specific zone. */
  readonly list: readonly Zone[];

  /** Throws an Error naming the bad zone (empty list, invalid name). Duplicates are merged. */
  constructor(zones: readonly string[]) {
    if (zones.length === 0) throw new Error('at least one zone is needed');
    const seen = new Set<string>();
    const list: Zone[] = [];
    for (const z of zones) {
      let name: string;
      try {
        name = parseName(z);
      } catch (err) {
        throw new Error(`zone "${z}": ${(err as Error).message}`);
      }
      if (name.includes('*')) throw new Error(`zone "${z}": a zone cannot hold a wildcard label`);
      if (seen.has(name)) continue;
      seen.add(name);
      list.push({
        name,
        nsName: under('ns.dns', name),
        apexName: under('apex.dns', name),
        hostmaster: under('hostmaster', name),
      });
    }
    list.sort((a, b) => b.name.length - a.name.length);
    this.list = list;
  }

  /**
   * The most specific zone containing `qname` (lower-case presentation form with trailing dot,
   * as parseQuery gives it), or undefined. With `escaped` (the query had `\.` or `\DDD` in a
   * label) a dot preceded by an odd number of backslashes is not a label boundary. No allocation.
   */
  find(qname: string, escaped = false): Zone | undefined {
    const list = this.list;
    const n = qname.length;
    for (let i = 0; i < list.length; i++) {
      const z = list[i];
      const zn = z.name;
      if (zn === '.') return z;
      const zl = zn.length;
      if (n < zl || !qname.endsWith(zn)) continue;
      if (n === zl) return z;
      const b = n - zl - 1;
      if (qname.charCodeAt(b) !== DOT) continue;
      if (escaped && isEscaped(qname, b)) continue;
      return z;
    }
    return undefined;
  }
}

/** True when the character at `i` is preceded by an odd number of backslashes. */
function isEscaped(s: string, i: number): boolean {
  let k = 0;
  while (i - 1 - k >= 0 && s.charCodeAt(i - 1 - k) === BACKSLASH) k++;
  return (k & 1) === 1;
}
