/**
 * Topology: which client networks belong to which zone (docs/data-model.md, "Topology").
 * `<topology-path><zone>` = `{"cidrs":["10.1.0.0/16","fd00:1::/48"]}`; a record's `"zone"` names
 * the zone its address lives in; a client's zone is the zone of the longest CIDR that holds its
 * identity (source address or ECS subnet). `Topology` answers that without allocating.
 */
import { RecordError, show } from './errors.js';
import { normalizeMonitorPath } from './health.js';
import { formatIPv4, formatIPv6, parseIP } from './ip.js';

/** Hades's `-topology-path` default. */
export const DEFAULT_TOPOLOGY_PATH = '/hades/topology/';

/** At most this many CIDRs per zone. */
export const MAX_ZONE_CIDRS = 4096;

/**
 * A zone name: a Kubernetes label value that is not empty (EndpointSlice `zone` is the node's
 * `topology.kubernetes.io/zone` label): 1–63 characters, ASCII letters, digits, `-`, `_`, `.`,
 * beginning and ending with a letter or digit. Compared exactly (case matters, as in labels).
 */
const ZONE_NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

const INTERNED = new Map<string, string>();
/** Zone names kept by `internZone` at most (names are few; beyond, they are returned as given). */
const MAX_INTERNED = 10_000;

/**
 * One string instance per zone name, so that the DNS path compares a client's zone with a
 * record's by identity (V8 compares two distinct equal strings octet by octet, reading memory a
 * 100,000-name catalog has long evicted from the cache).
 */
export function internZone(z: string): string {
  const have = INTERNED.get(z);
  if (have !== undefined) return have;
  if (INTERNED.size < MAX_INTERNED) INTERNED.set(z, z);
  return z;
}

/** undefined when `v` is a zone name, else what is wrong with it. */
export function checkZoneName(v: unknown): string | undefined {
  if (typeof v !== 'string') return 'must be a string';
  if (!ZONE_NAME.test(v))
    return 'must be 1 to 63 letters, digits, "-", "_" or "." beginning and ending with a letter or digit';
  return undefined;
}

/** One CIDR: family, the network's octets (host bits cleared), prefix length, canonical text. */
export interface Cidr {
  readonly family: 4 | 6;
  readonly bytes: Uint8Array;
  readonly prefix: number;
  /** `10.1.0.0/16`, `fd00:1::/48`: the network address canonical, host bits cleared. */
  readonly text: string;
}

/**
 * Parses `a.b.c.d/n` or `ipv6/n` (host bits are cleared, as Go's net.ParseCIDR gives the
 * network). Returns what is wrong as a string when it is not one.
 */
export function parseCidr(s: unknown): Cidr | string {
  if (typeof s !== 'string') return 'must be a string';
  const slash = s.indexOf('/');
  if (slash < 0) return 'must be an address and a prefix length, as 10.1.0.0/16';
  const ip = parseIP(s.slice(0, slash));
  if (ip === undefined) return 'has no valid IPv4 or IPv6 address before the "/"';
  const max = ip.kind === 'ipv4' ? 32 : 128;
  const p = s.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max)
    return `must have a prefix length from 0 to ${max} after the "/"`;
  const prefix = Number(p);
  const bytes = ip.bytes.slice();
  for (let i = 0; i < bytes.length; i++) {
    const keep = prefix - 8 * i;
    if (keep <= 0) bytes[i] = 0;
    else if (keep < 8) bytes[i] &= 0xff << (8 - keep);
  }
  const family = ip.kind === 'ipv4' ? 4 : 6;
  return { family, bytes, prefix, text: `${family === 4 ? formatIPv4(bytes) : formatIPv6(bytes)}/${prefix}` };
}

/** A parsed topology value. */
export interface TopologyValue {
  readonly cidrs: readonly Cidr[];
}

/**
 * Parses a topology value `{"cidrs":[…]}`. Strict: an unknown field, a missing or non-array
 * `cidrs`, more than MAX_ZONE_CIDRS, or a bad entry throws RecordError naming the field
 * (`cidrs`, `cidrs[2]`). Repeated CIDRs are kept once.
 */
export function parseTopologyValue(json: string): TopologyValue {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new RecordError('', `topology value is not valid JSON: ${(e as Error).message}`);
  }
  return topologyFromObject(raw);
}

/** parseTopologyValue for a value already parsed from JSON (the API's request body). */
export function topologyFromObject(raw: unknown): TopologyValue {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new RecordError('', `topology value must be a JSON object, got ${show(raw)}`);
  const obj = raw as { [k: string]: unknown };
  for (const k of Object.keys(obj))
    if (k !== 'cidrs') throw new RecordError(k, `unknown topology field "${k}" (only "cidrs")`);
  const list = obj.cidrs;
  if (!Array.isArray(list))
    throw new RecordError('cidrs', `"cidrs" must be an array of CIDRs, got ${show(list)}`);
  if (list.length > MAX_ZONE_CIDRS)
    throw new RecordError('cidrs', `"cidrs" has ${list.length} entries; at most ${MAX_ZONE_CIDRS}`);
  const cidrs: Cidr[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const c = parseCidr(list[i]);
    if (typeof c === 'string')
      throw new RecordError(`cidrs[${i}]`, `"cidrs[${i}]" ${c}, got ${show(list[i])}`);
    if (seen.has(c.text)) continue;
    seen.add(c.text);
    cidrs.push(c);
  }
  return { cidrs };
}

/** The JSON writers store: `{"cidrs":[canonical CIDR texts]}`. */
export function serializeTopologyValue(v: TopologyValue): string {
  return JSON.stringify({ cidrs: v.cidrs.map((c) => c.text) });
}

/** One leading slash, exactly one trailing slash: the monitor path's rule. */
export const normalizeTopologyPath: (path: string) => string = normalizeMonitorPath;

/** `<topology path><zone>`. Throws RecordError (field `zone`) when `zone` is not a zone name. */
export function topologyKey(path: string, zone: string): string {
  const problem = checkZoneName(zone);
  if (problem !== undefined) throw new RecordError('zone', `zone ${show(zone)} ${problem}`);
  return normalizeTopologyPath(path) + zone;
}

/** The zone a topology key is about, or undefined when it is not `<path><zone name>`. */
export function zoneFromTopologyKey(path: string, key: string): string | undefined {
  const p = normalizeTopologyPath(path);
  if (!key.startsWith(p)) return undefined;
  const zone = key.slice(p.length);
  return checkZoneName(zone) === undefined ? zone : undefined;
}

// ---- the longest-prefix match --------------------------------------------------------------

/** The first `prefix` bits of IPv4 `bytes` as an int32 (the rest zero). */
function masked4(b: Uint8Array, prefix: number): number {
  const a = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
  return prefix === 0 ? 0 : a & (-1 << (32 - prefix));
}

/** Int32s per trie node: child for bit 0, child for bit 1, zone index (−1: none). */
const NODE = 3;

/**
 * Zones by CIDR, immutable: `zoneOf` finds the zone of the longest CIDR holding a client
 * identity without allocating. IPv4: one Map per prefix length in use (masked address → zone),
 * tried longest first (a few lookups: the common topology has one or two lengths). IPv6: a binary
 * trie of the CIDRs' bits kept in one Int32Array, at most prefix-length steps. The same CIDR in
 * two zones goes to the zone whose name sorts first (so every replica agrees).
 */
export class Topology {
  /** The zones, sorted by name; zone indexes in the trie point here. */
  readonly zones: readonly string[];
  private readonly nodes: Int32Array;
  /** Root node index of IPv4 and IPv6 CIDRs. */
  private readonly root6: number;
  /** IPv4 prefix lengths in use, longest first, and per length: masked address (int32) → zone. */
  private readonly lengths4: Int32Array;
  private readonly maps4: Map<number, number>[];
  readonly cidrCount: number;

  static readonly EMPTY = new Topology(new Map());

  constructor(byZone: ReadonlyMap<string, TopologyValue>) {
    const zones = [...byZone.keys()].sort().map(internZone);
    this.zones = zones;
    let count = 0;
    for (const z of zones) count += byZone.get(z)?.cidrs.length ?? 0;
    this.cidrCount = count;
    let nodes = new Int32Array(NODE * 64);
    let used = 0;
    const alloc = (): number => {
      if (NODE * (used + 1) > nodes.length) {
        const bigger = new Int32Array(nodes.length * 2);
        bigger.set(nodes);
        nodes = bigger;
      }
      const n = used++;
      nodes[NODE * n] = 0;
      nodes[NODE * n + 1] = 0;
      nodes[NODE * n + 2] = -1;
      return n;
    };
    alloc(); // node 0: a child index of 0 means none
    this.root6 = alloc();
    const byLength = new Map<number, Map<number, number>>();
    for (let zi = 0; zi < zones.length; zi++) {
      for (const c of byZone.get(zones[zi])?.cidrs ?? []) {
        if (c.family === 4) {
          let m = byLength.get(c.prefix);
          if (m === undefined) {
            m = new Map();
            byLength.set(c.prefix, m);
          }
          const key = masked4(c.bytes, c.prefix);
          // zones are visited in name order: the first to claim a CIDR keeps it
          if (!m.has(key)) m.set(key, zi);
          continue;
        }
        let n = this.root6;
        for (let bit = 0; bit < c.prefix; bit++) {
          const b = (c.bytes[bit >> 3] >> (7 - (bit & 7))) & 1;
          let next = nodes[NODE * n + b];
          if (next === 0) {
            next = alloc();
            nodes[NODE * n + b] = next;
          }
          n = next;
        }
        // zones are visited in name order: the first to claim a CIDR keeps it
        if (nodes[NODE * n + 2] < 0) nodes[NODE * n + 2] = zi;
      }
    }
    this.nodes = nodes.slice(0, NODE * used);
    const lengths = [...byLength.keys()].sort((a, b) => b - a);
    this.lengths4 = Int32Array.from(lengths);
    this.maps4 = lengths.map((l) => byLength.get(l) as Map<number, number>);
  }

  /**
   * The zone of the longest CIDR holding the identity `id[0, len)` (select.ts layout: family 4
   * or 6, prefix length, the address octets), or '' when none does. A CIDR longer than the
   * identity's prefix (an ECS /24 against a /28) does not hold it.
   */
  zoneOf(id: Uint8Array, len: number): string {
    if (len < 2 || this.cidrCount === 0) return '';
    const nodes = this.nodes;
    const family = id[0];
    if (family !== 4 && family !== 6) return '';
    const max = Math.min(id[1], family === 4 ? 32 : 128, 8 * (len - 2));
    if (family === 4) {
      // octets past the identity's length are beyond its prefix: masked away
      const a =
        (len > 2 ? id[2] << 24 : 0) |
        (len > 3 ? id[3] << 16 : 0) |
        (len > 4 ? id[4] << 8 : 0) |
        (len > 5 ? id[5] : 0) |
        0;
      const lengths = this.lengths4;
      for (let i = 0; i < lengths.length; i++) {
        const l = lengths[i];
        if (l > max) continue;
        const z = this.maps4[i].get(l === 0 ? 0 : a & (-1 << (32 - l)));
        if (z !== undefined) return this.zones[z];
      }
      return '';
    }
    let n = this.root6;
    let best = nodes[NODE * n + 2];
    for (let bit = 0; bit < max; bit++) {
      n = nodes[NODE * n + ((id[2 + (bit >> 3)] >> (7 - (bit & 7))) & 1)];
      if (n === 0) break;
      const z = nodes[NODE * n + 2];
      if (z >= 0) best = z;
    }
    return best >= 0 ? this.zones[best] : '';
  }
}
