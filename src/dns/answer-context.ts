/**
 * State shared by the answer builders (answer-*.ts) for one query, and their common helpers:
 * TTLs, the health overlay (with fail-open), address collection with deduplication, glue, the
 * synthesized SOA, `targetstrip`. One AnswerContext per handler, reused for every query: its
 * scratch arrays keep their capacity, so the common path allocates nothing of its own.
 */
import type { Topology } from '../records/topology.js';
import type { AllDownPolicy, HealthState, HostKind, Record, SelectPolicy } from '../records/types.js';
import { aliasRecord, MAX_CNAMES } from './answer-cname.js';
import { ClientZone } from './locality.js';
import { allDownFor, policyFor, type Selectors } from './select.js';
import type { ClientInfo } from './types.js';
import { Section, type SectionId } from './wire/constants.js';
import type { EcsSource, Owner, ResponseWriter } from './wire/writer.js';
import type { Zone, Zones } from './zones.js';

/** What the handler reads from the catalog (a Catalog satisfies it). */
export interface AnswerSource {
  /** Records at and below `name` (wildcards, groups applied); clears and fills `out`. */
  lookup(name: string, out: Record[]): number;
  /** The name exists (NODATA) or not (NXDOMAIN). */
  has(name: string): boolean;
  /** UP / DOWN, or undefined when unmonitored (canonical IP text). */
  health(ip: string): HealthState | undefined;
  /** The IP is drained (`"admin":"drain"`): never served, not even fail-open. */
  drained(ip: string): boolean;
  /** Store revision the index reflects: the SOA serial when `serial` is not given. */
  readonly revision: number;
  /**
   * The SOA serial (before mod 2^32): the newest store revision of anything an answer reads,
   * records and health (Catalog.serial).
   */
  readonly serial?: number;
  /**
   * Changes whenever any lookup answer may have changed (Catalog.recordGeneration). With
   * `healthGeneration` it lets the handler keep per-name A/AAAA answers (answer-address.ts
   * `AddressAnswers`); a source without both is answered without them.
   */
  readonly recordGeneration?: number;
  /** Changes whenever any IP's health or drain changes (Catalog.healthGeneration). */
  readonly healthGeneration?: number;
  /**
   * The zones by CIDR, for locality (Catalog.topology): replaced whole on any change. Without
   * it no client has a zone.
   */
  readonly topology?: Topology;
}

/** Counters for the metrics; plain numbers, incremented on the query path. */
export interface AnswerStats {
  /**
   * Address sets (answers and glue) in which every address not drained was DOWN, served
   * (fail-open).
   */
  failOpen: number;
  /**
   * Answers (A/AAAA, SRV, MX) in which every address not drained was DOWN and the name's
   * all-down policy was `closed`: those addresses withheld (SERVFAIL when nothing else was left).
   */
  allDownClosed: number;
  /** Queries answered SERVFAIL because building the answer threw (a bug or unusable data). */
  errors: number;
}

/** How answering one name for one type ended. */
export const Outcome = Object.freeze({
  /** Records of the type were written to the answer section. */
  ANSWER: 0,
  /** The name exists but has no records of the type. */
  NODATA: 1,
  /** The name does not exist. */
  NXDOMAIN: 2,
  /** A CNAME was written; `ctx.cnameTarget` holds its target. */
  CNAME: 3,
  /** Every address not drained is DOWN and the name's all-down policy is `closed`: SERVFAIL. */
  ALL_DOWN: 4,
} as const);
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/**
 * What an answer builder returns (instead of a count) when every address not drained is DOWN,
 * the name's all-down policy is `closed` and nothing else is left to answer: SERVFAIL.
 */
export const ALL_DOWN_CLOSED = -1;

/** SOA timers (CoreDNS plugin/backend_lookup.go SOA). */
export const SOA_REFRESH = 7200;
export const SOA_RETRY = 1800;
export const SOA_EXPIRE = 86400;
/** The SOA record's own TTL is min(minTtl, this) (CoreDNS). */
export const SOA_MAX_TTL = 300;

/** Above this many candidates, deduplication uses a Set instead of a quadratic scan. */
const SMALL = 32;

export interface AnswerContextOptions {
  source: AnswerSource;
  zones: Zones;
  defaultTtl: number;
  minTtl: number;
  policy: SelectPolicy;
  /** The server's all-down policy (`-all-down`); a record's `alldown` overrides it. */
  allDown: AllDownPolicy;
  selectors: Selectors;
  /** A client's zone comes from the query's EDNS Client Subnet when it has one (`-trust-ecs`). */
  trustEcs?: boolean;
  /**
   * The zone-transfer view (src/dns/transfer): the server's `policy` and `allDown` hold for every
   * name (records' `select` and `alldown` ignored) and no client has a zone.
   */
  fixedPolicies?: boolean;
}

export class AnswerContext {
  readonly source: AnswerSource;
  readonly zones: Zones;
  readonly defaultTtl: number;
  readonly minTtl: number;
  readonly policy: SelectPolicy;
  readonly allDown: AllDownPolicy;
  readonly selectors: Selectors;
  readonly stats: AnswerStats = { failOpen: 0, allDownClosed: 0, errors: 0 };
  readonly fixedPolicies: boolean;
  private readonly zoneOfClient: ClientZone;

  /** The writer and client of the query being answered (set by the handler before answering). */
  w!: ResponseWriter;
  client!: ClientInfo;
  /** The parsed request (its EDNS Client Subnet feeds `sticky` with -trust-ecs). */
  query: EcsSource | null = null;
  /** The answer depends on the client identity (a sticky choice among several): ECS scope. */
  identityUsed = false;

  /** Lookup results for the name being answered. */
  readonly recs: Record[] = [];
  /** Lookup results for glue (target names), while `recs`/`cands` are still in use. */
  readonly aux: Record[] = [];
  /** Candidates of the answer being built; valid up to the count the builder keeps. */
  readonly cands: Record[] = [];
  /** Address candidates of one glue set. */
  readonly glue: Record[] = [];
  /** The CNAME records of one glue chain (addGlue). */
  readonly glueChain: Record[] = [];
  /** Per-candidate target names (SRV, MX, NS). */
  readonly targets: string[] = [];
  /** Per-candidate offset of the written target name (an Owner for glue), -1 when unusable. */
  offsets = new Int32Array(64);
  /** Deduplication of big address sets (collectAddresses); cleared before each use. */
  readonly seen = new Set<string>();
  /** Deduplication keys of the slow-path builders (SRV, MX, NS, TXT, PTR); cleared before each use. */
  readonly keys = new Set<string>();
  /** SRV weight totals per priority. */
  readonly totals = new Map<number, number>();
  /** Names of the current CNAME chain (loop detection). */
  readonly chain: string[] = [];
  /** Target of the CNAME written by the last CNAME outcome. */
  cnameTarget = '';
  /**
   * The out-of-zone name a CNAME chain ended at in the last query ('' when none): the pipeline
   * has the forwarder complete it (pipeline/complete.ts); without one the CNAME alone is sent.
   */
  externalTarget = '';

  constructor(o: AnswerContextOptions) {
    this.source = o.source;
    this.zones = o.zones;
    this.defaultTtl = o.defaultTtl;
    this.minTtl = o.minTtl;
    this.policy = o.policy;
    this.allDown = o.allDown;
    this.selectors = o.selectors;
    this.fixedPolicies = o.fixedPolicies === true;
    this.zoneOfClient = new ClientZone(o.trustEcs === true, o.selectors.identity);
  }

  /** The zone of the query's client under the source's topology ('' when none). */
  clientZone(): string {
    const t = this.source.topology;
    return t === undefined || this.fixedPolicies ? '' : this.zoneOfClient.of(t, this.client, this.query);
  }

  /** The selection policy of the name whose lookup is `this.recs[0, n)`. */
  policyOf(n: number): SelectPolicy {
    return this.fixedPolicies ? this.policy : policyFor(this.recs, n, this.policy);
  }

  /** The all-down policy of the name whose lookup is `this.recs[0, n)`. */
  allDownOf(n: number): AllDownPolicy {
    return this.fixedPolicies ? this.allDown : allDownFor(this.recs, n, this.allDown);
  }

  /** The source has zones with CIDRs: a client's zone may decide an answer. */
  get hasTopology(): boolean {
    const t = this.source.topology;
    return t !== undefined && t.cidrCount > 0;
  }

  /** A record's TTL: its `ttl` when positive (Go writers' 0 means absent), else the default. */
  ttl(r: Record): number {
    const t = r.ttl;
    return t !== undefined && t > 0 ? t : this.defaultTtl;
  }

  /** Room for `n` per-candidate offsets. */
  reserve(n: number): Int32Array {
    if (this.offsets.length < n) this.offsets = new Int32Array(Math.max(n, this.offsets.length * 2));
    return this.offsets;
  }

  /**
   * Copies the records of `src[0, n)` whose hostKind is `kind` (or either address kind for
   * 'addr') into `out`, dropping repeated addresses, and returns their count.
   */
  collectAddresses(src: readonly Record[], n: number, kind: HostKind | 'addr', out: Record[]): number {
    let m = 0;
    const big = n > SMALL;
    if (big) this.seen.clear();
    outer: for (let i = 0; i < n; i++) {
      const r = src[i];
      const k = r.hostKind;
      if (kind === 'addr' ? k !== 'ipv4' && k !== 'ipv6' : k !== kind) continue;
      const t = r.target;
      if (big) {
        if (this.seen.has(t)) continue;
        this.seen.add(t);
      } else {
        for (let j = 0; j < m; j++) if (out[j].target === t) continue outer;
      }
      out[m++] = r;
    }
    return m;
  }

  /**
   * The health overlay on `arr[0, m)`: drained address records are removed always; address
   * records whose IP is DOWN are removed unless every address record left is DOWN, in which case
   * those stay (fail-open among the addresses not drained, counted) — or, with `closed` (the
   * name's all-down policy), go too (counted; `closedDown` says so, for the caller's SERVFAIL).
   * All drained: no address is left. Removal is in place, order kept; records that are not
   * addresses are kept. Returns the new count.
   */
  healthFilter(arr: Record[], m: number, closed = false): number {
    const k = this.keepHealthy(arr, m, closed);
    if (this.failedOpen) this.stats.failOpen++;
    else if (this.closedDown) this.stats.allDownClosed++;
    return k;
  }

  /**
   * healthFilter under the all-down policy of the name whose lookup is `this.recs[0, n)` (its
   * records' `alldown`, else the server's): the new count, or ALL_DOWN_CLOSED when the name is
   * `closed`, every address not drained is DOWN and nothing else is left (the caller's SERVFAIL).
   */
  nameHealthFilter(arr: Record[], m: number, n: number): number {
    const k = this.healthFilter(arr, m, this.allDownOf(n) === 'closed');
    return k === 0 && this.closedDown ? ALL_DOWN_CLOSED : k;
  }

  /** Set by keepHealthy: its last call kept every address not drained because all were DOWN. */
  failedOpen = false;
  /** Set by keepHealthy: its last call, `closed`, removed every address because all were DOWN. */
  closedDown = false;

  /** healthFilter without counting (for answers built once and served many times). */
  keepHealthy(arr: Record[], m: number, closed = false): number {
    const src = this.source;
    let addrs = 0;
    let down = 0;
    let drained = 0;
    this.failedOpen = false;
    this.closedDown = false;
    for (let i = 0; i < m; i++) {
      const r = arr[i];
      if (r.hostKind !== 'ipv4' && r.hostKind !== 'ipv6') continue;
      if (src.drained(r.target)) {
        drained++;
        continue;
      }
      addrs++;
      if (src.health(r.target) === 'DOWN') down++;
    }
    if (down === 0 && drained === 0) return m;
    // every address not drained is DOWN: serve them (fail-open) unless closed, never the drained ones
    const allDown = down === addrs && down > 0;
    const keepDown = down === addrs && !closed;
    if (allDown) {
      if (closed) this.closedDown = true;
      else this.failedOpen = true;
    }
    let k = 0;
    for (let i = 0; i < m; i++) {
      const r = arr[i];
      if (r.hostKind === 'ipv4' || r.hostKind === 'ipv6') {
        const ip = r.target;
        if (src.drained(ip) || (!keepDown && src.health(ip) === 'DOWN')) continue;
      }
      arr[k++] = r;
    }
    return k;
  }

  /** Writes one address record (A or AAAA by the record's kind). */
  addAddress(section: SectionId, owner: Owner, ttl: number, r: Record): void {
    if (r.hostKind === 'ipv4') this.w.addA(section, owner, ttl, r.target);
    else this.w.addAAAA(section, owner, ttl, r.target);
  }

  /**
   * Glue: the healthy A and AAAA records of `target` (one of our zones' names) in the additional
   * section, owned by `owner` (the target, or an offset where it was written). A target that is
   * an alias is followed while its targets are in our zones (at most MAX_CNAMES, no loop): its
   * CNAMEs go in the additional section before the addresses of the end, as CoreDNS's glue (its
   * `A` lookup of the target, plugin/backend_lookup.go `SRV`/`MX`) has them; a chain ending
   * without addresses gives no glue at all. Out-of-zone targets get none.
   */
  addGlue(target: string, owner: Owner): void {
    if (this.zones.find(target) === undefined) return;
    const chain = this.glueChain;
    let t = target;
    let hops = 0;
    let n: number;
    let m: number;
    const g = this.glue;
    for (;;) {
      n = this.source.lookup(t, this.aux);
      if (n === 0) return;
      m = this.collectAddresses(this.aux, n, 'addr', g);
      if (m > 0) break;
      if (hops >= MAX_CNAMES) return;
      const a = aliasRecord(this.aux, n, t);
      if (a === null || a === undefined || this.zones.find(a.target) === undefined) return;
      for (let i = 0; i < hops; i++) if (chain[i].target === a.target) return;
      if (a.target === target) return;
      chain[hops++] = a;
      t = a.target;
    }
    // fail-open whatever the target's all-down policy: glue is a hint, and a resolver that
    // asks the target's A/AAAA itself gets that policy's answer
    m = this.healthFilter(g, m);
    if (m === 0) return;
    let o = owner;
    for (let i = 0; i < hops; i++) {
      const a = chain[i];
      this.w.addCNAME(Section.ADDITIONAL, o, this.ttl(a), a.target);
      const off = this.w.targetOffset;
      o = off >= 0 ? off : a.target;
    }
    for (let i = 0; i < m; i++) this.addAddress(Section.ADDITIONAL, o, this.ttl(g[i]), g[i]);
  }

  /**
   * Glue for the targets of the records written from `cands[0, m)` (SRV, MX, NS), whose targets
   * are `targets[i]` and written target offsets `offsets[i]` (-1: write the name; -2: the record
   * was not written, no glue). An address record's target is its own (synthesized) name: glue is
   * its address; a name target gets the healthy addresses of that name when it is in our zones.
   * Each (target, address) pair and each name target once.
   */
  addTargetGlue(m: number): void {
    const cands = this.cands;
    const targets = this.targets;
    const offs = this.offsets;
    const keys = this.keys;
    keys.clear();
    for (let i = 0; i < m; i++) {
      const off = offs[i];
      if (off === -2) continue;
      const r = cands[i];
      const t = targets[i];
      const owner: Owner = off >= 0 ? off : t;
      if (r.hostKind === 'name') {
        if (t === '.' || keys.has(t)) continue;
        keys.add(t);
        this.addGlue(t, owner);
      } else {
        const key = `${t} ${r.target}`;
        if (keys.has(key)) continue;
        keys.add(key);
        this.addAddress(Section.ADDITIONAL, owner, this.ttl(r), r);
      }
    }
  }

  /** The zone's synthesized SOA (CoreDNS): serial = the catalog's revision. */
  addSOA(section: SectionId, owner: Owner, zone: Zone): void {
    writeSOA(this.w, section, owner, zone, this.minTtl, (this.source.serial ?? this.source.revision) >>> 0);
  }
}

/** A zone's SOA (the one synthesized SOA of queries and zone transfers). */
export function writeSOA(
  w: ResponseWriter,
  section: SectionId,
  owner: Owner,
  zone: Zone,
  minTtl: number,
  serial: number,
): void {
  w.addSOA(
    section,
    owner,
    Math.min(minTtl, SOA_MAX_TTL),
    zone.nsName,
    zone.hostmaster,
    serial,
    SOA_REFRESH,
    SOA_RETRY,
    SOA_EXPIRE,
    minTtl,
  );
}

/**
 * SkyDNS/CoreDNS `targetstrip`: drops the `k` leftmost labels of an absolute name; when that
 * would leave nothing (k ≥ the label count) the name is kept whole (CoreDNS `targetStrip`).
 */
export function targetStrip(name: string, k: number | undefined): string {
  if (k === undefined || k <= 0 || name === '.') return name;
  let off = 0;
  for (let i = 0; i < k; i++) {
    const d = name.indexOf('.', off);
    if (d < 0 || d === name.length - 1) return name;
    off = d + 1;
  }
  return name.slice(off);
}
