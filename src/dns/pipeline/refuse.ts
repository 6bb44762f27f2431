/**
 * Stage 5: a name outside our zones that nothing could answer (no cache entry and no forwarder:
 * `-nameservers none`) gets REFUSED, its question and OPT echoed. `errorReply` is how every stage
 * writes a reply of its own with an rcode (SERVFAIL for a handler bug, the forwarder's rcodes).
 */
import { DROP } from '../types.js';
import { Rcode } from '../wire/constants.js';
import type { Query } from '../wire/query.js';
import type { ResponseWriter } from '../wire/writer.js';

/** An empty reply with `rcode` in `w` (question and OPT echoed): its length, or DROP if it cannot be written. */
export function errorReply(
  q: Query,
  w: ResponseWriter,
  rcode: number,
  udpSize: number,
  limit: number,
): number {
  try {
    return w.empty(q, rcode, udpSize, limit);
  } catch {
    return DROP;
  }
}

export function refuse(q: Query, w: ResponseWriter, udpSize: number, limit: number): number {
  return errorReply(q, w, Rcode.REFUSED, udpSize, limit);
}
