/**
 * The forwarder's facade: options, the upstream lists, `forward()` (a client's query to its
 * upstreams, the reply back), out-of-zone CNAME completion (complete.ts), `close()` and the
 * counters. The work is done by tries.ts (a query across its tries), exchange.ts (one try's
 * sockets), health.ts (down upstreams and their probes). Callback style throughout: no promise per
 * query. Nothing here throws out to the caller for network input.
 */
import { formatHostPort, type HostPort } from '../../common/host-port.js';
import type { Logger } from '../../common/logger.js';
import type { Transport } from '../types.js';
import { EDNS_UDP_SIZE, MIN_UDP_SIZE, Rcode, RRType, replyLimit } from '../wire/constants.js';
import { newQuery, ParseStatus, parseQuery } from '../wire/query.js';
import { Completion } from './complete.js';
import { RandomIds } from './exchange.js';
import type { ExternalAnswer } from './external.js';
import { Health } from './health.js';
import { newWalk, walkMessage } from './packet.js';
import { Job, KIND_FORWARD, Tries } from './tries.js';
import { listFor, Upstream, UpstreamList } from './upstream.js';

/**
 * Called exactly once per `forward()`: `reply` is the message for the client (ownership passes to
 * the caller; its length is `reply.length`) and `rcode` its rcode; or `reply` null and `rcode` the
 * rcode the caller should answer with itself (question echoed, OPT if the client used EDNS):
 * REFUSED (in-flight cap, no upstream for the name), SERVFAIL (deadline, every try failed,
 * forwarder closed), FORMERR/NOTIMP/BADVERS (a request the handler should not have forwarded);
 * `rcode` undefined: send nothing (an unreadable request).
 */
export type ForwardCallback = (reply: Buffer | null, rcode?: number) => void;

/** Called exactly once per `resolveExternal()`: the answer, or null (no usable answer). */
export type ExternalCallback = (answer: ExternalAnswer | null) => void;

/**
 * What the forwarder needs of the response cache (src/dns/cache.ts `ResponseCache`): every
 * validated upstream answer is offered to `store` with the query sent for it; `resolveExternal`
 * answers from `serve` when it can. (The server looks forwarded queries up itself, into its own
 * reply buffer, before calling `forward`.)
 */
export interface ForwardCache {
  store(query: Uint8Array, queryLen: number, reply: Uint8Array, replyLen: number): boolean;
  serve(query: Uint8Array, queryLen: number, transport: Transport, out: Uint8Array): number;
}

export interface ForwarderOptions {
  /** Default upstreams (`-nameservers`, else those of /etc/resolv.conf). */
  nameservers: readonly HostPort[];
  /** Per-zone upstreams (`-stub`), zones canonical (lower case, trailing dot): the longest matching zone wins. */
  stubs?: ReadonlyMap<string, readonly HostPort[]>;
  /** Per-try timeout, ms (`-read_timeout`). Default 2000. */
  readTimeoutMs?: number;
  /** Overall time for one query, ms, 1..5000; then SERVFAIL. Default 5000. */
  deadlineMs?: number;
  /** Tries per query (TCP retries after TC not counted). Default 2 × the list's length, at least 2. */
  maxTries?: number;
  /** Forwarded queries in flight (resolveExternal included); above it REFUSED at once. Default 1000. */
  maxInflight?: number;
  /** Consecutive failed tries that mark an upstream down (0: never). Default 3. */
  maxFails?: number;
  /** Interval between probes (`. NS`) of an upstream that is down, ms. Default 2000. */
  probeIntervalMs?: number;
  /** EDNS UDP size we advertise upstream and to clients, and cap client replies at. Default 1232. */
  udpSize?: number;
  logger?: Logger;
  /** The response cache (`-rcache`): fed every upstream answer, read by resolveExternal. */
  cache?: ForwardCache;
}

/** Forwarder-wide counters: plain numbers, live. Per-upstream ones are in `upstreams()[i].stats`. */
export interface ForwarderStats {
  /** forward() calls. */
  queries: number;
  /** resolveExternal() calls (completeExternal included). */
  external: number;
  /** Replies delivered from an upstream answer. */
  answered: number;
  /** Queries given up: deadline, tries exhausted, local socket errors (SERVFAIL / null). */
  servfail: number;
  /** Refused at once because `maxInflight` queries were in flight. */
  refusedInflight: number;
  /** Names with no upstream (empty nameservers and no matching stub). */
  noUpstream: number;
  /** AXFR/IXFR requests (refused: not proxied). */
  refusedTransfers: number;
  /** Requests forward() could not parse (the handler lets none through). */
  malformed: number;
  /** Relayed replies cut to header + question with TC because they did not fit the client. */
  truncated: number;
  /** Relayed replies that lost additional records to fit. */
  trimmed: number;
  /** Tries sent to a down upstream because every upstream of the list was down. */
  failOpen: number;
  /** Our own socket errors (EMFILE, ENOBUFS...): not held against the upstream. */
  localErrors: number;
}

function newStats(): ForwarderStats {
  return {
    queries: 0,
    external: 0,
    answered: 0,
    servfail: 0,
    refusedInflight: 0,
    noUpstream: 0,
    refusedTransfers: 0,
    malformed: 0,
    truncated: 0,
    trimmed: 0,
    failOpen: 0,
    localErrors: 0,
  };
}

export class Forwarder {
  readonly stats: ForwarderStats = newStats();
  readonly readTimeoutMs: number;
  readonly deadlineMs: number;
  readonly maxInflight: number;
  readonly maxFails: number;
  readonly probeIntervalMs: number;
  readonly udpSize: number;
  private readonly all = new Map<string, Upstream>();
  private readonly defaultList: UpstreamList | null;
  private readonly stubLists = new Map<string, UpstreamList>();
  private readonly health: Health;
  private readonly tries: Tries;
  private readonly completion: Completion;
  private readonly q = newQuery();
  private readonly walk = newWalk();

  constructor(opts: ForwarderOptions) {
    const int = (name: string, v: number | undefined, def: number, min: number, max: number): number => {
      const x = v ?? def;
      if (!Number.isInteger(x) || x < min || x > max)
        throw new RangeError(`Forwarder: ${name} must be an integer in ${min}..${max}, got ${v}`);
      return x;
    };
    this.readTimeoutMs = int('readTimeoutMs', opts.readTimeoutMs, 2000, 1, 3_600_000);
    this.deadlineMs = int('deadlineMs', opts.deadlineMs, 5000, 1, 5000);
    this.maxInflight = int('maxInflight', opts.maxInflight, 1000, 1, 1_000_000);
    this.maxFails = int('maxFails', opts.maxFails, 3, 0, 1_000_000);
    this.probeIntervalMs = int('probeIntervalMs', opts.probeIntervalMs, 2000, 1, 3_600_000);
    this.udpSize = int('udpSize', opts.udpSize, EDNS_UDP_SIZE, MIN_UDP_SIZE, 65535);
    const maxTries = opts.maxTries === undefined ? undefined : int('maxTries', opts.maxTries, 2, 1, 1000);

    const ns = (opts.nameservers ?? []).map((a) => this.upstream(a));
    this.defaultList = ns.length > 0 ? new UpstreamList(dedupe(ns)) : null;
    for (const [zone, list] of opts.stubs ?? []) {
      if (list.length === 0) throw new RangeError(`Forwarder: stub zone ${zone} has no nameserver`);
      this.stubLists.set(zone, new UpstreamList(dedupe(list.map((a) => this.upstream(a)))));
    }

    const ids = new RandomIds();
    this.health = new Health({
      maxFails: this.maxFails,
      probeIntervalMs: this.probeIntervalMs,
      readTimeoutMs: this.readTimeoutMs,
      upstreams: [...this.all.values()],
      stats: this.stats,
      ids,
      log: opts.logger,
    });
    this.tries = new Tries({
      readTimeoutMs: this.readTimeoutMs,
      deadlineMs: this.deadlineMs,
      maxTries,
      maxInflight: this.maxInflight,
      udpSize: this.udpSize,
      stats: this.stats,
      cache: opts.cache,
      health: this.health,
      ids,
    });
    this.completion = new Completion({
      tries: this.tries,
      stats: this.stats,
      udpSize: this.udpSize,
      cache: opts.cache,
      stubs: this.stubLists,
      nameservers: this.defaultList,
    });
  }

  /** Every distinct upstream (default list and stubs), with `address`, `down` and `stats`. */
  upstreams(): readonly Upstream[] {
    return [...this.all.values()];
  }

  /** Queries in flight (forward + resolveExternal; probes not included). */
  get inflight(): number {
    return this.tries.inflight;
  }

  /**
   * Forwards the request `req[0, len)` (a query the handler returned FORWARD for) and calls `done`
   * once with the reply (see ForwardCallback). `req` may be reused by the caller as soon as this
   * returns. `done` may run before `forward` returns (REFUSED at the cap, or when no upstream
   * serves the name); otherwise it runs from a socket or timer callback.
   * `transport` is the client's: its reply limit (512 or its EDNS size capped by `udpSize` on
   * UDP, 65535 on TCP) and the first upstream transport (a TCP client is forwarded over TCP).
   */
  forward(req: Buffer, len: number, transport: Transport, done: ForwardCallback): void {
    const s = this.stats;
    s.queries++;
    if (this.tries.closed) {
      done(null, Rcode.SERVFAIL);
      return;
    }
    const q = this.q;
    const st = parseQuery(req, len, q);
    const w = this.walk;
    if (st !== ParseStatus.OK || !q.hasQuestion || !walkMessage(req, len, w)) {
      s.malformed++;
      done(
        null,
        st === ParseStatus.DROP
          ? undefined
          : st === ParseStatus.NOTIMP
            ? Rcode.NOTIMP
            : st === ParseStatus.BADVERS
              ? Rcode.BADVERS
              : Rcode.FORMERR,
      );
      return;
    }
    if (this.tries.full) {
      s.refusedInflight++;
      done(null, Rcode.REFUSED);
      return;
    }
    if (q.qtype === RRType.AXFR || q.qtype === RRType.IXFR) {
      // zone transfers are not proxied (a stream of messages, and not ours to hand out)
      s.refusedTransfers++;
      done(null, Rcode.REFUSED);
      return;
    }
    const list = listFor(this.stubLists, this.defaultList, q.qname);
    if (list === null) {
      s.noUpstream++;
      done(null, Rcode.REFUSED);
      return;
    }
    // the client's message as it came (its OPT passed through), without trailing octets
    const query = Buffer.allocUnsafe(w.end);
    req.copy(query, 0, 0, w.end);
    if (w.optStart !== -1) {
      // our UDP size upstream (the OPT owner is the root octet: class at +3)
      query[w.optStart + 3] = this.udpSize >> 8;
      query[w.optStart + 4] = this.udpSize & 0xff;
    }
    const job = new Job(this.tries, KIND_FORWARD, transport === 'tcp', list);
    job.done = done;
    job.clientId = q.id;
    job.query = query;
    job.qnameLen = q.qnameLength;
    job.qtype = q.qtype;
    job.qclass = q.qclass;
    job.clientEdns = q.edns;
    job.limit = replyLimit(transport, q.edns, q.udpSize, this.udpSize);
    this.tries.begin(job);
  }

  /**
   * Resolves `name` (absolute, presentation form) / `qtype` through the upstreams (stubs apply) and
   * calls `done` once with the chain's records (ExternalAnswer) or null: timeouts, SERVFAIL and
   * other error rcodes, the in-flight cap, no upstream, a bad name, a closed forwarder. For
   * out-of-zone CNAME targets: the caller appends `answers` after its CNAME. UDP first, TCP on TC.
   * `done` may run before this returns (null at once).
   */
  resolveExternal(name: string, qtype: number, done: ExternalCallback): void {
    this.completion.resolve(name, qtype, done);
  }

  /**
   * Completes a reply of ours whose CNAME chain left our zones (the handler's `externalTarget`):
   * resolves `target` for the request's type and calls `done` once with the reply to send (ours
   * with the target's records appended, NXDOMAIN when the target does not exist, fitted to the
   * client's size; or ours unchanged when the target could not be resolved). Returns false, without
   * calling `done`, when there is nothing to complete (no target, a reply that does not end in a
   * CNAME to `target`, TC, an error rcode, a CNAME query): the caller sends its reply itself.
   * Copies what it needs: `req` and `reply` may be reused once this returns. `done` may run
   * before this returns.
   */
  completeExternal(
    req: Buffer,
    reqLen: number,
    reply: Buffer,
    replyLen: number,
    target: string,
    transport: Transport,
    done: (reply: Buffer) => void,
  ): boolean {
    return this.completion.complete(req, reqLen, reply, replyLen, target, transport, done);
  }

  /** Stops probes and answers every query in flight (SERVFAIL / null). Idempotent. */
  close(): void {
    if (this.tries.closed) return;
    this.health.close();
    this.tries.close();
  }

  /** The one Upstream for an address, however many lists name it. */
  private upstream(a: HostPort): Upstream {
    const key = formatHostPort(a);
    let u = this.all.get(key);
    if (u === undefined) {
      u = new Upstream(a);
      this.all.set(key, u);
    }
    return u;
  }
}

function dedupe(list: Upstream[]): Upstream[] {
  return [...new Set(list)];
}
