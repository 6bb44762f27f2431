/**
 * Priority tiers (docs/dns.md, "Answer selection"): under `sticky` and `random-one` an A/AAAA
 * answer picks among the healthy addresses of the lowest `priority`; higher priorities are
 * backups. A record without a priority (or with 0, Go's zero value, as CoreDNS reads it) is in
 * tier 10. `all` ignores tiers (CoreDNS's behaviour). The same `tierOf` is the SRV priority and the
 * MX preference written in answers (answer-srv.ts, answer-mx.ts): CoreDNS's etcd plugin sets a
 * priority of 0 (unset: Go's zero value) to 10 as it reads each record (plugin/etcd/etcd.go
 * `loopNodes`), before `NewSRV`/`NewMX` copy it.
 */
import type { Record } from '../records/types.js';

/** The tier of a record without a positive `priority` (CoreDNS plugin/etcd: `priority = 10`). */
export const DEFAULT_PRIORITY = 10;

/** A record's tier: its `priority` when positive, else DEFAULT_PRIORITY. */
export function tierOf(r: Record): number {
  const p = r.priority;
  return p !== undefined && p > 0 ? p : DEFAULT_PRIORITY;
}

/** The lowest tier among `arr[0, m)` (m ≥ 1). */
export function lowestTier(arr: readonly Record[], m: number): number {
  let t = tierOf(arr[0]);
  for (let i = 1; i < m; i++) {
    const p = tierOf(arr[i]);
    if (p < t) t = p;
  }
  return t;
}

/** Keeps (in place, order kept) the records of `arr[0, m)` in `tier`; returns their count. */
export function keepTier(arr: Record[], m: number, tier: number): number {
  let k = 0;
  for (let i = 0; i < m; i++) if (tierOf(arr[i]) === tier) arr[k++] = arr[i];
  return k;
}
