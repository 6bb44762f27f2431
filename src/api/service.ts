/**
 * Records as the API sees them, and the one way the API writes: `RecordService.mutate` reads the
 * keys of the names a request touches, lets a plan decide what to put and delete, adds the health
 * status keys (`{"status":"UP"}` for an address no record used before, removed when no record
 * uses it any more) and commits it all in ONE store transaction that compares every key it read
 * (modRevision, 0 = absent). When a concurrent writer got there first the compare fails and the
 * whole request is planned again on fresh data: no update is lost, nothing is half written.
 */

import {
  type AdminState,
  healthKey,
  ipFromHealthKey,
  parseHealthStatus,
  serializeHealthStatus,
} from '../records/health.js';
import { canonicalIP } from '../records/ip.js';
import { keyToName, nameToKey } from '../records/keys.js';
import { fnv1a32, leafKey, serializeRecordValue, toRecord } from '../records/record.js';
import { DEFAULT_TOPOLOGY_PATH, normalizeTopologyPath } from '../records/topology.js';
import type { HealthStatus, Record, RecordValue } from '../records/types.js';
import type { Compare, KeyValue, Op, Store } from '../store/types.js';
import { ApiError } from './errors.js';

/** Records the API writes carry this `source`. */
export const API_SOURCE = 'api';

/** One record of a name: its store key/value, parsed. */
export interface NameRecord {
  kv: KeyValue;
  record: Record;
  /** Leaf label (fnv1a32 of the value) when the key is a leaf of the name, '' for the name's own key. */
  id: string;
}

/** What a plan wants done. Values are RecordValues; keys are the leaf keys of their names. */
export interface Plan<T> {
  puts: { name: string; value: RecordValue }[];
  deletes: string[];
  /**
   * Probes to set on the status keys of addresses (canonical IP → the validated probe JSON;
   * null removes it), in the same transaction. An address without a status key gets
   * `{"status":"UP","probe":…}`.
   */
  probes?: Map<string, unknown>;
  result: T;
}

/** Attempts of a health write (drain) before 409: only a scanner's concurrent write competes. */
const HEALTH_ATTEMPTS = 5;

/**
 * The raw status object of a health value, for a compare-and-swap writer that changes one field
 * and keeps the rest exactly as written. 409 when the value is no usable status: overwriting it
 * would drop what someone wrote there.
 */
function rawStatus(kv: KeyValue, ip: string): { [k: string]: unknown } {
  try {
    parseHealthStatus(kv.value);
  } catch (e) {
    throw new ApiError(
      409,
      `the health status of ${ip} (${kv.key}) is not usable: ${(e as Error).message}; fix or delete it first`,
    );
  }
  return JSON.parse(kv.value) as { [k: string]: unknown };
}

/** The status key's new value with `field` set to `value` (deleted when undefined); other fields kept. */
function withField(kv: KeyValue | undefined, ip: string, field: string, value: unknown): string {
  const o: { [k: string]: unknown } = kv ? rawStatus(kv, ip) : { status: 'UP' };
  if (value === undefined) delete o[field];
  else o[field] = value;
  return JSON.stringify(o);
}

export interface ServiceOptions {
  store: Store;
  prefix: string;
  monitorPath: string;
  /** `-topology-path`: zones, not records (default `/hades/topology/`). */
  topologyPath?: string;
  logger?: { warn(obj: object, msg?: string): void };
  /** Transaction attempts before giving up with 409 (default 50). */
  maxAttempts?: number;
}

export class RecordService {
  readonly store: Store;
  readonly prefix: string;
  readonly monitorPath: string;
  readonly topologyPath: string;
  private readonly maxAttempts: number;
  private readonly log: ServiceOptions['logger'];

  constructor(o: ServiceOptions) {
    this.store = o.store;
    this.prefix = o.prefix;
    this.monitorPath = o.monitorPath;
    this.topologyPath = normalizeTopologyPath(o.topologyPath ?? DEFAULT_TOPOLOGY_PATH);
    this.maxAttempts = o.maxAttempts ?? 50;
    this.log = o.logger;
  }

  keyOf(name: string): string {
    return nameToKey(name, this.prefix);
  }

  /** Is `kv` the name's own key or a leaf (its last segment the FNV-1a of its value)? */
  private asNameRecord(nameKey: string, kv: KeyValue): NameRecord | undefined {
    let id = '';
    if (kv.key !== nameKey) {
      const rest = kv.key.slice(nameKey.length + 1);
      if (rest.includes('/') || rest !== fnv1a32(kv.value)) return undefined;
      id = rest;
    }
    try {
      return { kv, record: toRecord(kv, this.prefix), id };
    } catch {
      return undefined;
    }
  }

  /** The records of one name: its own key and its leaves. */
  async recordsOf(name: string): Promise<NameRecord[]> {
    const key = this.keyOf(name);
    const [own, below] = await Promise.all([this.store.get(key), this.store.list(`${key}/`)]);
    const out: NameRecord[] = [];
    for (const kv of own ? [own, ...below.kvs] : below.kvs) {
      const r = this.asNameRecord(key, kv);
      if (r) out.push(r);
    }
    return out;
  }

  /** Every record at and below `name` (all when undefined), grouped by owner name (leaves folded). */
  async listGrouped(under?: string): Promise<Map<string, NameRecord[]>> {
    const base = under === undefined ? this.prefix : this.keyOf(under);
    const all: KeyValue[] = [];
    const own = under === undefined ? undefined : await this.store.get(base);
    if (own) all.push(own);
    const below = await this.store.list(base === '/' ? '/' : `${base}/`);
    all.push(...below.kvs);
    const out = new Map<string, NameRecord[]>();
    for (const kv of all) {
      if (kv.key.startsWith(this.monitorPath) || kv.key.startsWith(this.topologyPath)) continue;
      let name = keyToName(kv.key, this.prefix);
      if (name === undefined) continue;
      let nameKey = kv.key;
      const slash = kv.key.lastIndexOf('/');
      if (slash > 0 && kv.key.slice(slash + 1) === fnv1a32(kv.value)) {
        nameKey = kv.key.slice(0, slash);
        name = keyToName(nameKey, this.prefix) ?? name;
      }
      const r = this.asNameRecord(nameKey, kv);
      if (!r) continue;
      const list = out.get(name);
      if (list) list.push(r);
      else out.set(name, [r]);
    }
    return out;
  }

  /** Health status of an address, or undefined. */
  async health(ip: string): Promise<HealthStatus | undefined> {
    const kv = await this.store.get(healthKey(this.monitorPath, ip));
    if (!kv) return undefined;
    try {
      return parseHealthStatus(kv.value);
    } catch {
      return undefined;
    }
  }

  /**
   * Sets an address's `admin` (`drain`) or removes it (`none`), keeping every other field of its
   * status, by compare-and-swap (again on a concurrent write, 409 after a few). A drain of an
   * address without a status key creates `{"status":"UP","admin":"drain"}`, so it takes effect;
   * `none` there writes nothing. Returns the status after the write (undefined: no key).
   */
  async setAdmin(ipText: string, admin: AdminState): Promise<{ ip: string; status?: HealthStatus }> {
    const ip = canonicalIP(ipText);
    if (ip === undefined) throw new ApiError(400, `"${ipText}" is not an IP address`, 'ip');
    const key = healthKey(this.monitorPath, ip);
    for (let attempt = 1; ; attempt++) {
      const kv = await this.store.get(key);
      if (!kv && admin === 'none') return { ip };
      const value = withField(kv, ip, 'admin', admin === 'drain' ? 'drain' : undefined);
      if (kv && kv.value === value) return { ip, status: parseHealthStatus(value) };
      const res = await this.store.txn({
        compare: [{ key, op: 'modRevision', modRevision: kv ? kv.modRevision : 0 }],
        success: [{ op: 'put', key, value }],
      });
      if (res.succeeded) return { ip, status: parseHealthStatus(value) };
      if (attempt >= HEALTH_ATTEMPTS)
        throw new ApiError(409, `the health status of ${ip} kept changing; try again`);
      this.log?.warn({ ip, attempt }, 'api: health write conflict, retrying');
      await new Promise((r) => setTimeout(r, Math.random() * attempt * 10));
    }
  }

  async listHealth(): Promise<{ ip: string; status: HealthStatus }[]> {
    const res = await this.store.list(this.monitorPath);
    const out: { ip: string; status: HealthStatus }[] = [];
    for (const kv of res.kvs) {
      const ip = ipFromHealthKey(this.monitorPath, kv.key);
      if (ip === undefined) continue;
      try {
        out.push({ ip, status: parseHealthStatus(kv.value) });
      } catch {
        // not a status: skipped
      }
    }
    return out;
  }

  /**
   * Reads the records of `names`, asks `plan` what to change (it may throw ApiError: nothing is
   * written), and commits the change and its health keys in one transaction, again on conflict.
   */
  async mutate<T>(
    names: readonly string[],
    plan: (current: Map<string, NameRecord[]>) => Plan<T>,
  ): Promise<T> {
    return (await this.mutateAt(names, plan)).result;
  }

  /** `mutate`, also giving the store revision of the write (the current one when nothing changed). */
  async mutateAt<T>(
    names: readonly string[],
    plan: (current: Map<string, NameRecord[]>) => Plan<T>,
  ): Promise<{ result: T; revision: number }> {
    for (let attempt = 1; ; attempt++) {
      const current = new Map<string, NameRecord[]>();
      const uniq = [...new Set(names)];
      const lists = await Promise.all(uniq.map((n) => this.recordsOf(n)));
      uniq.forEach((n, i) => {
        current.set(n, lists[i]);
      });
      const p = plan(current);
      const revision = await this.commit(current, p);
      if (revision !== false) return { result: p.result, revision };
      if (attempt >= this.maxAttempts)
        throw new ApiError(409, `too many concurrent changes to ${uniq.join(', ')}; try again`);
      this.log?.warn({ names: uniq, attempt }, 'api: write conflict, retrying');
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 5)));
    }
  }

  /** The revision of the write, or false when a compare failed. */
  private async commit(current: Map<string, NameRecord[]>, p: Plan<unknown>): Promise<number | false> {
    const compare: Compare[] = [];
    const ops: Op[] = [];
    const existing = new Map<string, NameRecord>();
    for (const list of current.values())
      for (const r of list) {
        existing.set(r.kv.key, r);
        compare.push({ key: r.kv.key, op: 'modRevision', modRevision: r.kv.modRevision });
      }
    const deleted = new Set(p.deletes);
    const putKeys = new Map<string, string>();
    for (const { name, value } of p.puts) {
      const v = serializeRecordValue(value);
      const key = leafKey(this.keyOf(name), v);
      if (existing.has(key) && !deleted.has(key)) continue; // already there, same value
      deleted.delete(key);
      putKeys.set(key, v);
    }
    const probes = p.probes ?? new Map<string, unknown>();
    if (putKeys.size === 0 && deleted.size === 0 && probes.size === 0) return 0;
    for (const key of deleted) if (existing.has(key)) ops.push({ op: 'delete', key });
    for (const [key, value] of putKeys) {
      if (!existing.has(key)) compare.push({ key, op: 'modRevision', modRevision: 0 });
      ops.push({ op: 'put', key, value });
    }
    // addresses before and after, among the names touched
    const ipOf = (value: string): string | undefined => {
      try {
        const r = toRecord({ key: `${this.prefix}/x`, value, modRevision: 0 }, this.prefix);
        return r.hostKind === 'ipv4' || r.hostKind === 'ipv6' ? r.target : undefined;
      } catch {
        return undefined;
      }
    };
    const before = new Set<string>();
    const after = new Set<string>();
    for (const [key, r] of existing) {
      const ip = ipOf(r.kv.value);
      if (ip === undefined) continue;
      before.add(ip);
      if (!deleted.has(key)) after.add(ip);
    }
    for (const v of putKeys.values()) {
      const ip = ipOf(v);
      if (ip !== undefined) after.add(ip);
    }
    const added = [...after].filter((ip) => !before.has(ip));
    const candidates = [...before].filter((ip) => !after.has(ip));
    // addresses that keep their records but get a probe: their status keys are written too
    const probed = [...probes.keys()].filter((ip) => !added.includes(ip) && !candidates.includes(ip));
    // status keys first, the listing after: a writer that takes an address up rewrites its status
    // key, so if it committed before our listing could see its record, our compare below fails
    const healthKvs = await Promise.all(
      [...added, ...candidates, ...probed].map((ip) => this.store.get(healthKey(this.monitorPath, ip))),
    );
    const used = new Set<string>();
    if (candidates.length > 0) {
      // still used by a record of another name? then its status stays
      const touched = new Set([...current.keys()].map((n) => this.keyOf(n)));
      const all = await this.store.list(this.prefix === '/' ? '/' : `${this.prefix}/`);
      for (const kv of all.kvs) {
        if (existing.has(kv.key) || kv.key.startsWith(this.monitorPath)) continue;
        const slash = kv.key.lastIndexOf('/');
        if (touched.has(kv.key) || touched.has(kv.key.slice(0, slash))) continue;
        const ip = ipOf(kv.value);
        if (ip !== undefined) used.add(ip);
      }
    }
    added.forEach((ip, i) => {
      const key = healthKey(this.monitorPath, ip);
      const kv = healthKvs[i];
      // an existing key is rewritten (unchanged but for a probe): its modRevision moves, so a
      // concurrent remover that listed before this record existed fails its compare and looks again
      compare.push({ key, op: 'modRevision', modRevision: kv ? kv.modRevision : 0 });
      ops.push({
        op: 'put',
        key,
        value: probes.has(ip)
          ? withField(kv, ip, 'probe', probeValue(probes, ip))
          : (kv?.value ?? serializeHealthStatus({ status: 'UP' })),
      });
    });
    candidates.forEach((ip, j) => {
      const kv = healthKvs[added.length + j];
      if (!kv || used.has(ip)) return;
      compare.push({ key: kv.key, op: 'modRevision', modRevision: kv.modRevision });
      ops.push({ op: 'delete', key: kv.key });
    });
    probed.forEach((ip, j) => {
      const key = healthKey(this.monitorPath, ip);
      const kv = healthKvs[added.length + candidates.length + j];
      const probe = probeValue(probes, ip);
      // removing the probe of an address without a status: nothing to write
      if (!kv && probe === undefined) return;
      const value = withField(kv, ip, 'probe', probe);
      if (kv && kv.value === value) return;
      compare.push({ key, op: 'modRevision', modRevision: kv ? kv.modRevision : 0 });
      ops.push({ op: 'put', key, value });
    });
    if (ops.length > 120)
      throw new ApiError(413, `the change needs ${ops.length} writes; at most 120 fit one transaction`);
    const res = await this.store.txn({ compare, success: ops });
    return res.succeeded ? res.revision : false;
  }
}

/** A plan's probe for `ip`: the JSON to store, or undefined to remove it (null in the plan). */
function probeValue(probes: Map<string, unknown>, ip: string): unknown {
  const p = probes.get(ip);
  return p === null ? undefined : p;
}

/** The canonical address of an IP text, or undefined. */
export function ipOrUndefined(text: unknown): string | undefined {
  return typeof text === 'string' ? canonicalIP(text) : undefined;
}
