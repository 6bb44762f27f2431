/**
 * MX (CoreDNS plugin/backend_lookup.go `MX`): one MX per record with `mail: true` and a `host`;
 * preference = the record's tier (tiers.ts `tierOf`: `priority`, absent or 0 → 10,
 * as CoreDNS's etcd plugin reads it); exchange = `host` when it is a name, else the record's
 * own name (with its address as glue), after `targetstrip`. DOWN addresses are left out (all
 * DOWN: all kept, or under the name's `closed` all-down policy none, and SERVFAIL when no name
 * exchange is left); duplicates (same exchange and preference) written once; glue in additional.
 */
import type { Record } from '../records/types.js';
import type { AnswerContext } from './answer-context.js';
import { writeTargets } from './answer-glue.js';
import { tierOf } from './tiers.js';
import { Section } from './wire/constants.js';
import type { Owner } from './wire/writer.js';

const mxKey = (r: Record, exchange: string): string => `${exchange} ${tierOf(r)}`;
const writeMX = (ctx: AnswerContext, owner: Owner, r: Record, exchange: string): void =>
  ctx.w.addMX(Section.ANSWER, owner, ctx.ttl(r), tierOf(r), exchange);

/**
 * Writes the MX answer from `ctx.recs[0, n)`; returns the number of MX records written, or
 * ALL_DOWN_CLOSED.
 */
export function answerMX(ctx: AnswerContext, owner: Owner, n: number): number {
  const recs = ctx.recs;
  const cands = ctx.cands;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const r = recs[i];
    if (r.mail !== true) continue;
    if (r.hostKind === 'ipv4' || r.hostKind === 'ipv6' || r.hostKind === 'name') cands[m++] = r;
  }
  if (m === 0) return 0;
  m = ctx.nameHealthFilter(cands, m, n);
  if (m <= 0) return m; // none left, or ALL_DOWN_CLOSED
  const written = writeTargets(ctx, owner, m, mxKey, writeMX);
  if (written > 0) ctx.addTargetGlue(m);
  return written;
}
