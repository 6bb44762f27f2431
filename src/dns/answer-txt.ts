/**
 * TXT (CoreDNS plugin/backend_lookup.go `TXT`, plugin/etcd/msg/type.go `HostType`): one TXT per
 * distinct non-empty `text` of a record whose `host` is not an address (none, or a name: such a
 * record is a TXT record, not an alias), split into character-strings of at most 255 octets (the
 * writer splits). A record whose `host` is an address is an A/AAAA record and its `text` is not
 * served, as in CoreDNS. A name whose records are only names without text answers with its CNAME.
 */
import type { AnswerContext } from './answer-context.js';
import { Section } from './wire/constants.js';
import type { Owner } from './wire/writer.js';

/** Writes the TXT answer from `ctx.recs[0, n)`; returns the number of TXT records written. */
export function answerTXT(ctx: AnswerContext, owner: Owner, n: number): number {
  const recs = ctx.recs;
  const keys = ctx.keys;
  keys.clear();
  let written = 0;
  for (let i = 0; i < n; i++) {
    const r = recs[i];
    const text = r.text;
    if (r.hostKind === 'ipv4' || r.hostKind === 'ipv6') continue;
    if (text === undefined || text === '' || keys.has(text)) continue;
    keys.add(text);
    ctx.w.addTXT(Section.ANSWER, owner, ctx.ttl(r), text);
    written++;
  }
  return written;
}
