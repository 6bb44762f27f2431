/**
 * Stage 5: a name outside our zones that nothing could answer (no cache entry and no forwarder:
 * `-nameservers none`) gets REFUSED, its question and OPT echoed.
 */
import { DROP } from '../types.js';
import { Rcode } from '../wire/constants.js';
import type { Query } from '../wire/query.js';
import type { ResponseWriter } from '../wire/writer.js';

export function refuse(q: Query, w: ResponseWriter, udpSize: number, limit: number): number {
  try {
    return w.empty(q, Rcode.REFUSED, udpSize, limit);
  } catch {
    return DROP;
  }
}
