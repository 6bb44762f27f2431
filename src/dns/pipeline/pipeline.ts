/**
 * The query pipeline: what happens to one request, in order, whatever transport brought it.
 *
 *   parse once → (with -transfer-allow/-notify: AXFR/IXFR and TSIG-signed requests to the transfer
 *   stage, src/dns/transfer) → 1 answer locally (local.ts) → for names outside our zones: 2 the response
 *   cache (from-cache.ts) → 3 the forwarder (forward.ts) → 5 REFUSED (refuse.ts); for our
 *   answers whose CNAME chain leaves our zones: 4 complete it upstream (complete.ts)
 *
 * Each stage returns a reply length (the reply is in the transport's writer), DROP, or PENDING
 * (the reply goes later to the transport's `LateReplies`). The pipeline counts every request
 * and every reply sent (one set of counters: `QueryCounters` and `DnsServerStats`) and feeds the
 * query log. Transports only move bytes: they call `run` and send what it wrote.
 */

import type { NoisyLog } from '../noisy-log.js';
import { type QueryCounters, TRANSPORT_TCP, TRANSPORT_UDP } from '../query-counters.js';
import type { DnsServerStats } from '../server-stats.js';
import {
  type ClientInfo,
  DROP,
  FORWARD,
  type LateReplies,
  NOT_MINE,
  PENDING,
  type QueryHandler,
  SIGN,
  type TransferStage,
} from '../types.js';
import { EDNS_UDP_SIZE, RRType, replyLimit } from '../wire/constants.js';
import { newQuery, ParseStatus, parseQuery, type Query } from '../wire/query.js';
import type { ResponseWriter } from '../wire/writer.js';
import { CompleteStage } from './complete.js';
import { ForwardStage, type Upstreams } from './forward.js';
import { fromCache, type ReplyCache } from './from-cache.js';
import { LocalStage } from './local.js';
import type { SentObserver } from './pending.js';
import { refuse } from './refuse.js';

/**
 * Called once per reply sent (`-log-queries`): `client` may be reused after the call, `reply` is
 * the message sent (`replyLen` octets), `seconds` the time from receipt to sending.
 */
export type QueryObserver = (
  client: Readonly<ClientInfo>,
  reply: Buffer,
  replyLen: number,
  seconds: number,
) => void;

export interface PipelineOptions {
  handler: QueryHandler;
  /** The EDNS size of the replies the pipeline writes itself, and the UDP cap. Default 1232. */
  udpSize?: number;
  cache?: ReplyCache;
  forwarder?: Upstreams;
  onQuery?: QueryObserver;
  /** Zone transfers and TSIG (src/dns/transfer): AXFR/IXFR questions and signed requests. */
  transfers?: TransferStage;
}

export class QueryPipeline implements SentObserver {
  private readonly q: Query = newQuery();
  private readonly udpSize: number;
  private readonly local: LocalStage;
  private readonly cache: ReplyCache | undefined;
  private readonly forward: ForwardStage | undefined;
  private readonly complete: CompleteStage | undefined;
  private readonly onQuery: QueryObserver | undefined;
  private readonly transfers: TransferStage | undefined;

  constructor(
    opts: PipelineOptions,
    private readonly stats: DnsServerStats,
    private readonly counters: QueryCounters,
    private readonly log: NoisyLog,
  ) {
    this.udpSize = opts.udpSize ?? EDNS_UDP_SIZE;
    this.local = new LocalStage(opts.handler, this.udpSize, stats, log);
    this.cache = opts.cache;
    const fwd = opts.forwarder;
    this.forward = fwd && new ForwardStage(fwd, this.udpSize, stats, log, this);
    this.complete = fwd && new CompleteStage(fwd, stats, log, this);
    this.onQuery = opts.onQuery;
    this.transfers = opts.transfers;
  }

  /**
   * Answers `req[0, len)` into `w`: the reply's length to send now, DROP, or PENDING. `t0` is
   * when the request arrived (performance.now(); a batch shares one).
   */
  run(
    req: Buffer,
    len: number,
    client: ClientInfo,
    w: ResponseWriter,
    t0: number,
    late: LateReplies,
  ): number {
    const q = this.q;
    const status = parseQuery(req, len, q);
    const udp = client.transport === 'udp';
    this.counters.request(udp ? TRANSPORT_UDP : TRANSPORT_TCP, q.hasQuestion ? q.qtype : -1);
    if (status === ParseStatus.DROP) {
      this.stats.dropped++;
      return DROP;
    }
    const limit = replyLimit(client.transport, q.edns, q.udpSize, this.udpSize);
    const t = this.transfers;
    if (
      t !== undefined &&
      status === ParseStatus.OK &&
      (q.tsigOffset >= 0 || q.qtype === RRType.AXFR || q.qtype === RRType.IXFR)
    ) {
      let m = t.start(req, len, q, client, w, limit, late);
      if (m === SIGN) m = t.sign(w, this.local.answer(q, status, client, w, t.signedLimit(limit)));
      if (m !== NOT_MINE) {
        // a stream's messages are the transfer's to count (hades_transfer_requests_total)
        if (m > 0) this.sent(client, w.buf, m, t0);
        return m;
      }
    }
    let n = this.local.answer(q, status, client, w, limit);
    if (n === FORWARD) {
      this.stats.forwarded++;
      n = fromCache(this.cache, req, len, client.transport, w, this.stats, this.log);
      if (n === 0 && this.forward !== undefined)
        n = this.forward.start(req, len, q, client, w, limit, t0, late);
      if (n === 0) n = refuse(q, w, this.udpSize, limit);
    } else if (n > 0 && this.complete !== undefined && this.local.target !== '') {
      n = this.complete.start(req, len, client, w, n, this.local.target, t0, late);
    }
    if (n > 0) this.sent(client, w.buf, n, t0);
    else if (n !== PENDING) this.stats.dropped++;
    return n;
  }

  /** A reply about to be sent (before the send, which may be batched: `reply` is as written). */
  sent(client: Readonly<ClientInfo>, reply: Buffer, length: number, t0: number): void {
    this.counters.response(client.transport === 'udp' ? TRANSPORT_UDP : TRANSPORT_TCP, reply);
    if ((reply[2] & 0x02) !== 0) this.stats.truncated++;
    const seconds = (performance.now() - t0) / 1000;
    this.counters.observe(seconds);
    if (this.onQuery !== undefined) {
      try {
        this.onQuery(client, reply, length, seconds);
      } catch {
        // a logging failure never costs an answer
      }
    }
  }

  /** A pending request that ends with nothing sent. */
  unsent(): void {
    this.stats.dropped++;
  }
}
