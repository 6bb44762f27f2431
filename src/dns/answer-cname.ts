/**
 * CNAME synthesis (CoreDNS plugin/backend_lookup.go `A`/`CNAME`): a name whose records hold no
 * address but do hold a `host` that is a name is an alias of that name, for every query type
 * that the records do not answer directly (SRV, MX, PTR and TXT read name hosts as their own
 * data). The chain is followed in answer.ts.
 *
 * Deliberate differences from CoreDNS, which emits one CNAME per name record and chases each:
 * we write one CNAME (an owner may hold only one, RFC 2181 §10.1), from the name record with the
 * lowest key, so every replica picks the same. As in CoreDNS, a record whose target is the name
 * itself or lies below it (`w.x CNAME x` with aggregation is a loop) is not an alias, nor is a
 * record with a `text` (CoreDNS plugin/etcd/msg/type.go `HostType`: a name host with a text is a
 * TXT record).
 */
import { isInZone } from '../records/names.js';
import type { Record } from '../records/types.js';

/** At most this many CNAMEs in one answer (or one glue chain); the last target is still answered (CoreDNS: the same). */
export const MAX_CNAMES = 8;

/**
 * The record a CNAME question for `name` is answered with, given its lookup `recs[0, n)`: the
 * record at the name's own key when there is one (CoreDNS plugin/backend_lookup.go `CNAME` reads
 * only that key: a name `host` is the answer, whatever it points at; anything else is none, null),
 * else `aliasRecord` (Hades writers put a name's records on leaf keys below it, which CoreDNS
 * does not read for CNAME questions).
 */
export function cnameRecord(recs: readonly Record[], n: number, name: string): Record | null | undefined {
  for (let i = 0; i < n; i++) {
    const r = recs[i];
    if (r.name !== name) continue;
    return r.hostKind === 'name' && r.target !== '.' ? r : null;
  }
  return aliasRecord(recs, n, name);
}

/**
 * The record that makes `name` an alias, given its lookup `recs[0, n)`: null when the name has
 * address records (it is no alias), undefined when no name record qualifies.
 */
export function aliasRecord(recs: readonly Record[], n: number, name: string): Record | null | undefined {
  let best: Record | undefined;
  for (let i = 0; i < n; i++) {
    const r = recs[i];
    const k = r.hostKind;
    if (k === 'ipv4' || k === 'ipv6') return null;
    if (k !== 'name' || (r.text !== undefined && r.text !== '')) continue;
    const t = r.target;
    if (t === '.' || isInZone(t, name)) continue;
    if (best === undefined || r.key < best.key) best = r;
  }
  return best;
}
