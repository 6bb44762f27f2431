/**
 * MX (CoreDNS plugin/backend_lookup.go `MX`): one MX per record with `mail: true` and a `host`;
 * preference = `priority` (absent → 0); exchange = `host` when it is a name, else the record's
 * own name (with its address as glue), after `targetstrip`. DOWN addresses are left out (all
 * DOWN: all kept); duplicates (same exchange and preference) written once; glue in additional.
 */
import type { AnswerContext } from './answer-context.js';
import { targetStrip } from './answer-context.js';
import { Section } from './wire/constants.js';
import { WireError } from './wire/errors.js';
import type { Owner } from './wire/writer.js';

/** Writes the MX answer from `ctx.recs[0, n)`; returns the number of MX records written. */
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
  m = ctx.healthFilter(cands, m);

  const w = ctx.w;
  const targets = ctx.targets;
  const offs = ctx.reserve(m);
  const keys = ctx.keys;
  keys.clear();
  let written = 0;
  for (let i = 0; i < m; i++) {
    const r = cands[i];
    const exchange = targetStrip(r.hostKind === 'name' ? r.target : r.name, r.targetstrip);
    targets[i] = exchange;
    offs[i] = -1;
    const pref = r.priority ?? 0;
    const key = `${exchange} ${pref}`;
    if (keys.has(key)) continue;
    keys.add(key);
    try {
      w.addMX(Section.ANSWER, owner, ctx.ttl(r), pref, exchange);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      offs[i] = -2;
      continue;
    }
    offs[i] = w.targetOffset;
    written++;
  }
  if (written > 0) ctx.addTargetGlue(m);
  return written;
}
