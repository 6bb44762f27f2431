/**
 * A and AAAA: the hot path. The name's address records of the asked family, deduplicated,
 * through the health overlay (drained always left out; DOWN left out, but when every address
 * not drained is DOWN those are all kept, counted — or, when the name's all-down policy is
 * `closed`, the answer is SERVFAIL, counted), then the lowest priority tier (tiers.ts; not under
 * `all`), then the client's zone when it has candidates there (locality.ts), then the selection
 * policy (select.ts; the lowest-key record's `select` among the name's records overrides the
 * server's; `alldown` is found the same way). One TTL for the RRset: the
 * lowest of the emitted records' (RFC 2181 §5.2). Owner: the question name (0x20 case kept) or
 * the last CNAME's target. Allocates nothing beyond the catalog lookup.
 *
 * `AddressAnswers` keeps, per name asked, what the steps before selection produce (the
 * deduplicated, health-filtered candidates of the tier of each family, split by zone, and the
 * policy), valid while the catalog's record and health generations stay the same: a repeated
 * question skips the lookup, deduplication, health overlay and tiers and goes straight to the
 * client's zone and selection, which run on every query (they depend on the client; random-one
 * and all draw per query).
 */

import { parseIPv4Into } from '../records/ip.js';
import { internZone } from '../records/topology.js';
import type { Record, SelectPolicy } from '../records/types.js';
import type { AnswerContext } from './answer-context.js';
import { anyZone, keepZone } from './locality.js';
import { KEY_STRIDE, stickyKeys } from './select.js';
import { keepTier, lowestTier } from './tiers.js';
import { Rcode, RRType, Section } from './wire/constants.js';
import { type Owner, QNAME } from './wire/writer.js';

/**
 * Writes the addresses of `kind` among `ctx.recs[0, n)` (the lookup of `name`) and returns
 * how many were written (0: none of that family), or ALL_DOWN_CLOSED (nothing written).
 */
export function answerAddresses(
  ctx: AnswerContext,
  name: string,
  owner: Owner,
  n: number,
  kind: 'ipv4' | 'ipv6',
): number {
  const cands = ctx.cands;
  let m = ctx.collectAddresses(ctx.recs, n, kind, cands);
  if (m === 0) return 0;
  m = ctx.nameHealthFilter(cands, m, n);
  // every address drained: none of this family (NODATA, as if there were none); or all down, closed
  if (m <= 0) return m;
  const policy = ctx.policyOf(n);
  return emitAddresses(ctx, name, owner, narrow(ctx, cands, m, policy), policy, kind);
}

/**
 * The candidates selection picks among, in place in `arr[0, m)` (health applied, m ≥ 1): the
 * lowest tier (not under `all`), then the client's zone when it has some of them. Returns the
 * count. The per-name answers (`family`) make the same cut once, and per zone.
 */
function narrow(ctx: AnswerContext, arr: Record[], m: number, policy: SelectPolicy): number {
  if (policy !== 'all') m = keepTier(arr, m, lowestTier(arr, m));
  if (ctx.hasTopology && anyZone(arr, m)) {
    // who asked decides the zone: the ECS echo says so (scope)
    ctx.identityUsed = true;
    m = keepZone(arr, m, ctx.clientZone());
  }
  return m;
}

/** Selection among `ctx.cands[0, m)` (m ≥ 1) and the RRset written: returns how many. */
function emitAddresses(
  ctx: AnswerContext,
  name: string,
  owner: Owner,
  m: number,
  policy: SelectPolicy,
  kind: 'ipv4' | 'ipv6',
): number {
  const cands = ctx.cands;
  let k = ctx.selectors[policy](cands, m, ctx.client, name, ctx.query);
  // a sticky choice among several depends on who asked: the ECS echo says so (scope)
  if (policy === 'sticky' && m > 1) ctx.identityUsed = true;
  if (!(k >= 1)) k = 1;
  else if (k > m) k = m;
  let ttl = ctx.ttl(cands[0]);
  for (let i = 1; i < k; i++) {
    const t = ctx.ttl(cands[i]);
    if (t < ttl) ttl = t;
  }
  const w = ctx.w;
  if (kind === 'ipv4') for (let i = 0; i < k; i++) w.addA(Section.ANSWER, owner, ttl, cands[i].target);
  else for (let i = 0; i < k; i++) w.addAAAA(Section.ANSWER, owner, ttl, cands[i].target);
  return k;
}

/** Candidates selection picks among, and their sticky keys. */
export interface Group {
  /** Never empty (but for the CLOSED family's). */
  readonly cands: Record[];
  /**
   * For sticky with several candidates: per candidate (KEY_STRIDE numbers) the address hash
   * (hi, lo) and weight (select.ts `stickyKeys`), its TTL, and for A its address as a uint32;
   * so a query picks and writes without reading the records. Null otherwise.
   */
  readonly keys: number[] | null;
  /** The zone of every candidate ('' for the family's whole tier). */
  readonly zone: string;
}

/**
 * One family's answer for a name, before selection. As a Group (zone ''): the deduplicated
 * address records, drained and DOWN ones left out (the DOWN ones kept when every address not
 * drained is DOWN), of the lowest tier among those (every tier under `all`); the candidates of a
 * client without a zone group. (The whole tier is the family itself, not a Group it points to:
 * one object less to reach per query.)
 */
export interface Family extends Group {
  /**
   * When some candidates name a zone: per zone, its candidates (a client of that zone picks
   * among them; anyone else among the family's). Null otherwise.
   */
  readonly zones: Group[] | null;
  /** The tier of the candidates (tiers.ts), −1 under `all`. */
  readonly tier: number;
  readonly policy: SelectPolicy;
  /** Every address not drained is DOWN: served, counted per answer in `stats.failOpen`. */
  readonly failOpen: boolean;
  /**
   * Every address not drained is DOWN and the name's all-down policy is `closed`: the answer is
   * SERVFAIL, counted per answer in `stats.allDownClosed` (`cands` is empty then).
   */
  readonly closed: boolean;
}

/** A name's A and AAAA answers before selection; null: no address of that family. */
interface NameAnswers {
  readonly v4: Family | null;
  readonly v6: Family | null;
}

/**
 * Per-name A/AAAA answers before selection, for the names asked, valid for one pair of the
 * source's (record, health) generations: when either changes (any record or health change, or
 * a relist) all are dropped at once and rebuilt by the next question for each name. At most
 * `capacity` names (then all are dropped too). Synchronous, one per handler.
 */
export class AddressAnswers {
  private readonly names = new Map<string, NameAnswers>();
  private gen = -1;
  private hgen = -1;

  constructor(private readonly capacity = 1 << 20) {}

  /** Names held. */
  get size(): number {
    return this.names.size;
  }

  /**
   * Answers an A or AAAA question for `name` (lower case, in a zone, not its apex) into
   * `ctx.w` with owner QNAME, and returns NOERROR; SERVFAIL (nothing written) when every address
   * not drained is DOWN and the name is `closed`: the caller sends an empty SERVFAIL; NOT_HERE
   * (nothing written) when the name has no address of the family: the caller answers it the
   * general way (CNAME, NODATA, NXDOMAIN).
   */
  answer(ctx: AnswerContext, name: string, qtype: number): number {
    const f = this.family(ctx, name, qtype);
    if (f === null) return NOT_HERE;
    if (f.closed) {
      ctx.stats.allDownClosed++;
      return Rcode.SERVFAIL;
    }
    const g = groupFor(ctx, f);
    const list = g.cands;
    const m = list.length;
    const keys = g.keys;
    const pickKeyed = ctx.selectors.pickKeyed;
    if (keys !== null && pickKeyed !== null) {
      // sticky among several: pick from the keys, write without touching the records
      const i = pickKeyed(keys, m, list, ctx.client, name, ctx.query);
      ctx.identityUsed = true;
      if (f.failOpen) ctx.stats.failOpen++;
      const k = KEY_STRIDE * i;
      if (qtype === RRType.A) ctx.w.addA(Section.ANSWER, QNAME, keys[k + 3], keys[k + 4]);
      else ctx.w.addAAAA(Section.ANSWER, QNAME, keys[k + 3], list[i].target);
      return Rcode.NOERROR;
    }
    const cands = ctx.cands;
    for (let i = 0; i < m; i++) cands[i] = list[i];
    if (f.failOpen) ctx.stats.failOpen++;
    emitAddresses(ctx, name, QNAME, m, f.policy, qtype === RRType.A ? 'ipv4' : 'ipv6');
    return Rcode.NOERROR;
  }

  /**
   * The family of `name` for `qtype` (A or AAAA) as answers use it (built if not held), or null
   * when the name has none or the source has no generations (explain reads it too).
   */
  family(ctx: AnswerContext, name: string, qtype: number): Family | null {
    const src = ctx.source;
    const gen = src.recordGeneration;
    const hgen = src.healthGeneration;
    if (gen === undefined || hgen === undefined) return null;
    if (gen !== this.gen || hgen !== this.hgen || this.names.size >= this.capacity) {
      this.names.clear();
      this.gen = gen;
      this.hgen = hgen;
    }
    let e = this.names.get(name);
    if (e === undefined) {
      e = this.build(ctx, name);
      this.names.set(name, e);
    }
    return qtype === RRType.A ? e.v4 : e.v6;
  }

  private build(ctx: AnswerContext, name: string): NameAnswers {
    const n = ctx.source.lookup(name, ctx.recs);
    if (n === 0) return NONE;
    // both policies resolved once per name and generation, never per query
    const policy = ctx.policyOf(n);
    const closed = ctx.allDownOf(n) === 'closed';
    return { v4: family(ctx, n, 'ipv4', policy, closed), v6: family(ctx, n, 'ipv6', policy, closed) };
  }
}

/** `AddressAnswers.answer`: the name has no address of the family; nothing written. */
export const NOT_HERE = -1;

const NONE: NameAnswers = Object.freeze({ v4: null, v6: null });

/**
 * A family whose every address not drained is DOWN, under `closed`: SERVFAIL. Not frozen, so it
 * keeps the shape of the families `family()` builds (one hidden class where the query reads them).
 */
const CLOSED: Family = {
  cands: [],
  keys: null,
  zone: '',
  zones: null,
  tier: -1,
  policy: 'sticky',
  failOpen: false,
  closed: true,
};

/**
 * The candidates for this query's client: its zone's group when the family has one for it (the
 * zone has a healthy address in the tier), else the whole tier. Marks the answer as depending on
 * the client when zones could decide it.
 */
export function groupFor(ctx: AnswerContext, f: Family): Group {
  const zones = f.zones;
  if (zones === null || !ctx.hasTopology) return f;
  ctx.identityUsed = true;
  const z = ctx.clientZone();
  if (z !== '') for (let i = 0; i < zones.length; i++) if (zones[i].zone === z) return zones[i];
  return f;
}

/** The family's candidates of `ctx.recs[0, n)`, as `answerAddresses` filters them. */
function family(
  ctx: AnswerContext,
  n: number,
  kind: 'ipv4' | 'ipv6',
  policy: SelectPolicy,
  closed: boolean,
): Family | null {
  const cands = ctx.cands;
  const m = ctx.collectAddresses(ctx.recs, n, kind, cands);
  if (m === 0) return null;
  const list = cands.slice(0, m);
  list.length = ctx.keepHealthy(list, m, closed);
  // all drained: no answer of this family; the general path answers NODATA
  if (list.length === 0) return ctx.closedDown ? CLOSED : null;
  const failOpen = ctx.failedOpen;
  let tier = -1;
  if (policy !== 'all') {
    tier = lowestTier(list, list.length);
    list.length = keepTier(list, list.length, tier);
  }
  const group = (cs: Record[], zone: string): Group => ({
    cands: cs,
    keys: policy === 'sticky' ? keysOf(ctx, cs, kind) : null,
    zone,
  });
  let zones: Group[] | null = null;
  if (anyZone(list, list.length)) {
    zones = [];
    for (const r of list) {
      const z = r.zone;
      if (z === undefined || zones.some((g) => g.zone === z)) continue;
      zones.push(
        group(
          list.filter((c) => c.zone === z),
          internZone(z),
        ),
      );
    }
  }
  return {
    cands: list,
    keys: policy === 'sticky' ? keysOf(ctx, list, kind) : null,
    zone: '',
    zones,
    tier,
    policy,
    failOpen,
    closed: false,
  };
}

/** The sticky keys of `list` (several candidates), with each one's TTL and, for A, address. */
function keysOf(ctx: AnswerContext, list: Record[], kind: 'ipv4' | 'ipv6'): number[] | null {
  const m = list.length;
  if (m < 2) return null;
  const keys: number[] = new Array(KEY_STRIDE * m).fill(0);
  stickyKeys(list, m, keys);
  const b = new Uint8Array(4);
  for (let i = 0; i < m; i++) {
    keys[KEY_STRIDE * i + 3] = ctx.ttl(list[i]);
    if (kind === 'ipv4') {
      if (!parseIPv4Into(list[i].target, b, 0)) return null; // never: the index holds canonical addresses
      keys[KEY_STRIDE * i + 4] = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    }
  }
  return keys;
}
