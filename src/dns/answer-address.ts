/**
 * A and AAAA: the hot path. The name's address records of the asked family, deduplicated,
 * through the health overlay (DOWN left out; all DOWN → all, counted), then the selection
 * policy (select.ts; the lowest-key record's `select` among the name's records overrides the
 * server's). One TTL for the RRset: the
 * lowest of the emitted records' (RFC 2181 §5.2). Owner: the question name (0x20 case kept) or
 * the last CNAME's target. Allocates nothing beyond the catalog lookup.
 */
import type { AnswerContext } from './answer-context.js';
import { policyFor } from './select.js';
import { Section } from './wire/constants.js';
import type { Owner } from './wire/writer.js';

/**
 * Writes the addresses of `kind` among `ctx.recs[0, n)` (the lookup of `name`) and returns
 * how many were written (0: none of that family).
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
  m = ctx.healthFilter(cands, m);
  const policy = policyFor(ctx.recs, n, ctx.policy);
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
