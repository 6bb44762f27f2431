/**
 * Stage 3: a name outside our zones, not in the cache, goes to the forwarder (src/dns/forward).
 * Its answer usually comes later (PENDING); when the forwarder settles at once (the in-flight
 * cap, no upstream for the name) the reply is written here and sent in the request's turn.
 * `done(null, rcode)` means "answer `rcode` yourself": that reply is written from the request
 * (kept as a copy while the query is in flight, since the transport reuses its buffer).
 */
import type { NoisyLog } from '../noisy-log.js';
import { errorText } from '../noisy-log.js';
import type { DnsServerStats } from '../server-stats.js';
import { type ClientInfo, DROP, type LateReplies, PENDING, type Transport } from '../types.js';
import { Rcode } from '../wire/constants.js';
import { newQuery, ParseStatus, parseQuery, type Query } from '../wire/query.js';
import { ResponseWriter } from '../wire/writer.js';
import { Pending, type SentObserver } from './pending.js';
import { errorReply } from './refuse.js';

/** The forwarder as the pipeline uses it (src/dns/forward `Forwarder`). */
export interface Upstreams {
  /**
   * Forwards `req[0, len)` and calls `done` once: the reply for the client (ours to keep), or
   * null and the rcode to answer with (undefined: send nothing). May call it before returning.
   */
  forward(
    req: Buffer,
    len: number,
    transport: Transport,
    done: (reply: Buffer | null, rcode?: number) => void,
  ): void;
  /**
   * Completes our reply `reply[0, replyLen)` whose CNAME chain ends at the out-of-zone `target`:
   * false when there is nothing to do, else true and `done` is called once with the reply to
   * send (maybe before returning). Copies what it needs.
   */
  completeExternal(
    req: Buffer,
    reqLen: number,
    reply: Buffer,
    replyLen: number,
    target: string,
    transport: Transport,
    done: (reply: Buffer) => void,
  ): boolean;
}

/** One forwarded request, from the call to the forwarder until its reply is sent. */
class Forwarded {
  /** The forwarder answered before `forward()` returned. */
  settledNow = false;
  reply: Buffer | null = null;
  rcode: number | undefined = undefined;
  /** Set once the request is pending: the late reply goes through it. */
  pending: Pending | null = null;
  /** The request, kept for a late error reply. */
  req: Buffer | null = null;
  readonly done = (reply: Buffer | null, rcode?: number): void => {
    if (this.pending === null) {
      this.settledNow = true;
      this.reply = reply;
      this.rcode = rcode;
      return;
    }
    this.stage.late(this, reply, rcode);
  };
  constructor(
    private readonly stage: ForwardStage,
    readonly limit: number,
  ) {}
}

export class ForwardStage {
  /** For the error replies written after the request's turn (slow path). */
  private readonly q: Query = newQuery();
  private readonly w = new ResponseWriter();

  constructor(
    private readonly upstreams: Upstreams,
    private readonly udpSize: number,
    private readonly stats: DnsServerStats,
    private readonly log: NoisyLog,
    private readonly observer: SentObserver,
  ) {}

  /**
   * Forwards the request (`q` its parse): the reply's length in `w` when it is known at once,
   * DROP, or PENDING (the reply goes to `late`).
   */
  start(
    req: Buffer,
    len: number,
    q: Query,
    client: Readonly<ClientInfo>,
    w: ResponseWriter,
    limit: number,
    t0: number,
    late: LateReplies,
  ): number {
    const f = new Forwarded(this, limit);
    try {
      this.upstreams.forward(req, len, client.transport, f.done);
    } catch (err) {
      this.stats.handlerErrors++;
      this.log.warn({ err: errorText(err) }, 'dns: forwarder failed; answering SERVFAIL');
      if (!f.settledNow) f.done(null, Rcode.SERVFAIL);
    }
    if (f.settledNow) {
      if (f.reply !== null) {
        f.reply.copy(w.buf, 0, 0, f.reply.length);
        return f.reply.length;
      }
      return f.rcode === undefined ? DROP : errorReply(q, w, f.rcode, this.udpSize, limit);
    }
    f.req = Buffer.from(req.subarray(0, len));
    f.pending = new Pending(client, t0, late, this.observer);
    return PENDING;
  }

  /** @internal the forwarder's late `done`. */
  late(f: Forwarded, reply: Buffer | null, rcode: number | undefined): void {
    const p = f.pending!;
    if (reply !== null) {
      p.settle(reply, reply.length);
      return;
    }
    const q = this.q;
    if (rcode === undefined || parseQuery(f.req!, f.req!.length, q) === ParseStatus.DROP) {
      p.settle(null, 0);
      return;
    }
    const n = errorReply(q, this.w, rcode, this.udpSize, f.limit);
    p.settle(n > 0 ? Buffer.from(this.w.buf.subarray(0, n)) : null, n);
  }
}
