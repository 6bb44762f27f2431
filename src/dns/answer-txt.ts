/**
 * TXT (CoreDNS plugin/backend_lookup.go `TXT`): one TXT per distinct non-empty `text`, split
 * into character-strings of at most 255 octets (the writer splits). Unlike CoreDNS, a record
 * with both a `host` and a `text` gives its TXT too (CoreDNS only reads `text` of host-less
 * records); a name whose records are only names and carry no text answers with its CNAME.
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
    if (text === undefined || text === '' || keys.has(text)) continue;
    keys.add(text);
    ctx.w.addTXT(Section.ANSWER, owner, ctx.ttl(r), text);
    written++;
  }
  return written;
}
