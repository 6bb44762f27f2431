/**
 * Converges the store to a desired set of `source: "svc"` records (mapping.ts), touching only
 * keys whose current value says `source: "svc"` and never a user's record. Writes go in store
 * transactions of at most `batch` operations, each guarded by compares on what was read
 * (modRevision, or absence), so a concurrent change is never clobbered: a failed batch is
 * reported (`conflicts`) and the next pass reads again.
 *
 * Health keys (one decision per key, probe-keys.ts `statusOp`): `{"status":"UP","ports":[...],
 * "source":"svc"}` is created (only if absent) for every address the desired records use; the
 * `probe` of a `hades.io/probe` annotation is set on its addresses' keys (created if absent) and
 * removed when no longer wanted; a key kubeapi created is deleted when its address was used by
 * one of our records, or carried our probe, and nothing in the listed ranges uses it any more.
 */
import { canonicalIP, healthKey, ipFromHealthKey, normalizeMonitorPath } from '../records/index.js';
import type { Compare, KeyValue, Op, Store } from '../store/types.js';
import { SOURCE } from './mapping.js';
import { type DesiredProbe, PROBE_OWNER, type StatusOpKind, statusOp } from './probe-keys.js';

export interface ReconcileResult {
  put: number;
  deleted: number;
  healthCreated: number;
  healthDeleted: number;
  /** Status keys whose `probe` was set (created keys count in healthCreated) or removed. */
  probeSet: number;
  probeRemoved: number;
  /** Addresses whose status holds someone else's probe (or is not a JSON object): annotation not applied. */
  probeSkipped: number;
  /** Keys left alone because a record of someone else sits there. */
  skipped: number;
  /** Batches whose compares failed (a concurrent writer): the next pass retries. */
  conflicts: number;
}

export interface ReconcileInput {
  records: Map<string, string>;
  addresses: Map<string, string[]>;
  /** `hades.io/probe` annotations (probe-keys.ts): the probe each address should carry. */
  probes?: Map<string, DesiredProbe>;
  /** Addresses of Services with an invalid annotation: their probe is left as it is. */
  hold?: Set<string>;
  /** The served domain (`hades.local.`): probes named under `svc.<domain>` are ours (none without it). */
  domain?: string;
}

/** Parsed `host`/`source` of a stored value, without full validation. */
function peek(value: string): { source?: unknown; host?: unknown } | undefined {
  try {
    const v = JSON.parse(value) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as { source?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

export async function reconcileOnce(
  store: Store,
  desired: ReconcileInput,
  ranges: string[],
  monitorPath: string,
  batch = 100,
): Promise<ReconcileResult> {
  const res: ReconcileResult = {
    put: 0,
    deleted: 0,
    healthCreated: 0,
    healthDeleted: 0,
    probeSet: 0,
    probeRemoved: 0,
    probeSkipped: 0,
    skipped: 0,
    conflicts: 0,
  };
  const mp = normalizeMonitorPath(monitorPath);
  const current = new Map<string, KeyValue>();
  for (const r of ranges) {
    const l = await store.list(r);
    for (const kv of l.kvs) if (!kv.key.startsWith(mp)) current.set(kv.key, kv);
  }
  const health = new Map<string, KeyValue>();
  for (const kv of (await store.list(mp)).kvs) health.set(kv.key, kv);

  const ops: { cmp: Compare; op: Op; kind: 'put' | 'deleted' | StatusOpKind }[] = [];
  const usedAfter = new Set<string>(); // addresses any record uses after convergence
  const ownedBefore = new Set<string>(); // addresses our records used before

  for (const [key, value] of desired.records) {
    const cur = current.get(key);
    if (cur !== undefined) {
      const v = peek(cur.value);
      if (v?.source !== SOURCE) {
        res.skipped++;
        continue;
      }
      if (cur.value === value) continue;
    }
    ops.push({
      cmp: { key, op: 'modRevision', modRevision: cur?.modRevision ?? 0 },
      op: { op: 'put', key, value },
      kind: 'put',
    });
  }
  for (const [key, kv] of current) {
    const v = peek(kv.value);
    const host = typeof v?.host === 'string' ? canonicalIP(v.host) : undefined;
    const ours = v?.source === SOURCE;
    if (ours && host) ownedBefore.add(host);
    if (ours && !desired.records.has(key)) {
      ops.push({
        cmp: { key, op: 'modRevision', modRevision: kv.modRevision },
        op: { op: 'delete', key },
        kind: 'deleted',
      });
      continue;
    }
    if (host && (!ours || desired.records.has(key))) usedAfter.add(host);
  }
  for (const value of desired.records.values()) {
    const host = peek(value)?.host;
    const ip = typeof host === 'string' ? canonicalIP(host) : undefined;
    if (ip) usedAfter.add(ip);
  }
  // one decision per status key: a record's address, a probe's, or one we may have to release
  const zone = desired.domain === undefined ? undefined : `svc.${desired.domain}`;
  const ips = new Set<string>([...desired.addresses.keys(), ...ownedBefore]);
  for (const ip of desired.probes?.keys() ?? []) ips.add(ip);
  for (const kv of health.values()) {
    // cheap filter first: only values naming a Service can hold one of our probes
    if (!kv.value.includes(PROBE_OWNER)) continue;
    const ip = ipFromHealthKey(mp, kv.key);
    if (ip !== undefined) ips.add(ip);
  }
  for (const ip of ips) {
    const key = healthKey(mp, ip);
    const kv = health.get(key);
    const op = statusOp(kv?.value, {
      create: desired.addresses.get(ip),
      probe: desired.probes?.get(ip),
      hold: desired.hold?.has(ip),
      released: ownedBefore.has(ip) && !usedAfter.has(ip),
      used: usedAfter.has(ip),
      zone,
    });
    if (op === undefined) continue;
    if (op.kind === 'probeSkipped') {
      res.probeSkipped++;
      continue;
    }
    ops.push({
      cmp: { key, op: 'modRevision', modRevision: kv?.modRevision ?? 0 },
      op: op.kind === 'healthDeleted' ? { op: 'delete', key } : { op: 'put', key, value: op.value },
      kind: op.kind,
    });
  }

  // new records before deletions, so that a changed address is never briefly absent
  const order = { healthCreated: 0, probeSet: 0, put: 1, deleted: 2, probeRemoved: 3, healthDeleted: 3 };
  ops.sort((a, b) => order[a.kind] - order[b.kind]);
  for (let i = 0; i < ops.length; i += batch) {
    const part = ops.slice(i, i + batch);
    const r = await store.txn({ compare: part.map((o) => o.cmp), success: part.map((o) => o.op) });
    if (!r.succeeded) {
      res.conflicts++;
      continue;
    }
    for (const o of part) res[o.kind]++;
  }
  return res;
}
