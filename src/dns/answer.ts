/**
 * The in-zone answer: which builder answers a (name, type), the CNAME chain, and the negative
 * answers (CoreDNS plugin/etcd/handler.go `ServeDNS`, with the differences in README.md).
 */

import { isInZone } from '../records/names.js';
import { answerAddresses } from './answer-address.js';
import { answerNS } from './answer-apex.js';
import { aliasRecord, cnameRecord, MAX_CNAMES } from './answer-cname.js';
import { ALL_DOWN_CLOSED, type AnswerContext, Outcome } from './answer-context.js';
import { answerMX } from './answer-mx.js';
import { answerPTR } from './answer-ptr.js';
import { answerSRV } from './answer-srv.js';
import { answerTXT } from './answer-txt.js';
import { Rcode, RRType, Section } from './wire/constants.js';
import { type Owner, QNAME } from './wire/writer.js';
import type { Zone } from './zones.js';

export { MAX_CNAMES };

/** RFC 8482 §4.2: the synthesized HINFO answering ANY: CPU "RFC8482", OS "". */
const HINFO_RFC8482 = Uint8Array.from([7, ...Buffer.from('RFC8482', 'latin1'), 0]);
/** Its TTL, as CoreDNS's `any` plugin (long enough to discourage repeats). */
export const HINFO_TTL = 8482;

/**
 * Answers `qname`/`qtype` (in `zone`) into `ctx.w`, which the caller started with AA set, and
 * returns the rcode (SERVFAIL: the answer's name is all down and `closed`; the caller replies
 * without the records written): the CNAME chain (in-zone targets followed,
 * at most MAX_CNAMES, loop-safe, each CNAME before its target's records), then the answer of the
 * last name; NXDOMAIN and NODATA carry the last name's zone SOA in authority. `plain` false (a
 * name no record can have, see Query.qnamePlain) is NXDOMAIN at once.
 *
 * A chain that ends without records of the type (a missing or empty target, a loop, more than
 * MAX_CNAMES) is not answered with its CNAMEs: CoreDNS (plugin/backend_lookup.go `A`, `AAAA`,
 * `TXT`) adds a CNAME only when its in-zone target gave records, so such a question is NODATA for
 * the name asked. A CNAME that leaves the first zone is kept, with those before it (CoreDNS looks
 * such targets up through the server and keeps the CNAME whatever comes back): those CNAMEs
 * alone, NOERROR without SOA. With none such, NODATA with the zone's SOA (CoreDNS: nothing
 * answered, `BackendError` with NOERROR).
 */
export function answerInZone(
  ctx: AnswerContext,
  qname: string,
  qtype: number,
  zone: Zone,
  plain: boolean,
): number {
  ctx.externalTarget = '';
  if (!plain) {
    ctx.addSOA(Section.AUTHORITY, zone.name, zone);
    return Rcode.NXDOMAIN;
  }
  const chain = ctx.chain;
  let name = qname;
  let owner: Owner = QNAME;
  let z = zone;
  let hops = 0;
  // the CNAMEs up to and including the first whose target is outside `zone` (0: none left it)
  let crossed = 0;
  let out: Outcome;
  for (;;) {
    // after MAX_CNAMES the last target is still answered, but not as an alias
    out = answerAt(ctx, name, owner, qtype, z, hops < MAX_CNAMES);
    if (out !== Outcome.CNAME || qtype === RRType.CNAME || hops >= MAX_CNAMES) break;
    const target = ctx.cnameTarget;
    chain[hops++] = name;
    if (crossed === 0 && !isInZone(target, zone.name)) crossed = hops;
    const tz = ctx.zones.find(target);
    if (tz === undefined) {
      ctx.externalTarget = target;
      break;
    }
    let loop = false;
    for (let i = 0; i < hops; i++) {
      if (chain[i] === target) {
        loop = true;
        break;
      }
    }
    if (loop) break;
    const off = ctx.w.targetOffset;
    owner = off >= 0 ? off : target;
    name = target;
    z = tz;
  }
  // the CNAMEs written so far are the caller's to drop: its SERVFAIL carries no records
  if (out === Outcome.ALL_DOWN) return Rcode.SERVFAIL;
  if (
    hops > 0 &&
    qtype !== RRType.CNAME &&
    (out === Outcome.NXDOMAIN ||
      out === Outcome.NODATA ||
      (out === Outcome.CNAME && ctx.externalTarget === ''))
  ) {
    ctx.w.keepAnswers(crossed);
    if (crossed === 0) ctx.addSOA(Section.AUTHORITY, zone.name, zone);
    return Rcode.NOERROR;
  }
  if (out === Outcome.NXDOMAIN) {
    ctx.addSOA(Section.AUTHORITY, z.name, z);
    return Rcode.NXDOMAIN;
  }
  if (out === Outcome.NODATA) ctx.addSOA(Section.AUTHORITY, z.name, z);
  return Rcode.NOERROR;
}

/**
 * The question types a name that is an alias answers with its CNAME (followed): CoreDNS chases
 * CNAMEs for A, AAAA and TXT only (plugin/backend_lookup.go) and answers qtype CNAME with the
 * CNAME; every other type (MX, SRV, PTR, NS below the apex, HINFO, CAA, …) is answered for the
 * name itself: NODATA when it exists, NXDOMAIN when not (plugin/etcd/handler.go `ServeDNS`).
 */
function aliasAnswers(qtype: number): boolean {
  return qtype === RRType.A || qtype === RRType.AAAA || qtype === RRType.TXT || qtype === RRType.CNAME;
}

/**
 * Answers one name (no chain): writes the records of `qtype` owned by `owner`, or the CNAME
 * making `name` an alias (only noted, not written, when `alias` is false), and says which. At the apex, SOA and NS are synthesized and the other
 * types come from `apex.dns.<zone>` (CoreDNS does this for A/AAAA only; for the other types it
 * aggregates the whole zone, which no one wants from an apex query).
 */
export function answerAt(
  ctx: AnswerContext,
  name: string,
  owner: Owner,
  qtype: number,
  zone: Zone,
  alias = true,
): Outcome {
  const apex = name === zone.name;
  const src = ctx.source;
  if (apex) {
    if (qtype === RRType.SOA) {
      ctx.addSOA(Section.ANSWER, owner, zone);
      return Outcome.ANSWER;
    }
    if (qtype === RRType.NS) {
      answerNS(ctx, owner, zone);
      return Outcome.ANSWER;
    }
  }
  const n = src.lookup(apex ? zone.apexName : name, ctx.recs);
  let written = 0;
  switch (qtype) {
    case RRType.A:
      written = answerAddresses(ctx, name, owner, n, 'ipv4');
      break;
    case RRType.AAAA:
      written = answerAddresses(ctx, name, owner, n, 'ipv6');
      break;
    case RRType.SRV:
      written = answerSRV(ctx, owner, n);
      break;
    case RRType.TXT:
      written = answerTXT(ctx, owner, n);
      break;
    case RRType.MX:
      written = answerMX(ctx, owner, n);
      break;
    case RRType.PTR:
      written = answerPTR(ctx, owner, n);
      break;
    case RRType.ANY:
      // RFC 8482: one synthesized HINFO for a name that exists
      if (n > 0 || apex || src.has(name)) {
        ctx.w.addRaw(Section.ANSWER, owner, RRType.HINFO, HINFO_TTL, HINFO_RFC8482);
        return Outcome.ANSWER;
      }
      return Outcome.NXDOMAIN;
  }
  if (written > 0) return Outcome.ANSWER;
  if (written === ALL_DOWN_CLOSED) return Outcome.ALL_DOWN;
  const a =
    qtype === RRType.CNAME
      ? cnameRecord(ctx.recs, n, name)
      : aliasAnswers(qtype)
        ? aliasRecord(ctx.recs, n, name)
        : undefined;
  if (a === null) return Outcome.NODATA;
  if (a !== undefined && !apex) {
    ctx.cnameTarget = a.target;
    if (alias) ctx.w.addCNAME(Section.ANSWER, owner, ctx.ttl(a), a.target);
    return Outcome.CNAME;
  }
  return n > 0 || apex || src.has(name) ? Outcome.NODATA : Outcome.NXDOMAIN;
}
