/**
 * Rendezvous (highest random weight) assignment of addresses to scanners: each address goes to
 * the scanner with the highest hash(scanner, address). A scanner joining takes only the addresses
 * it now wins; a scanner leaving gives only its own addresses away; nothing else moves.
 */

/** 32-bit FNV-1a of the UTF-16 code units, then murmur3's fmix32 for avalanche. */
export function score(scanner: string, address: string): number {
  let h = 0x811c9dc5;
  const s = `${scanner}\u0000${address}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The scanner an address belongs to, or undefined when there is none. Ties go to the smaller name. */
export function owner(address: string, scanners: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const s of scanners) {
    const sc = score(s, address);
    if (sc > bestScore || (sc === bestScore && best !== undefined && s < best)) {
      best = s;
      bestScore = sc;
    }
  }
  return best;
}

/** address → scanner for every address (empty map when there are no scanners). */
export function assign(addresses: Iterable<string>, scanners: Iterable<string>): Map<string, string> {
  const list = [...new Set(scanners)];
  const out = new Map<string, string>();
  if (list.length === 0) return out;
  for (const a of addresses) out.set(a, owner(a, list) as string);
  return out;
}
