/**
 * The target loop the answers that name a host share (SRV, MX, NS): each candidate's target is
 * its `host` when that is a name, else the record's own name (its address becomes glue), after
 * `targetstrip`; one record per distinct key; the target offsets for answer-context
 * `addTargetGlue`.
 */
import type { Record } from '../records/types.js';
import type { AnswerContext } from './answer-context.js';
import { targetStrip } from './answer-context.js';
import { WireError } from './wire/errors.js';
import type { Owner } from './wire/writer.js';

/** What makes two records of one answer the same (written once), given the record and its target. */
export type TargetKey = (r: Record, target: string) => string;
/** Adds one answer record for `r` naming `target`. */
export type TargetWrite = (ctx: AnswerContext, owner: Owner, r: Record, target: string) => void;

/**
 * Writes one record per distinct key for `ctx.cands[0, m)`; `ctx.targets[i]` is each candidate's
 * target and its offset slot (`ctx.reserve(m)`) is the target's offset in the message, -1 for a
 * duplicate (glue writes the name), -2 for a record the writer refused (a target that is no valid
 * DNS name: left out, no glue).
 * Returns the number of records written; the caller adds the glue (`ctx.addTargetGlue(m)`).
 */
export function writeTargets(
  ctx: AnswerContext,
  owner: Owner,
  m: number,
  key: TargetKey,
  write: TargetWrite,
): number {
  const cands = ctx.cands;
  const w = ctx.w;
  const targets = ctx.targets;
  const offs = ctx.reserve(m);
  const keys = ctx.keys;
  keys.clear();
  let written = 0;
  for (let i = 0; i < m; i++) {
    const r = cands[i];
    const target = targetStrip(r.hostKind === 'name' ? r.target : r.name, r.targetstrip);
    targets[i] = target;
    offs[i] = -1;
    const k = key(r, target);
    if (keys.has(k)) continue;
    keys.add(k);
    try {
      write(ctx, owner, r, target);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      offs[i] = -2;
      continue;
    }
    offs[i] = w.targetOffset;
    written++;
  }
  return written;
}
