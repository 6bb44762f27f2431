/**
 * Out-of-zone CNAME targets: picking the records of the target's chain out of an upstream answer,
 * and appending them to our own CNAME reply. Slow path (decode/encode); only names whose CNAME
 * leaves our zones come here.
 */
import { asciiLower } from '../../records/names.js';
import { Rcode, RRClass, RRType } from '../wire/constants.js';
import { decode, type Message, type ResourceRecord } from '../wire/decode.js';
import { encode, type MessageInput } from '../wire/encode.js';

/**
 * What an upstream said about a name: only NOERROR or NXDOMAIN answers are returned
 * (`resolveExternal` gives null for anything else, for timeouts and for the in-flight cap).
 */
export interface ExternalAnswer {
  /** Rcode.NOERROR or Rcode.NXDOMAIN (of the last name in the chain, RFC 6604). */
  rcode: number;
  /**
   * The answer-section records of the name's chain, in the upstream's order: CNAMEs starting at
   * the name and each target's records of the asked type (class IN only). Records for other
   * names, which a resolver has no business adding, are left out.
   */
  answers: ResourceRecord[];
  /** For a negative answer (NXDOMAIN, or no record of the type): the upstream's SOA, else []. */
  authorities: ResourceRecord[];
}

/** The ExternalAnswer for `name`/`qtype` from a decoded upstream reply with `rcode`. */
export function externalAnswer(name: string, qtype: number, rcode: number, msg: Message): ExternalAnswer {
  const answers = msg.answers;
  const names = new Set<string>([asciiLower(name)]);
  const keep = new Array<boolean>(answers.length).fill(false);
  let changed = true;
  // chains may come in any order: repeat until no CNAME adds a name (at most one pass per record)
  for (let round = 0; changed && round <= answers.length; round++) {
    changed = false;
    for (let i = 0; i < answers.length; i++) {
      if (keep[i]) continue;
      const rr = answers[i];
      if (rr.class !== RRClass.IN || !names.has(asciiLower(rr.name))) continue;
      if (rr.type === RRType.CNAME && qtype !== RRType.CNAME && typeof rr.data === 'string') {
        keep[i] = true;
        const t = asciiLower(rr.data);
        if (!names.has(t)) {
          names.add(t);
          changed = true;
        }
      } else if (rr.type === qtype || qtype === RRType.ANY) {
        keep[i] = true;
      }
    }
  }
  const kept = answers.filter((_, i) => keep[i]);
  const positive = kept.some((rr) => rr.type === qtype || (qtype === RRType.ANY && rr.type !== RRType.CNAME));
  const negative = rcode !== 0 || !positive;
  return {
    rcode,
    answers: kept,
    authorities: negative ? msg.authorities.filter((rr) => rr.type === RRType.SOA) : [],
  };
}

/** The ExternalAnswer in an upstream (or cached) reply: null unless NOERROR/NXDOMAIN and whole. */
export function externalFrom(buf: Buffer, len: number, name: string, qtype: number): ExternalAnswer | null {
  try {
    const msg = decode(buf, len);
    const rcode = ((msg.edns?.extRcode ?? 0) << 4) | msg.rcode;
    if (!msg.tc && (rcode === Rcode.NOERROR || rcode === Rcode.NXDOMAIN))
      return externalAnswer(name, qtype, rcode, msg);
  } catch {
    // malformed: no answer
  }
  return null;
}

/**
 * Our reply `ours` (decoded: the question, our CNAME chain ending out of zone, our OPT) with the
 * external records appended after the CNAME, the rcode of the chain's end (NXDOMAIN when the
 * target does not exist, RFC 6604), the upstream SOA in the authority section for a negative
 * answer. Fitted to `limit` as the writer does: additional records (but the OPT) dropped first,
 * then header + question + OPT with TC.
 */
export function mergeExternal(ours: Message, ext: ExternalAnswer, limit: number): Buffer {
  const opt = ours.additionals.filter((rr) => rr.type === RRType.OPT);
  const merged: MessageInput = {
    ...ours,
    rcode: ext.rcode & 0xf,
    answers: [...ours.answers, ...ext.answers],
    authorities: [...ours.authorities, ...ext.authorities],
    additionals: ours.additionals,
    edns: null,
  };
  let buf = encode(merged);
  if (buf.length <= limit) return buf;
  buf = encode({ ...merged, additionals: opt });
  if (buf.length <= limit) return buf;
  return encode({ ...merged, tc: true, answers: [], authorities: [], additionals: opt });
}
