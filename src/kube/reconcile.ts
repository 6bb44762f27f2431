/**
 * Converges the store to a desired set of `source: "svc"` records (mapping.ts), touching only
 * keys whose current value says `source: "svc"` and never a user's record. Writes go in store
 * transactions of at most `batch` operations, each guarded by compares on what was read
 * (modRevision, or absence), so a concurrent change is never clobbered: a failed batch is
 * reported (`conflicts`) and the next pass reads again.
 *
 * Health keys: `{"status":"UP","ports":[...]}` is created (only if absent) for every address
 * the desired records use; a health key is deleted when its address was used by one of our
 * records and no record in the listed ranges (ours or a user's) uses it any more.
 */
import { canonicalIP, healthKey, normalizeMonitorPath, serializeHealthStatus } from '../records/index.js';
import type { Compare, KeyValue, Op, Store } from '../store/types.js';
import { SOURCE } from './mapping.js';

export interface ReconcileResult {
  put: number;
  deleted: number;
  healthCreated: number;
  healthDeleted: number;
  /** Keys left alone because a record of someone else sits there. */
  skipped: number;
  /** Batches whose compares failed (a concurrent writer): the next pass retries. */
  conflicts: number;
}

export interface ReconcileInput {
  records: Map<string, string>;
  addresses: Map<string, string[]>;
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

  const ops: { cmp: Compare; op: Op; kind: 'put' | 'deleted' | 'healthCreated' | 'healthDeleted' }[] = [];
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
  for (const [ip, ports] of desired.addresses) {
    const key = healthKey(mp, ip);
    if (health.has(key)) continue;
    ops.push({
      cmp: { key, op: 'modRevision', modRevision: 0 },
      op: { op: 'put', key, value: serializeHealthStatus({ status: 'UP', ports }) },
      kind: 'healthCreated',
    });
  }
  for (const ip of ownedBefore) {
    if (usedAfter.has(ip)) continue;
    const kv = health.get(healthKey(mp, ip));
    if (kv === undefined) continue;
    ops.push({
      cmp: { key: kv.key, op: 'modRevision', modRevision: kv.modRevision },
      op: { op: 'delete', key: kv.key },
      kind: 'healthDeleted',
    });
  }

  // new records before deletions, so that a changed address is never briefly absent
  const order = { healthCreated: 0, put: 1, deleted: 2, healthDeleted: 3 };
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
