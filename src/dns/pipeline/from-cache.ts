/**
 * Stage 2: a name outside our zones answered from the response cache (`-rcache`), when an
 * upstream's answer to the same question is still fresh there.
 */
import type { NoisyLog } from '../noisy-log.js';
import { errorText } from '../noisy-log.js';
import type { DnsServerStats } from '../server-stats.js';
import type { Transport } from '../types.js';
import type { ResponseWriter } from '../wire/writer.js';

/** The response cache as the pipeline uses it (src/dns/cache.ts `ResponseCache`). */
export interface ReplyCache {
  /** Writes the cached reply to the request into `out`; returns its length, 0 on a miss. */
  serve(req: Buffer, len: number, transport: Transport, out: Buffer): number;
}

/** The cached reply's length in `w.buf`, or 0 (a miss, or no cache). */
export function fromCache(
  cache: ReplyCache | undefined,
  req: Buffer,
  len: number,
  transport: Transport,
  w: ResponseWriter,
  stats: DnsServerStats,
  log: NoisyLog,
): number {
  if (cache === undefined) return 0;
  try {
    return cache.serve(req, len, transport, w.buf);
  } catch (err) {
    stats.handlerErrors++;
    log.warn({ err: errorText(err) }, 'dns: response cache failed');
    return 0;
  }
}
