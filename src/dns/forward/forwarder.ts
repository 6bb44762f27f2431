/**
 * The forwarder: queries for names outside our zones go to upstream resolvers (`-nameservers`,
 * or per zone `-stub`), and their answers back to the client.
 *
 * Per query: a fresh crypto-random ID and a fresh UDP socket (so a fresh kernel-chosen random
 * source port) per try, `connect()`ed to the upstream (the kernel then drops datagrams from any
 * other address or port, and an ICMP port-unreachable fails the try at once instead of after the
 * timeout). An answer is taken only when source address and port, ID, QR and the question (name
 * ASCII case-insensitively, type, class) match; anything else is ignored and counted (`spoofed`)
 * and the try keeps waiting. TC → the same upstream again over TCP. No answer within
 * `readTimeoutMs` → the next upstream, cycling through the list from a start that rotates per
 * query, until `deadlineMs` (≤ 5 s) or `maxTries`; then SERVFAIL. The client gets the upstream's
 * reply with its own ID and question octets (its 0x20 case), RA set, our EDNS size, cut to its
 * UDP size.
 *
 * Callback style throughout: no promise per query; per try one socket, one timer and two small
 * closures. Nothing here throws out to the caller for network input.
 */
import { randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { asciiLower, canonicalName } from '../../records/names.js';
import { literalLookup } from '../literal-lookup.js';
import type { ClientInfo, Transport } from '../types.js';
import { MAX_MESSAGE, MIN_UDP_SIZE, Rcode, RRClass, RRType } from '../wire/constants.js';
import { decode, type Message } from '../wire/decode.js';
import { encodeQuery } from '../wire/encode.js';
import { newQuery, ParseStatus, parseQuery } from '../wire/query.js';
import { ResponseWriter } from '../wire/writer.js';
import {
  type AddressInput,
  assertNoLoop,
  canonicalHost,
  canonicalZone,
  formatAddress,
  parseAddress,
} from './config.js';
import { type ExternalAnswer, externalFrom, mergeExternal } from './external.js';
import {
  clientLimit,
  newWalk,
  plainNameLength,
  questionMatches,
  RelayShape,
  relayReply,
  walkMessage,
} from './packet.js';
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

/** The subset of a pino logger the forwarder uses. */
export interface ForwarderLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface ForwarderOptions {
  /** Default upstreams (`-nameservers`; when empty, the caller passes `fromResolvConf()`). */
  nameservers: readonly AddressInput[];
  /** Per-zone upstreams (`-stub`, see parseStubFlag): the longest matching zone wins. */
  stubs?: ReadonlyMap<string, readonly AddressInput[]>;
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
  /** Our own listen addresses: the constructor throws ForwardLoopError when an upstream is one. */
  listen?: readonly AddressInput[];
  logger?: ForwarderLogger;
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

const KIND_FORWARD = 0;
const KIND_EXTERNAL = 1;
const KIND_PROBE = 2;

/** Errors of our own host, not the upstream's: they do not count against its health. */
const LOCAL_ERRORS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

/** One forwarded query (or probe), across its tries. */
class Job {
  done: ForwardCallback | null = null;
  extDone: ExternalCallback | null = null;
  /** Lower-case name (external queries: the chain's start). */
  name = '';
  clientId = 0;
  /** The query we send: the client's request (its question octets at 12); the ID rewritten per try. */
  query: Buffer = Buffer.alloc(0);
  qnameLen = 0;
  qtype = 0;
  qclass: number = RRClass.IN;
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
  upstream: Upstream | null = null;
  id = 0;
  viaTcp = false;
  sentAt = 0;
  timer: NodeJS.Timeout | null = null;
  udp: dgram.Socket | null = null;
  tcp: net.Socket | null = null;
  tcpIn: Buffer | null = null;
  finished = false;
  readonly onTimeout: () => void;

  constructor(
    readonly fwd: Forwarder,
    readonly kind: number,
    /** Upstream transport of the first try (the client's; probes and external queries: UDP). */
    readonly preferTcp: boolean,
    readonly list: UpstreamList | null,
  ) {
    this.onTimeout = () => fwd._timeout(this);
  }
}

function sameSource(address: string, host: string): boolean {
  if (address === host) return true;
  const c = canonicalHost(address);
  if (c === undefined) return false;
  const strip = (h: string): string => (h.includes('%') ? h.slice(0, h.indexOf('%')) : h);
  return strip(c.host) === strip(host);
}

export class Forwarder {
  readonly stats: ForwarderStats = newStats();
  readonly readTimeoutMs: number;
  readonly deadlineMs: number;
  readonly maxInflight: number;
  readonly maxFails: number;
  readonly probeIntervalMs: number;
  readonly udpSize: number;
  private readonly maxTries: number | undefined;
  private readonly log: ForwarderLogger | undefined;
  private readonly cache: ForwardCache | undefined;
  /** resolveExternal's buffer for cached replies. */
  private cacheOut: Buffer | null = null;
  private readonly all = new Map<string, Upstream>();
  private readonly defaultList: UpstreamList | null;
  private readonly stubLists = new Map<string, UpstreamList>();
  private readonly jobs = new Set<Job>();
  private readonly probeJobs = new Set<Job>();
  private closed = false;
  private readonly q = newQuery();
  private readonly walk = newWalk();
  private readonly shape = { value: 0 };
  private writer: ResponseWriter | null = null;
  private readonly rnd = Buffer.alloc(1024);
  private rndPos = 1024;
  private readonly probeQuery: Buffer;

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
    this.udpSize = int('udpSize', opts.udpSize, 1232, MIN_UDP_SIZE, 65535);
    this.maxTries = opts.maxTries === undefined ? undefined : int('maxTries', opts.maxTries, 2, 1, 1000);
    this.log = opts.logger;
    this.cache = opts.cache;

    const ns = (opts.nameservers ?? []).map((a) => this.upstream(a));
    this.defaultList = ns.length > 0 ? new UpstreamList(dedupe(ns)) : null;
    const everything: AddressInput[] = [...(opts.nameservers ?? [])];
    for (const [zone, list] of opts.stubs ?? []) {
      const z = canonicalZone(zone);
      if (list.length === 0) throw new RangeError(`Forwarder: stub zone ${z} has no nameserver`);
      this.stubLists.set(z, new UpstreamList(dedupe(list.map((a) => this.upstream(a)))));
      everything.push(...list);
    }
    if (opts.listen !== undefined && opts.listen.length > 0) assertNoLoop(everything, opts.listen);
    this.probeQuery = encodeQuery({ id: 0, name: '.', type: RRType.NS, rd: true });
  }

  /** Every distinct upstream (default list and stubs), with `address`, `down` and `stats`. */
  upstreams(): readonly Upstream[] {
    return [...this.all.values()];
  }

  /** Queries in flight (forward + resolveExternal; probes not included). */
  get inflight(): number {
    return this.jobs.size;
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
    if (this.closed) {
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
    if (this.jobs.size >= this.maxInflight) {
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
    const job = new Job(this, KIND_FORWARD, transport === 'tcp', list);
    job.done = done;
    job.clientId = q.id;
    job.query = query;
    job.qnameLen = q.qnameLength;
    job.qtype = q.qtype;
    job.qclass = q.qclass;
    job.clientEdns = q.edns;
    job.limit = clientLimit(transport, q.edns, q.udpSize, this.udpSize);
    this.begin(job);
  }

  /**
   * Resolves `name` (absolute, presentation form) / `qtype` through the upstreams (stubs apply) and
   * calls `done` once with the chain's records (ExternalAnswer) or null: timeouts, SERVFAIL and
   * other error rcodes, the in-flight cap, no upstream, a bad name, a closed forwarder. For
   * out-of-zone CNAME targets: the caller appends `answers` after its CNAME. UDP first, TCP on TC.
   * `done` may run before this returns (null at once).
   */
  resolveExternal(name: string, qtype: number, done: ExternalCallback): void {
    this.stats.external++;
    if (this.closed) {
      done(null);
      return;
    }
    let query: Buffer;
    try {
      query = encodeQuery({ id: 0, name, type: qtype, rd: true, edns: { udpSize: this.udpSize } });
    } catch {
      this.stats.malformed++;
      done(null);
      return;
    }
    const lname = canonicalName(name);
    if (this.cache !== undefined) {
      // answered before from upstream (by this path or a client's query for the name): no trip
      this.cacheOut ??= Buffer.allocUnsafe(MAX_MESSAGE);
      const n = this.cache.serve(query, query.length, 'tcp', this.cacheOut);
      if (n > 0) {
        done(externalFrom(this.cacheOut, n, lname, qtype));
        return;
      }
    }
    if (this.jobs.size >= this.maxInflight) {
      this.stats.refusedInflight++;
      done(null);
      return;
    }
    const list = listFor(this.stubLists, this.defaultList, lname);
    if (list === null) {
      this.stats.noUpstream++;
      done(null);
      return;
    }
    const job = new Job(this, KIND_EXTERNAL, false, list);
    job.extDone = done;
    job.name = lname;
    job.query = query;
    job.qnameLen = plainNameLength(query, 12, query.length);
    job.qtype = qtype;
    job.qclass = RRClass.IN;
    job.clientEdns = true;
    job.limit = MAX_MESSAGE;
    this.begin(job);
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
    if (target === '' || this.closed || replyLen < 12) return false;
    if ((reply[2] & 0x02) !== 0 || (reply[3] & 0x0f) !== Rcode.NOERROR) return false;
    const q = this.q;
    if (parseQuery(req, reqLen, q) !== ParseStatus.OK || !q.hasQuestion) return false;
    if (q.qtype === RRType.CNAME || q.qclass !== RRClass.IN) return false;
    let msg: Message;
    try {
      msg = decode(reply, replyLen);
    } catch {
      return false;
    }
    const last = msg.answers[msg.answers.length - 1];
    if (last === undefined || last.type !== RRType.CNAME || typeof last.data !== 'string') return false;
    if (asciiLower(last.data) !== asciiLower(target)) return false;
    const limit = clientLimit(transport, q.edns, q.udpSize, this.udpSize);
    const original = Buffer.from(reply.subarray(0, replyLen));
    this.resolveExternal(target, q.qtype, (ans) => {
      let out: Buffer = original;
      if (ans !== null) {
        try {
          out = mergeExternal(msg, ans, limit);
        } catch {
          out = original;
        }
      }
      done(out);
    });
    return true;
  }

  /**
   * The reply with `rcode` for a request, as the handler writes its own errors: the question
   * echoed (the client's case), an OPT with our size when the client sent one, DO copied. For the
   * `done(null, rcode)` cases when the caller has no writer at hand. Null for an unreadable request.
   */
  errorReply(req: Buffer, len: number, rcode: number, transport: Transport): Buffer | null {
    const q = this.q;
    if (parseQuery(req, len, q) === ParseStatus.DROP) return null;
    this.writer ??= new ResponseWriter();
    const w = this.writer;
    try {
      w.start(q, rcode, 0);
      if (q.edns) w.addOPT(this.udpSize, 0, rcode === Rcode.FORMERR ? false : q.do);
      const n = w.finish(clientLimit(transport, q.edns, q.udpSize, this.udpSize));
      return Buffer.from(w.buf.subarray(0, n));
    } catch {
      return null;
    }
  }

  /**
   * An adapter to the seam `src/dns/server.ts` declares (its `Forwarder` interface at the time of
   * writing: `forward(req, len, client, limit, done(reply | null, length))`, `null` = send nothing):
   * the transport comes from `client.transport` (the limit is computed here, as the handler does),
   * and the `done(null, rcode)` cases become error replies built by errorReply().
   */
  serverSeam(): {
    forward(
      req: Buffer,
      len: number,
      client: Readonly<ClientInfo>,
      limit: number,
      done: (reply: Buffer | null, length: number) => void,
    ): void;
  } {
    return {
      forward: (req, len, client, _limit, done) => {
        const transport = client.transport;
        // an error reply needs the request again, after the server has reused `req`: keep a copy
        // (a few dozen octets) while the query is in flight
        let copy: Buffer | null = null;
        let called = false;
        this.forward(req, len, transport, (reply, rcode) => {
          called = true;
          if (reply !== null) {
            done(reply, reply.length);
            return;
          }
          const err =
            rcode === undefined
              ? null
              : copy === null
                ? this.errorReply(req, len, rcode, transport)
                : this.errorReply(copy, copy.length, rcode, transport);
          done(err, err === null ? 0 : err.length);
        });
        if (!called) copy = Buffer.from(req.subarray(0, len));
      },
    };
  }

  /** Stops probes and answers every query in flight (SERVFAIL / null). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.all.values()) {
      if (u.probeTimer !== null) clearTimeout(u.probeTimer);
      u.probeTimer = null;
    }
    for (const job of this.probeJobs) {
      this.endTry(job);
      job.finished = true;
      if (job.upstream) job.upstream.probing = false;
    }
    this.probeJobs.clear();
    for (const job of [...this.jobs]) {
      this.endTry(job);
      this.finish(job);
      this.callback(job, null, Rcode.SERVFAIL);
    }
  }

  // ---- internals -------------------------------------------------------------------------------

  private upstream(a: AddressInput): Upstream {
    const addr = parseAddress(a);
    const key = formatAddress(addr);
    let u = this.all.get(key);
    if (u === undefined) {
      u = new Upstream(addr);
      this.all.set(key, u);
    }
    return u;
  }

  private randomId(): number {
    if (this.rndPos >= this.rnd.length) {
      randomFillSync(this.rnd);
      this.rndPos = 0;
    }
    const v = (this.rnd[this.rndPos] << 8) | this.rnd[this.rndPos + 1];
    this.rndPos += 2;
    return v;
  }

  private begin(job: Job): void {
    const list = job.list!;
    this.jobs.add(job);
    job.deadline = performance.now() + this.deadlineMs;
    job.pos = list.start();
    job.maxTries = this.maxTries ?? Math.max(2, 2 * list.size);
    this.attempt(job, job.preferTcp, null);
  }

  /** One try: to `same` (a TCP retry, a probe) or the next upstream of the list. */
  private attempt(job: Job, tcp: boolean, same: Upstream | null): void {
    if (job.finished) return;
    const now = performance.now();
    const remaining = job.deadline - now;
    if (remaining <= 0 || (same === null && job.tries >= job.maxTries)) {
      this.giveUp(job);
      return;
    }
    let u: Upstream;
    if (same !== null) {
      u = same;
    } else {
      u = job.list!.pick(job);
      if (job.allDown) this.stats.failOpen++;
      job.tries++;
    }
    job.upstream = u;
    job.viaTcp = tcp;
    const id = this.randomId();
    job.id = id;
    job.query[0] = id >> 8;
    job.query[1] = id & 0xff;
    if (job.kind !== KIND_PROBE) u.stats.requests++;
    job.sentAt = now;
    job.timer = setTimeout(job.onTimeout, Math.max(1, Math.min(this.readTimeoutMs, Math.ceil(remaining))));
    if (tcp) this.sendTcp(job, u);
    else this.sendUdp(job, u);
  }

  private sendUdp(job: Job, u: Upstream): void {
    let sock: dgram.Socket;
    try {
      sock = dgram.createSocket({ type: u.family === 6 ? 'udp6' : 'udp4', lookup: literalLookup });
    } catch (err) {
      this.netError(job, err);
      return;
    }
    job.udp = sock;
    sock.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      if (job.udp === sock) this.udpMessage(job, msg, rinfo);
    });
    sock.on('error', (err: Error) => {
      if (job.udp === sock) this.netError(job, err);
    });
    try {
      // bind to a random port and connect, synchronously (literalLookup); then send
      sock.connect(u.port, u.host);
      sock.send(job.query);
    } catch (err) {
      if (job.udp === sock) this.netError(job, err);
    }
  }

  private udpMessage(job: Job, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const u = job.upstream!;
    const len = msg.length;
    if (
      rinfo.port !== u.port ||
      !sameSource(rinfo.address, u.host) ||
      len < 12 ||
      ((msg[0] << 8) | msg[1]) !== job.id ||
      !questionMatches(msg, len, job.query, job.qnameLen, job.qtype, job.qclass)
    ) {
      u.stats.spoofed++;
      return; // keep waiting for the real answer
    }
    this.answered(job, msg, len);
  }

  private sendTcp(job: Job, u: Upstream): void {
    const n = job.query.length;
    const frame = Buffer.allocUnsafe(n + 2);
    frame[0] = n >> 8;
    frame[1] = n & 0xff;
    job.query.copy(frame, 2);
    let sock: net.Socket;
    try {
      sock = net.connect({ host: u.host, port: u.port });
    } catch (err) {
      this.netError(job, err);
      return;
    }
    job.tcp = sock;
    job.tcpIn = null;
    sock.setNoDelay(true);
    sock.on('error', (err: Error) => {
      if (job.tcp === sock) this.netError(job, err);
    });
    sock.on('close', () => {
      if (job.tcp === sock) this.failure(job, false); // closed before a whole reply
    });
    sock.on('data', (chunk: Buffer) => {
      if (job.tcp === sock) this.tcpData(job, chunk);
    });
    sock.write(frame);
  }

  private tcpData(job: Job, chunk: Buffer): void {
    const buf = job.tcpIn === null ? chunk : Buffer.concat([job.tcpIn, chunk]);
    if (buf.length < 2) {
      job.tcpIn = buf;
      return;
    }
    const n = (buf[0] << 8) | buf[1];
    if (buf.length < n + 2) {
      job.tcpIn = buf;
      return;
    }
    job.tcpIn = null;
    const msg = buf.subarray(2, n + 2);
    if (
      n < 12 ||
      ((msg[0] << 8) | msg[1]) !== job.id ||
      !questionMatches(msg, n, job.query, job.qnameLen, job.qtype, job.qclass)
    ) {
      // one connection per query: a wrong reply here is a broken upstream, not a stray datagram
      job.upstream!.stats.spoofed++;
      this.failure(job, false);
      return;
    }
    this.answered(job, msg, n);
  }

  /** A reply from the right server with our ID and question. */
  private answered(job: Job, buf: Buffer, len: number): void {
    const u = job.upstream!;
    const w = this.walk;
    if (!walkMessage(buf, len, w)) {
      this.failure(job, false);
      return;
    }
    u.fails = 0;
    if (u.down) this.markUp(u);
    this.endTry(job);
    if (job.kind === KIND_PROBE) {
      this.finishProbe(job, true);
      return;
    }
    u.observe(performance.now() - job.sentAt);
    if (!job.viaTcp && (buf[2] & 0x02) !== 0) {
      u.stats.tcpRetries++;
      // relayed (TC and all) should TCP fail everywhere: the client may use it or retry over TCP
      job.fallback = Buffer.from(buf.subarray(0, len));
      this.attempt(job, true, u);
      return;
    }
    const rcode = buf[3] & 0x0f;
    if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED) {
      u.stats.rcodeErrors++;
      job.errorReplies++;
      if (job.errorReplies < job.list!.size && job.tries < job.maxTries) {
        // another resolver may do better; this answer is kept in case none does
        job.fallback = Buffer.from(buf.subarray(0, len));
        this.attempt(job, job.preferTcp, null);
        return;
      }
    }
    this.deliver(job, buf, len);
  }

  /** Hands a validated, walked (this.walk) upstream reply to the job's caller. */
  private deliver(job: Job, buf: Buffer, len: number): void {
    this.finish(job);
    this.stats.answered++;
    this.cache?.store(job.query, job.query.length, buf, len);
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
          udpSize: this.udpSize,
        },
        this.shape,
      );
      if (this.shape.value === RelayShape.TRUNCATED) this.stats.truncated++;
      else if (this.shape.value === RelayShape.TRIMMED) this.stats.trimmed++;
      job.done!(reply, reply[3] & 0x0f);
      return;
    }
    job.extDone!(externalFrom(buf, len, job.name, job.qtype));
  }

  /** No (more) tries: the fallback answer if there is one, else SERVFAIL. */
  private giveUp(job: Job): void {
    this.endTry(job);
    if (job.kind === KIND_PROBE) {
      this.finishProbe(job, false);
      return;
    }
    const last = job.fallback;
    if (last !== null && walkMessage(last, last.length, this.walk)) {
      this.deliver(job, last, last.length);
      return;
    }
    this.stats.servfail++;
    this.finish(job);
    this.callback(job, null, Rcode.SERVFAIL);
  }

  /** @internal the try timer fired. */
  _timeout(job: Job): void {
    job.timer = null;
    if (job.finished) return;
    this.failure(job, true);
  }

  /** The upstream failed this try (timeout, network error, broken reply): health, then the next try. */
  private failure(job: Job, timeout: boolean): void {
    if (job.finished) return;
    const u = job.upstream!;
    this.endTry(job);
    if (job.kind === KIND_PROBE) {
      this.finishProbe(job, false);
      return;
    }
    u.stats.failures++;
    if (timeout) u.stats.timeouts++;
    u.fails++;
    if (this.maxFails > 0 && u.fails >= this.maxFails && !u.down) this.markDown(u);
    this.attempt(job, job.preferTcp, null);
  }

  private netError(job: Job, err: unknown): void {
    if (job.finished) return;
    const code = (err as NodeJS.ErrnoException)?.code ?? '';
    if (LOCAL_ERRORS.has(code)) {
      this.stats.localErrors++;
      this.giveUp(job);
      return;
    }
    this.failure(job, false);
  }

  private endTry(job: Job): void {
    if (job.timer !== null) {
      clearTimeout(job.timer);
      job.timer = null;
    }
    const udp = job.udp;
    if (udp !== null) {
      job.udp = null;
      try {
        udp.close();
      } catch {
        // already closed
      }
    }
    const tcp = job.tcp;
    if (tcp !== null) {
      job.tcp = null;
      job.tcpIn = null;
      tcp.destroy();
    }
  }

  private finish(job: Job): void {
    job.finished = true;
    this.jobs.delete(job);
  }

  private callback(job: Job, reply: Buffer | null, rcode: number): void {
    if (job.kind === KIND_FORWARD) job.done!(reply, rcode);
    else if (job.kind === KIND_EXTERNAL) job.extDone!(null);
  }

  // ---- health ------------------------------------------------------------------------------------

  private markDown(u: Upstream): void {
    u.down = true;
    u.stats.downEvents++;
    this.log?.warn(
      { upstream: u.address, fails: u.fails },
      'forward: upstream failed repeatedly; skipping it and probing until it answers',
    );
    this.scheduleProbe(u);
  }

  private markUp(u: Upstream): void {
    u.down = false;
    u.fails = 0;
    if (u.probeTimer !== null) clearTimeout(u.probeTimer);
    u.probeTimer = null;
    this.log?.info({ upstream: u.address }, 'forward: upstream answers again');
  }

  private scheduleProbe(u: Upstream): void {
    if (this.closed || u.probeTimer !== null || u.probing) return;
    u.probeTimer = setTimeout(() => {
      u.probeTimer = null;
      this.probe(u);
    }, this.probeIntervalMs);
    u.probeTimer.unref();
  }

  private probe(u: Upstream): void {
    if (this.closed || !u.down || u.probing) return;
    u.probing = true;
    u.stats.probes++;
    const job = new Job(this, KIND_PROBE, false, null);
    job.query = Buffer.from(this.probeQuery);
    job.qnameLen = 1;
    job.qtype = RRType.NS;
    job.qclass = RRClass.IN;
    job.deadline = performance.now() + this.readTimeoutMs;
    this.probeJobs.add(job);
    this.attempt(job, false, u);
    // a probe must not keep the process alive on its own
    (job.timer as NodeJS.Timeout | null)?.unref();
    (job.udp as dgram.Socket | null)?.unref();
  }

  private finishProbe(job: Job, ok: boolean): void {
    job.finished = true;
    this.probeJobs.delete(job);
    const u = job.upstream!;
    u.probing = false;
    if (ok) u.stats.probeSuccesses++;
    else if (u.down) this.scheduleProbe(u);
  }
}

function dedupe(list: Upstream[]): Upstream[] {
  return [...new Set(list)];
}
