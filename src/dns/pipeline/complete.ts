/**
 * Stage 4: our answer whose CNAME chain leaves our zones (`{"host":"www.example.com"}`) gets the
 * target's records from the forwarder appended. Usually later (PENDING); at once when the
 * forwarder has the target cached. Without a forwarder the CNAME alone is the answer.
 */
import type { NoisyLog } from '../noisy-log.js';
import { errorText } from '../noisy-log.js';
import type { DnsServerStats } from '../server-stats.js';
import { type ClientInfo, type LateReplies, PENDING } from '../types.js';
import type { ResponseWriter } from '../wire/writer.js';
import type { Upstreams } from './forward.js';
import { Pending, type SentObserver } from './pending.js';

/** One completion, from the call to the forwarder until the reply is sent. */
class Completion {
  out: Buffer | null = null;
  pending: Pending | null = null;
  readonly done = (out: Buffer): void => {
    if (this.pending === null) this.out = out;
    else this.pending.settle(out, out.length);
  };
}

export class CompleteStage {
  constructor(
    private readonly upstreams: Upstreams,
    private readonly stats: DnsServerStats,
    private readonly log: NoisyLog,
    private readonly observer: SentObserver,
  ) {}

  /**
   * Our reply `w.buf[0, n)` ends in a CNAME to `target`: the completed reply's length in `w`
   * (`n` when there is nothing to add), or PENDING (the reply goes to `late`).
   */
  start(
    req: Buffer,
    len: number,
    client: Readonly<ClientInfo>,
    w: ResponseWriter,
    n: number,
    target: string,
    t0: number,
    late: LateReplies,
  ): number {
    const c = new Completion();
    let taken = false;
    try {
      taken = this.upstreams.completeExternal(req, len, w.buf, n, target, client.transport, c.done);
    } catch (err) {
      this.stats.handlerErrors++;
      this.log.warn({ err: errorText(err) }, 'dns: forwarder failed; answering the CNAME alone');
    }
    if (!taken) return n;
    if (c.out !== null) {
      c.out.copy(w.buf, 0, 0, c.out.length);
      return c.out.length;
    }
    c.pending = new Pending(client, t0, late, this.observer);
    return PENDING;
  }
}
