/**
 * PTR (CoreDNS plugin/backend_lookup.go `PTR`): one PTR per distinct `host` that is a name, from
 * the records at and below the name: reverse names such as `1.0.0.10.in-addr.arpa.` live at
 * `/hades/arpa/in-addr/10/0/0/1[/<leaf>]` and `/hades/arpa/ip6/...` (records/reverse.ts), and
 * are answered when a reverse zone (`10.in-addr.arpa.`, `in-addr.arpa.`, …) is configured.
 * Any name may carry PTRs (DNS-SD style `_http._tcp` browsing works the same way).
 */
import type { AnswerContext } from './answer-context.js';
import { Section } from './wire/constants.js';
import type { Owner } from './wire/writer.js';

/** Writes the PTR answer from `ctx.recs[0, n)`; returns the number of PTR records written. */
export function answerPTR(ctx: AnswerContext, owner: Owner, n: number): number {
  const recs = ctx.recs;
  const keys = ctx.keys;
  keys.clear();
  let written = 0;
  for (let i = 0; i < n; i++) {
    const r = recs[i];
    if (r.hostKind !== 'name' || r.target === '.' || keys.has(r.target)) continue;
    keys.add(r.target);
    ctx.w.addPTR(Section.ANSWER, owner, ctx.ttl(r), r.target);
    written++;
  }
  return written;
}
