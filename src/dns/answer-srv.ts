/**
 * SRV (CoreDNS plugin/backend_lookup.go `SRV`, SkyDNS): one SRV per record with a `host`.
 *
 * - Target: `host` when it is a name; for an address, the record's own name from its key
 *   (`4af19cb2.cctv1.user.hades.local.`) with the address as glue. `targetstrip` drops that many
 *   leftmost labels from the target (kept whole when it would strip everything).
 * - Weight: shares within a priority, as CoreDNS computes them: a weight of 0 (absent) counts as
 *   100; each record's weight becomes floor(100 / total(priority) × weight), at least 1, so the
 *   weights of one priority add up to about 100.
 * - Priority: the record's tier (tiers.ts `tierOf`: absent or 0 → 10, as CoreDNS's etcd plugin sets
 *   an unset priority to 10 when it reads a record); the weight shares are per tier. Port from
 *   the record (absent → 0).
 * - Address records whose IP is DOWN are left out (all DOWN: all kept), before the totals; when
 *   the name's all-down policy is `closed` all DOWN ones stay out, and with nothing else left
 *   (no name targets) the answer is SERVFAIL, as for A/AAAA.
 * - Duplicates (same target and port) are written once.
 * - Additional: the glue (answer-context `addTargetGlue`).
 */
import type { Record } from '../records/types.js';
import type { AnswerContext } from './answer-context.js';
import { writeTargets } from './answer-glue.js';
import { tierOf } from './tiers.js';
import { Section } from './wire/constants.js';
import type { Owner } from './wire/writer.js';

const srvKey = (r: Record, target: string): string => `${target} ${r.port ?? 0}`;

/** One SRV; its weight is its share of `ctx.totals` (filled for this answer's priorities). */
function writeSRV(ctx: AnswerContext, owner: Owner, r: Record, target: string): void {
  const p = tierOf(r);
  let weight = Math.floor(
    (100 / ctx.totals.get(p)!) * (r.weight !== undefined && r.weight > 0 ? r.weight : 100),
  );
  if (weight < 1) weight = 1;
  ctx.w.addSRV(Section.ANSWER, owner, ctx.ttl(r), p, weight, r.port ?? 0, target);
}

/**
 * Writes the SRV answer from `ctx.recs[0, n)`; returns the number of SRV records written, or
 * ALL_DOWN_CLOSED.
 */
export function answerSRV(ctx: AnswerContext, owner: Owner, n: number): number {
  const recs = ctx.recs;
  const cands = ctx.cands;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const k = recs[i].hostKind;
    if (k === 'ipv4' || k === 'ipv6' || k === 'name') cands[m++] = recs[i];
  }
  if (m === 0) return 0;
  m = ctx.nameHealthFilter(cands, m, n);
  if (m <= 0) return m; // none left, or ALL_DOWN_CLOSED

  const totals = ctx.totals;
  totals.clear();
  for (let i = 0; i < m; i++) {
    const r = cands[i];
    const p = tierOf(r);
    totals.set(p, (totals.get(p) ?? 0) + (r.weight !== undefined && r.weight > 0 ? r.weight : 100));
  }

  // a target name from a key that is no valid DNS name: the record is left out
  const written = writeTargets(ctx, owner, m, srvKey, writeSRV);
  if (written > 0) ctx.addTargetGlue(m);
  return written;
}
