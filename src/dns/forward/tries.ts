/**
 * The try/failover policy: one forwarded query (forward or resolveExternal) across its tries. A
 * query starts at a rotating index of its list, skipping upstreams that are down; a try ends with
 * an answer, a timeout (`readTimeoutMs`, or what is left of the deadline) or a network error, then
 * the next upstream, cycling, until `deadlineMs` or `maxTries`: then the kept answer, else
 * SERVFAIL. TC → the same upstream again over TCP (not a new try). SERVFAIL/REFUSED → the next
 * upstream, that answer kept in case every upstream gives one.
 */
import { MIN_UDP_SIZE, Rcode } from '../wire/constants.js';
import { Exchange, endTry, type RandomIds, startTry, type TryHandler } from './exchange.js';
import { externalFrom } from './external.js';
import type { ExternalCallback, ForwardCache, ForwardCallback, ForwarderStats } from './forwarder.js';
import type { Health } from './health.js';
import { newWalk, RelayShape, relayReply, walkMessage } from './packet.js';
import type { UpstreamList } from './upstream.js';

export const KIND_FORWARD = 0;
export const KIND_EXTERNAL = 1;

/** One forwarded query, across its tries; the try in progress is its Exchange part. */
export class Job extends Exchange {
  /** KIND_FORWARD: the caller's callback. */
  done: ForwardCallback | null = null;
  /** KIND_EXTERNAL: the caller's callback. */
  extDone: ExternalCallback | null = null;
  /** Lower-case name (external queries: the chain's start). */
  name = '';
  clientId = 0;
  clientEdns = false;
  /** Largest reply the client takes. */
  limit = MIN_UDP_SIZE;
  /** Rotation cursor (UpstreamList.pick). */
  pos = 0;
  allDown = false;
  tries = 0;
  maxTries = 2;
  errorReplies = 0;
  /** The last SERVFAIL/REFUSED or truncated answer, relayed if nothing better comes. */
  fallback: Buffer | null = null;
  deadline = 0;
  viaTcp = false;
  sentAt = 0;

  constructor(
    readonly handler: Tries,
    readonly kind: number,
    /** Upstream transport of the first try (the client's; external queries: UDP). */
    readonly preferTcp: boolean,
    readonly list: UpstreamList,
  ) {
    super();
  }
}

export interface TriesOptions {
  readTimeoutMs: number;
  deadlineMs: number;
  /** Undefined: 2 × the list's length, at least 2. */
  maxTries: number | undefined;
  maxInflight: number;
  udpSize: number;
  stats: ForwarderStats;
  cache: ForwardCache | undefined;
  health: Health;
  ids: RandomIds;
}

/** The queries in flight and their tries. */
export class Tries implements TryHandler<Job> {
  private readonly o: TriesOptions;
  private readonly jobs = new Set<Job>();
  /** The reply being handled: walked on acceptance, read by relayReply. */
  private readonly walk = newWalk();
  private readonly shape = { value: 0 };
  private isClosed = false;

  constructor(opts: TriesOptions) {
    this.o = opts;
  }

  /** Queries in flight. */
  get inflight(): number {
    return this.jobs.size;
  }

  /** `maxInflight` queries are in flight: the next one is refused. */
  get full(): boolean {
    return this.jobs.size >= this.o.maxInflight;
  }

  /** close() was called: no new queries. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Starts a query whose Job has its query and callback set. */
  begin(job: Job): void {
    this.jobs.add(job);
    job.deadline = performance.now() + this.o.deadlineMs;
    job.pos = job.list.start();
    job.maxTries = this.o.maxTries ?? Math.max(2, 2 * job.list.size);
    this.attempt(job, job.preferTcp, false);
  }

  /** A reply from the right server with our ID and question. */
  answered(job: Job, buf: Buffer, len: number): void {
    const u = job.upstream!;
    if (!walkMessage(buf, len, this.walk)) {
      this.failed(job, false);
      return;
    }
    this.o.health.answeredBy(u);
    endTry(job);
    u.observe(performance.now() - job.sentAt);
    if (!job.viaTcp && (buf[2] & 0x02) !== 0) {
      u.stats.tcpRetries++;
      // relayed (TC and all) should TCP fail everywhere: the client may use it or retry over TCP
      job.fallback = Buffer.from(buf.subarray(0, len));
      this.attempt(job, true, true);
      return;
    }
    const rcode = buf[3] & 0x0f;
    if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED) {
      u.stats.rcodeErrors++;
      job.errorReplies++;
      if (job.errorReplies < job.list.size && job.tries < job.maxTries) {
        // another resolver may do better; this answer is kept in case none does
        job.fallback = Buffer.from(buf.subarray(0, len));
        this.attempt(job, job.preferTcp, false);
        return;
      }
    }
    this.deliver(job, buf, len);
  }

  /** The upstream failed this try (timeout, network error, broken reply): health, then the next try. */
  failed(job: Job, timeout: boolean): void {
    const u = job.upstream!;
    endTry(job);
    u.stats.failures++;
    if (timeout) u.stats.timeouts++;
    this.o.health.failedBy(u);
    this.attempt(job, job.preferTcp, false);
  }

  localError(job: Job): void {
    this.o.stats.localErrors++;
    this.giveUp(job);
  }

  /** No new queries; every query in flight gets SERVFAIL / null. */
  close(): void {
    this.isClosed = true;
    for (const job of [...this.jobs]) {
      endTry(job);
      this.finish(job);
      this.unanswered(job);
    }
  }

  /** One try: to the same upstream again (a TCP retry) or the next one of the list. */
  private attempt(job: Job, tcp: boolean, same: boolean): void {
    if (job.finished) return;
    const now = performance.now();
    const remaining = job.deadline - now;
    if (remaining <= 0 || (!same && job.tries >= job.maxTries)) {
      this.giveUp(job);
      return;
    }
    let u = job.upstream!;
    if (!same) {
      u = job.list.pick(job);
      if (job.allDown) this.o.stats.failOpen++;
      job.tries++;
    }
    job.viaTcp = tcp;
    u.stats.requests++;
    job.sentAt = now;
    const timeout = Math.max(1, Math.min(this.o.readTimeoutMs, Math.ceil(remaining)));
    startTry(job, u, tcp, this.o.ids.next(), timeout);
  }

  /** Hands a validated, walked (this.walk) upstream reply to the job's caller. */
  private deliver(job: Job, buf: Buffer, len: number): void {
    const s = this.o.stats;
    this.finish(job);
    s.answered++;
    this.o.cache?.store(job.query, job.query.length, buf, len);
    if (job.kind === KIND_FORWARD) {
      const reply = relayReply(
        buf,
        this.walk,
        {
          id: job.clientId,
          query: job.query,
          qnameLen: job.qnameLen,
          limit: job.limit,
          clientEdns: job.clientEdns,
          udpSize: this.o.udpSize,
        },
        this.shape,
      );
      if (this.shape.value === RelayShape.TRUNCATED) s.truncated++;
      else if (this.shape.value === RelayShape.TRIMMED) s.trimmed++;
      job.done!(reply, reply[3] & 0x0f);
      return;
    }
    job.extDone!(externalFrom(buf, len, job.name, job.qtype));
  }

  /** No (more) tries: the kept answer if there is one, else SERVFAIL. */
  private giveUp(job: Job): void {
    endTry(job);
    const last = job.fallback;
    if (last !== null && walkMessage(last, last.length, this.walk)) {
      this.deliver(job, last, last.length);
      return;
    }
    this.o.stats.servfail++;
    this.finish(job);
    this.unanswered(job);
  }

  private finish(job: Job): void {
    job.finished = true;
    this.jobs.delete(job);
  }

  private unanswered(job: Job): void {
    if (job.kind === KIND_FORWARD) job.done!(null, Rcode.SERVFAIL);
    else job.extDone!(null);
  }
}
