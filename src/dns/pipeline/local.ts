/**
 * Stage 1: the answer from our own data. The handler answers every name in our zones (and the
 * protocol errors); a name in none of them comes back as FORWARD. A handler exception is a bug:
 * the client gets SERVFAIL and the log one line per second at most.
 */
import type { NoisyLog } from '../noisy-log.js';
import { errorText } from '../noisy-log.js';
import type { DnsServerStats } from '../server-stats.js';
import type { ClientInfo, QueryHandler } from '../types.js';
import { Rcode } from '../wire/constants.js';
import type { ParseStatus, Query } from '../wire/query.js';
import type { ResponseWriter } from '../wire/writer.js';
import { errorReply } from './refuse.js';

export class LocalStage {
  /** The out-of-zone CNAME target of the last answer ('' when none). */
  target = '';

  constructor(
    private readonly handler: QueryHandler,
    private readonly udpSize: number,
    private readonly stats: DnsServerStats,
    private readonly log: NoisyLog,
  ) {}

  /** The reply's length in `w`, DROP, or FORWARD. */
  answer(q: Query, status: ParseStatus, client: ClientInfo, w: ResponseWriter, limit: number): number {
    try {
      const a = this.handler.answer(q, status, client, w, limit);
      this.target = a.externalTarget;
      return a.length;
    } catch (err) {
      this.target = '';
      this.stats.handlerErrors++;
      this.log.warn(
        { err: errorText(err), client: client.address, transport: client.transport },
        'dns: handler failed; answering SERVFAIL',
      );
      return errorReply(q, w, Rcode.SERVFAIL, this.udpSize, limit);
    }
  }
}
