/**
 * The zone apex (CoreDNS plugin/backend_lookup.go `NS`, `SOA`, `checkForApex`):
 *
 * - NS from the records at and below `ns.dns.<zone>`: an address record names itself (its own
 *   name from the key, e.g. `ns1.ns.dns.hades.local.`, after `targetstrip`) with its address as
 *   glue; a record whose `host` is a name gives that name (glue when in our zones; CoreDNS
 *   refuses such records with SERVFAIL). DOWN addresses are left out (all DOWN: all kept).
 *   With no such records the NS set is the SOA MNAME `ns.dns.<zone>` alone, without glue (an
 *   apex always has an NS set).
 * - SOA synthesized (answer-context `addSOA`).
 * - Every other type at the apex is answered from `apex.dns.<zone>` (see answer.ts).
 */
import type { Record } from '../records/types.js';
import type { AnswerContext } from './answer-context.js';
import { writeTargets } from './answer-glue.js';
import { Section } from './wire/constants.js';
import type { Owner } from './wire/writer.js';
import type { Zone } from './zones.js';

const nsKey = (_r: Record, host: string): string => host;
const writeNS = (ctx: AnswerContext, owner: Owner, r: Record, host: string): void =>
  ctx.w.addNS(Section.ANSWER, owner, ctx.ttl(r), host);

/** Writes the apex NS set (and glue); always writes at least one record. */
export function answerNS(ctx: AnswerContext, owner: Owner, zone: Zone): number {
  const n = ctx.source.lookup(zone.nsName, ctx.recs);
  const recs = ctx.recs;
  const cands = ctx.cands;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const k = recs[i].hostKind;
    if (k === 'ipv4' || k === 'ipv6' || (k === 'name' && recs[i].target !== '.')) cands[m++] = recs[i];
  }
  m = ctx.healthFilter(cands, m);
  const written = writeTargets(ctx, owner, m, nsKey, writeNS);
  if (written === 0) {
    ctx.w.addNS(Section.ANSWER, owner, ctx.defaultTtl, zone.nsName);
    return 1;
  }
  ctx.addTargetGlue(m);
  return written;
}
