/**
 * The DNS transport: UDP and TCP on one address, handing each request to a QueryHandler
 * (types.ts) and sending what it writes. It owns sockets, framing and limits; it knows nothing of
 * names or records.
 *
 * UDP, batched (the default where the addon is built: udp-batch.ts, native/README.md): up to
 * 64 datagrams arrive in one recvmmsg into fixed slots, each is answered into its slot's
 * ResponseWriter, and the batch's replies leave in one sendmmsg; one reused ClientInfo, no
 * per-query objects, promises or syscalls. Replies that come later (forwarded, completed CNAME
 * chains) are sent one by one.
 *
 * UDP over node:dgram (`udpBatch: false`, or the addon missing): one reused ClientInfo and
 * ResponseWriter per socket (node's dgram still allocates the datagram and its rinfo). A send
 * that the kernel could not take at once keeps its writer busy until it completes; the next
 * request then takes another writer from a small pool (grown on demand, bounded; when every
 * writer is busy the request is dropped and counted).
 *
 * TCP (RFC 7766): 2-byte length framing across partial reads and coalesced frames; pipelined
 * queries answered in order; an idle timeout; a cap on concurrent connections (more are closed at
 * once); per connection, at most one partial frame is buffered on input, and reading pauses while
 * the unsent replies exceed a cap (so a client that sends and never reads cannot grow our memory).
 *
 * Requests the handler returns FORWARD for go to the Forwarder (src/dns/forward); without one they
 * get REFUSED. An in-zone answer whose CNAME chain leaves our zones (the handler's
 * `externalTarget`) is completed through the forwarder's `completeExternal` before it is sent.
 * Nothing a client sends can throw out of here: handler exceptions become SERVFAIL, socket errors
 * are counted and logged.
 *
 * Metrics: `stats` and `counters` (query-counters.ts) are plain numbers read at scrape time. Per
 * query the server reads the clock twice (performance.now(), ~35 ns each here), peeks the qtype
 * from the raw request and increments a few Float64Array slots (~80 ns in all, ~1 % of a UDP
 * query's CPU); the query log (`onQuery`) costs one `undefined` check when off.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { literalLookup } from './literal-lookup.js';
import { QueryCounters } from './query-counters.js';
import { type ClientInfo, DROP, FORWARD, type QueryHandler, type Transport } from './types.js';
import { BATCH, UdpBatchSocket, udpBatchNative } from './udp-batch.js';
import { MIN_UDP_SIZE, Rcode } from './wire/constants.js';
import { newQuery, ParseStatus, parseQuery, type Query } from './wire/query.js';
import { ResponseWriter } from './wire/writer.js';

/** Called exactly once per forwarded request: the reply (ownership passes to the server), or null for none. */
export type ForwardDone = (reply: Buffer | null, length: number) => void;

/**
 * The seam for the forwarder (issue 4). `forward` receives a request the handler returned FORWARD
 * for. `req` and `client` are reused by the server after `forward` returns: copy what you need.
 * `limit` is the size the reply must fit (512 or the client's EDNS size on UDP, 65535 on TCP).
 * On TCP the connection answers nothing else until `done` is called (replies stay in order).
 */
export interface Forwarder {
  forward(req: Buffer, len: number, client: Readonly<ClientInfo>, limit: number, done: ForwardDone): void;
  /**
   * Completes our reply `reply[0, replyLen)` whose CNAME chain ends at the out-of-zone `target`
   * (src/dns/forward's `Forwarder.completeExternal`): returns false when there is nothing to do
   * (the server sends its reply), else true and calls `done` once with the reply to send (maybe
   * before returning). Copies what it needs.
   */
  completeExternal?(
    req: Buffer,
    reqLen: number,
    reply: Buffer,
    replyLen: number,
    target: string,
    transport: Transport,
    done: (reply: Buffer) => void,
  ): boolean;
}

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

/**
 * The response cache as the server uses it (src/dns/cache.ts `ResponseCache`): a request the
 * handler returned FORWARD for is answered from it, written into the writer's buffer, before the
 * forwarder is asked. Returns the reply length, or 0 on a miss.
 */
export interface ReplyCache {
  serve(req: Buffer, len: number, transport: Transport, out: Buffer): number;
}

/** The subset of a pino logger the server uses. */
export interface ServerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DnsServerOptions {
  handler: QueryHandler;
  /** IP literal to bind (IPv4 or IPv6). */
  host: string;
  /** Port; 0 picks one free for both UDP and TCP (tests). */
  port: number;
  forwarder?: Forwarder;
  /** TCP idle timeout (no bytes either way), ms. Default 2000 (the seed's -read_timeout). */
  tcpIdleTimeoutMs?: number;
  /** Concurrent TCP connections; more are closed at once. Default 1000. */
  maxTcpConnections?: number;
  /** Unsent reply bytes per TCP connection above which reading from it pauses. Default 256 KiB. */
  maxTcpBufferedBytes?: number;
  /** UDP writers that may wait on the kernel at once before requests are dropped. Default 8. */
  maxUdpWriters?: number;
  /** SO_RCVBUF for the UDP socket (best effort). Default 4 MiB. */
  udpReceiveBufferSize?: number;
  logger?: ServerLogger;
  /** Called for every reply sent (the query log); leave unset when not logging. */
  onQuery?: QueryObserver;
  /** The response cache (`-rcache`) for forwarded names; its entries come from the forwarder. */
  cache?: ReplyCache;
  /**
   * Batched UDP (recvmmsg/sendmmsg, udp-batch.ts). Default: on when the addon is built (Linux);
   * false: node:dgram. `true` without the addon makes `listen()` reject.
   */
  udpBatch?: boolean;
  /** SO_REUSEPORT on the batched UDP socket: each of several processes (-workers) binds the port. */
  udpReusePort?: boolean;
}

/** Counters, plain numbers, for the metrics issue and tests. */
export interface DnsServerStats {
  udpQueries: number;
  tcpQueries: number;
  udpResponses: number;
  tcpResponses: number;
  /** Requests answered with nothing (unreadable header, a response, handler DROP, forwarder none). */
  dropped: number;
  /** Responses by rcode (the header's 4 bits). */
  noerror: number;
  formerr: number;
  servfail: number;
  nxdomain: number;
  notimp: number;
  refused: number;
  otherRcode: number;
  /** Responses with TC set. */
  truncated: number;
  /** Requests the handler returned FORWARD for. */
  forwarded: number;
  /** Handler exceptions (answered SERVFAIL). */
  handlerErrors: number;
  /** UDP requests dropped because every writer was waiting on the kernel (dgram), or replies the kernel's send buffer had no room for (batched). */
  udpBusyDrops: number;
  udpSendErrors: number;
  udpSocketErrors: number;
  tcpConnections: number;
  /** Connections closed at accept because of the cap. */
  tcpRejected: number;
  tcpIdleTimeouts: number;
  tcpErrors: number;
  /** Zero-length frames (skipped). */
  tcpEmptyFrames: number;
  /** Times a connection stopped reading because its unsent replies exceeded the cap. */
  tcpBackpressure: number;
  /** Connections closed with a partial frame. */
  tcpPartialFrames: number;
}

const MAX_FRAME = 65535;
/** UDP size advertised in the OPT of replies the server writes itself (REFUSED, SERVFAIL). */
const ADVERTISED_UDP = 1232;

function newStats(): DnsServerStats {
  return {
    udpQueries: 0,
    tcpQueries: 0,
    udpResponses: 0,
    tcpResponses: 0,
    dropped: 0,
    noerror: 0,
    formerr: 0,
    servfail: 0,
    nxdomain: 0,
    notimp: 0,
    refused: 0,
    otherRcode: 0,
    truncated: 0,
    forwarded: 0,
    handlerErrors: 0,
    udpBusyDrops: 0,
    udpSendErrors: 0,
    udpSocketErrors: 0,
    tcpConnections: 0,
    tcpRejected: 0,
    tcpIdleTimeouts: 0,
    tcpErrors: 0,
    tcpEmptyFrames: 0,
    tcpBackpressure: 0,
    tcpPartialFrames: 0,
  };
}

const NOOP_LOGGER: ServerLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Logs at most one line per `intervalMs` per kind, with how many were suppressed. */
class RateLimitedLog {
  private last = 0;
  private suppressed = 0;
  constructor(
    private readonly log: ServerLogger,
    private readonly intervalMs = 1000,
  ) {}
  warn(obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.last = now;
    if (this.suppressed > 0) obj.suppressed = this.suppressed;
    this.suppressed = 0;
    this.log.warn(obj, msg);
  }
}

/** Replies up to this long are sent through a cached view of the writer's buffer (no slice per send). */
const MAX_VIEW = 512;
/** One UDP send in this many passes a callback (so send errors are seen and counted); see udpSend. */
const SEND_CHECK_EVERY = 256;

class UdpWriter {
  readonly w = new ResponseWriter();
  /** The writer's buffer is still referenced by a send the kernel has not taken yet. */
  busy = false;
  /** Busy with a send without a callback, until the socket's send queue is empty. */
  queued = false;
  /** `w.buf.subarray(0, n)` by n ≤ MAX_VIEW, made on first use (w.buf never changes). */
  private readonly views: (Buffer | undefined)[] = [];
  readonly done: (err: Error | null) => void;
  constructor(onError: (err: Error) => void) {
    this.done = (err) => {
      this.busy = false;
      if (err) onError(err);
    };
  }
  /** The reply `w.buf[0, n)` as a Buffer of its own (cached for n ≤ MAX_VIEW). */
  view(n: number): Buffer {
    if (n > MAX_VIEW) return this.w.buf.subarray(0, n);
    let v = this.views[n];
    if (v === undefined) {
      v = this.w.buf.subarray(0, n);
      this.views[n] = v;
    }
    return v;
  }
}

class TcpConn {
  readonly client: ClientInfo;
  /** First octet of a length prefix read alone, or -1. */
  hdr = -1;
  /** The frame being assembled across reads (length `need`), filled up to `have`. */
  frame: Buffer | null = null;
  need = 0;
  have = 0;
  /** Bytes read but not processed while blocked. */
  stash: Buffer | null = null;
  /** Waiting for the forwarder's reply to the previous request. */
  forwarding = false;
  /** Reading paused until the unsent replies drain. */
  draining = false;
  /** The client half-closed: end our side once everything is answered. */
  readEnded = false;
  closed = false;
  constructor(
    readonly socket: net.Socket,
    family: 4 | 6,
  ) {
    this.client = {
      address: socket.remoteAddress ?? '',
      port: socket.remotePort ?? 0,
      family,
      transport: 'tcp',
    };
  }
  get blocked(): boolean {
    return this.forwarding || this.draining;
  }
}

export class DnsServer {
  private readonly st: DnsServerStats = newStats();
  /** Requests by transport and qtype, responses by rcode, the duration histogram (for metrics). */
  readonly counters = new QueryCounters();
  readonly host: string;
  private requestedPort: number;
  private boundPort = 0;
  private readonly handler: QueryHandler;
  private readonly forwarder: Forwarder | undefined;
  /** The forwarder, when it can complete out-of-zone CNAME targets. */
  private readonly completer: Forwarder | undefined;
  private readonly onQuery: QueryObserver | undefined;
  private readonly cache: ReplyCache | undefined;
  private readonly log: ServerLogger;
  private readonly noisy: RateLimitedLog;
  private readonly idleMs: number;
  private readonly maxConns: number;
  private readonly maxBuffered: number;
  private readonly maxUdpWriters: number;
  private readonly udpRcvBuf: number;
  private readonly family: 4 | 6;

  private udp: dgram.Socket | undefined;
  private batch: UdpBatchSocket | undefined;
  private readonly useBatch: boolean;
  private readonly reusePort: boolean;
  /** The batched socket's reply writers, one per slot (made at listen). */
  private batchWriters: ResponseWriter[] = [];
  private readonly onUdpBatch = (n: number): void => this.udpBatch(n);
  private tcp: net.Server | undefined;
  private readonly conns = new Set<TcpConn>();
  private state: 'new' | 'listening' | 'closing' | 'closed' = 'new';

  // UDP path: reused objects
  private readonly udpClient: ClientInfo;
  private readonly udpWriters: UdpWriter[] = [];
  private udpCurrent: UdpWriter;
  /** Some writer is busy with a queued send without a callback (udpSend). */
  private udpQueued = false;
  private udpSends = 0;
  private readonly onUdpMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => this.udpMessage(msg, rinfo);
  private readonly onUdpSendError = (err: Error): void => {
    this.st.udpSendErrors++;
    this.noisy.warn({ err: err.message }, 'dns: udp send failed');
  };

  // TCP path: frames are processed synchronously, one at a time, so these are shared
  private readonly tcpReq: Buffer = Buffer.allocUnsafe(MAX_FRAME);
  private readonly tcpW = new ResponseWriter();
  /** For the replies the server writes itself (REFUSED, SERVFAIL). */
  private readonly q: Query = newQuery();

  constructor(opts: DnsServerOptions) {
    this.handler = opts.handler;
    this.forwarder = opts.forwarder;
    this.completer = opts.forwarder?.completeExternal ? opts.forwarder : undefined;
    this.onQuery = opts.onQuery;
    this.cache = opts.cache;
    this.host = opts.host;
    this.requestedPort = opts.port;
    this.family = net.isIPv6(opts.host) ? 6 : 4;
    if (!net.isIP(opts.host))
      throw new TypeError(`DnsServer: host must be an IP address, got "${opts.host}"`);
    this.log = opts.logger ?? NOOP_LOGGER;
    this.noisy = new RateLimitedLog(this.log);
    this.idleMs = Math.max(1, opts.tcpIdleTimeoutMs ?? 2000);
    this.maxConns = Math.max(1, opts.maxTcpConnections ?? 1000);
    this.maxBuffered = Math.max(MAX_FRAME + 2, opts.maxTcpBufferedBytes ?? 256 * 1024);
    this.maxUdpWriters = Math.max(1, opts.maxUdpWriters ?? 8);
    this.udpRcvBuf = opts.udpReceiveBufferSize ?? 4 * 1024 * 1024;
    this.useBatch = opts.udpBatch ?? udpBatchNative() !== null;
    this.reusePort = opts.udpReusePort ?? false;
    this.udpClient = { address: '', port: 0, family: this.family, transport: 'udp' };
    this.udpCurrent = new UdpWriter(this.onUdpSendError);
    this.udpWriters.push(this.udpCurrent);
  }

  /** Counters (read at scrape time); the batched socket's own are folded in here. */
  get stats(): DnsServerStats {
    const st = this.st;
    if (this.batch !== undefined) {
      const c = this.batch.counters;
      st.udpSocketErrors = c[0];
      st.udpSendErrors = c[1];
      st.udpBusyDrops = c[2];
    }
    return st;
  }

  /** The batched socket's batches so far (0 on node:dgram). */
  get udpBatches(): number {
    return this.batch?.counters[3] ?? 0;
  }

  /** The bound port (UDP and TCP), once listening. */
  get port(): number {
    return this.boundPort;
  }

  /** Open TCP connections. */
  get tcpOpen(): number {
    return this.conns.size;
  }

  get listening(): boolean {
    return this.state === 'listening';
  }

  /** 'batch' (recvmmsg/sendmmsg) or 'dgram': how UDP is received and sent. */
  get udpMode(): 'batch' | 'dgram' {
    return this.useBatch ? 'batch' : 'dgram';
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  /** Binds UDP and TCP on host:port. Rejects (and holds nothing) if either cannot be bound. */
  async listen(): Promise<void> {
    if (this.state !== 'new') throw new Error(`DnsServer.listen(): server is ${this.state}`);
    this.state = 'listening';
    const attempts = this.requestedPort === 0 ? 20 : 1;
    let lastErr: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        // TCP first: with port 0 it picks the port, UDP then takes the same number
        const tcp = await this.listenTcp(this.requestedPort);
        const port = (tcp.address() as net.AddressInfo).port;
        try {
          if (this.useBatch) this.bindBatch(port);
          else this.udp = await this.bindUdp(port);
        } catch (err) {
          await new Promise<void>((resolve) => tcp.close(() => resolve()));
          throw err;
        }
        this.tcp = tcp;
        this.boundPort = port;
        this.log.info(
          { address: this.host, port, family: this.family, udp: this.udpMode },
          'dns: listening on UDP and TCP',
        );
        return;
      } catch (err) {
        lastErr = err;
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    this.state = 'closed';
    throw lastErr;
  }

  /** Stops listening, closes every connection; forwarded replies still pending are discarded. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'new') {
      this.state = 'closed';
      return;
    }
    if (this.state === 'closing') return;
    this.state = 'closing';
    const waits: Promise<void>[] = [];
    this.batch?.close();
    const udp = this.udp;
    if (udp) {
      waits.push(
        new Promise<void>((resolve) => {
          try {
            udp.close(() => resolve());
          } catch {
            resolve();
          }
        }),
      );
    }
    const tcp = this.tcp;
    if (tcp) waits.push(new Promise<void>((resolve) => tcp.close(() => resolve())));
    for (const c of this.conns) this.closeConn(c);
    await Promise.all(waits);
    this.state = 'closed';
    this.log.info({ address: this.host, port: this.boundPort }, 'dns: closed');
  }

  /** The batched UDP socket on `port` (synchronous; throws EADDRINUSE etc. as dgram would). */
  private bindBatch(port: number): void {
    if (this.batchWriters.length === 0)
      for (let i = 0; i < BATCH; i++) this.batchWriters.push(new ResponseWriter());
    const b = UdpBatchSocket.bind(
      this.host,
      port,
      this.family,
      this.udpRcvBuf,
      this.reusePort,
      this.batchWriters.map((w) => w.buf),
    );
    b.start(this.onUdpBatch);
    this.batch = b;
  }

  private bindUdp(port: number): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket({ type: this.family === 6 ? 'udp6' : 'udp4', lookup: literalLookup });
      const onError = (err: Error): void => {
        sock.removeListener('listening', onListening);
        try {
          sock.close();
        } catch {
          // never bound
        }
        reject(err);
      };
      const onListening = (): void => {
        sock.removeListener('error', onError);
        sock.on('error', (err) => {
          this.st.udpSocketErrors++;
          this.noisy.warn({ err: err.message }, 'dns: udp socket error');
        });
        try {
          sock.setRecvBufferSize(this.udpRcvBuf);
        } catch {
          // best effort (capped by net.core.rmem_max anyway)
        }
        sock.on('message', this.onUdpMessage);
        resolve(sock);
      };
      sock.once('error', onError);
      sock.once('listening', onListening);
      sock.bind({ address: this.host, port, exclusive: false });
    });
  }

  private listenTcp(port: number): Promise<net.Server> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer({ allowHalfOpen: true }, (s) => this.tcpConnection(s));
      const onError = (err: Error): void => reject(err);
      srv.once('error', onError);
      srv.listen({ host: this.host, port, exclusive: false, backlog: 1024 }, () => {
        srv.removeListener('error', onError);
        srv.on('error', (err) => {
          this.st.tcpErrors++;
          this.noisy.warn({ err: err.message }, 'dns: tcp server error');
        });
        resolve(srv);
      });
    });
  }

  // ---- shared ------------------------------------------------------------------------------------

  /** Runs the handler (SERVFAIL on an exception, REFUSED/forwarder on FORWARD). Returns the reply length or DROP. */
  private answer(req: Buffer, len: number, client: ClientInfo, w: ResponseWriter, limit: number): number {
    let n: number;
    try {
      n = this.handler.handle(req, len, client, w, limit);
    } catch (err) {
      this.st.handlerErrors++;
      this.noisy.warn(
        { err: (err as Error)?.message ?? String(err), client: client.address, transport: client.transport },
        'dns: handler failed; answering SERVFAIL',
      );
      n = this.ownReply(req, len, w, limit, Rcode.SERVFAIL);
    }
    if (n === FORWARD) {
      this.st.forwarded++;
      return FORWARD;
    }
    if (!(n > 0)) {
      this.st.dropped++;
      return DROP;
    }
    return n;
  }

  /** The response cache's reply to a request the handler returned FORWARD for, in `w.buf`; 0 on a miss. */
  private cached(req: Buffer, len: number, transport: Transport, w: ResponseWriter): number {
    if (this.cache === undefined) return 0;
    try {
      return this.cache.serve(req, len, transport, w.buf);
    } catch (err) {
      this.st.handlerErrors++;
      this.noisy.warn({ err: (err as Error)?.message ?? String(err) }, 'dns: response cache failed');
      return 0;
    }
  }

  /** The out-of-zone CNAME target of the handler's last answer, when a forwarder can complete it. */
  private externalTarget(): string {
    if (this.completer === undefined) return '';
    return (this.handler as { externalTarget?: string }).externalTarget ?? '';
  }

  /** Counts a reply about to be sent (its rcode, TC). */
  private count(reply: Buffer, transport: Transport): void {
    const s = this.st;
    if (transport === 'udp') {
      s.udpResponses++;
      this.counters.response(0, reply);
    } else {
      s.tcpResponses++;
      this.counters.response(1, reply);
    }
    if ((reply[2] & 0x02) !== 0) s.truncated++;
    switch (reply[3] & 0x0f) {
      case 0:
        s.noerror++;
        break;
      case 1:
        s.formerr++;
        break;
      case 2:
        s.servfail++;
        break;
      case 3:
        s.nxdomain++;
        break;
      case 4:
        s.notimp++;
        break;
      case 5:
        s.refused++;
        break;
      default:
        s.otherRcode++;
    }
  }

  /** A request answered: its duration into the histogram, and the query log line when on. */
  private finished(client: Readonly<ClientInfo>, reply: Buffer, n: number, t0: number): void {
    const seconds = (performance.now() - t0) / 1000;
    this.counters.observe(seconds);
    if (this.onQuery !== undefined) {
      try {
        this.onQuery(client, reply, n, seconds);
      } catch {
        // a logging failure never costs an answer
      }
    }
  }

  /** A copy of the (reused) ClientInfo, for a reply sent after the request's turn. */
  private static snapshot(client: Readonly<ClientInfo>): ClientInfo {
    return { address: client.address, port: client.port, family: client.family, transport: client.transport };
  }

  /** A reply with just the question (and OPT) and `rcode`, or DROP when the header is unreadable. */
  private ownReply(req: Buffer, len: number, w: ResponseWriter, limit: number, rcode: number): number {
    try {
      const q = this.q;
      if (parseQuery(req, len, q) === ParseStatus.DROP) return DROP;
      w.start(q, rcode, 0);
      if (q.edns) w.addOPT(ADVERTISED_UDP, 0, q.do);
      return w.finish(q.edns && q.udpSize > limit ? Math.min(q.udpSize, ADVERTISED_UDP) : limit);
    } catch {
      return DROP;
    }
  }

  // ---- UDP -------------------------------------------------------------------------------------

  /**
   * One batch from the batched socket: slots [0, n) answered in turn, each reply's length handed
   * back (0: nothing to send now); the batch's replies leave together when this returns.
   */
  private udpBatch(n: number): void {
    const b = this.batch!;
    const s = this.st;
    s.udpQueries += n;
    if (this.state !== 'listening') {
      for (let i = 0; i < n; i++) b.reply(i, 0);
      return;
    }
    const t0 = performance.now();
    const client = this.udpClient;
    for (let i = 0; i < n; i++) {
      const len = b.length(i);
      if (len < 0) {
        // longer than a slot (4096 octets): not a query we answer over UDP
        s.dropped++;
        b.reply(i, 0);
        continue;
      }
      const req = b.request(i);
      this.counters.request(0, req, len);
      client.address = b.address(i);
      client.port = b.sourcePort(i);
      b.reply(i, this.udpAnswer(req, len, client, this.batchWriters[i], t0));
    }
  }

  private udpMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const s = this.st;
    s.udpQueries++;
    if (this.state !== 'listening') return;
    const t0 = performance.now();
    this.counters.request(0, msg, msg.length);
    let uw = this.udpCurrent;
    if (uw.busy && this.udpQueued && this.udp!.getSendQueueCount() === 0) {
      // every send without a callback has been taken by the kernel: their writers are free
      this.udpQueued = false;
      for (const x of this.udpWriters) if (x.queued) x.busy = x.queued = false;
    }
    if (uw.busy) {
      const free = this.freeUdpWriter();
      if (free === undefined) {
        s.udpBusyDrops++;
        return;
      }
      uw = free;
      this.udpCurrent = free;
    }
    const client = this.udpClient;
    client.address = rinfo.address;
    client.port = rinfo.port;
    client.family = (rinfo.family as string | number) === 'IPv6' || (rinfo.family as unknown) === 6 ? 6 : 4;
    const n = this.udpAnswer(msg, msg.length, client, uw.w, t0);
    if (n > 0) this.udpSend(uw, n, rinfo.port, rinfo.address);
  }

  /**
   * Answers a UDP request into `w`: the reply length to send now (counted and observed), or 0
   * when there is nothing to send now (dropped, or the forwarder will send it later).
   */
  private udpAnswer(req: Buffer, len: number, client: ClientInfo, w: ResponseWriter, t0: number): number {
    let n = this.answer(req, len, client, w, MIN_UDP_SIZE);
    if (n === FORWARD) {
      n = this.cached(req, len, 'udp', w);
      if (n === 0 && this.forwarder) {
        this.forwardUdp(req, len, client, t0);
        return 0;
      }
      if (n === 0) n = this.ownReply(req, len, w, MIN_UDP_SIZE, Rcode.REFUSED);
      if (n <= 0) {
        this.st.dropped++;
        return 0;
      }
    }
    if (n <= 0) return 0;
    if (this.completer !== undefined) {
      const target = this.externalTarget();
      if (target !== '' && this.completeUdp(req, len, client, w.buf, n, target, t0)) return 0;
    }
    this.count(w.buf, 'udp');
    // before the send, which is synchronous or batched: w.buf stays as written until then
    this.finished(client, w.buf, n, t0);
    return n;
  }

  /** A reply sent after its request's turn (forwarded, completed): a copy-free single send. */
  private udpSendLater(reply: Buffer, length: number, port: number, address: string): void {
    if (this.batch !== undefined) {
      this.batch.sendTo(reply, length, address, port); // failures counted by the socket
      return;
    }
    try {
      this.udp!.send(reply, 0, length, port, address, (err) => {
        if (err) this.onUdpSendError(err);
      });
    } catch (err) {
      this.onUdpSendError(err as Error);
    }
  }

  /**
   * Sends `uw`'s reply of `n` octets. dgram first tries the send at once (uv_udp_try_send); only
   * when the kernel cannot take it is it queued, holding on to the buffer. With a callback, dgram
   * calls it through process.nextTick even for a send done at once (a tick per reply: ~7 % of a
   * bare responder's CPU here), so most sends pass none and the queue count says whether the
   * buffer is still held: then the writer stays busy until the queue is empty again (checked by
   * the next request). Without a callback dgram reports no send errors, so one send in
   * SEND_CHECK_EVERY passes one: a lasting error (EPERM from a firewall, an unreachable network)
   * is still counted and logged; `udpSendErrors` counts the errors of those sends.
   */
  private udpSend(uw: UdpWriter, n: number, port: number, address: string): void {
    const udp = this.udp!;
    uw.busy = true;
    try {
      if (++this.udpSends % SEND_CHECK_EVERY === 0) {
        udp.send(uw.w.buf, 0, n, port, address, uw.done);
        return;
      }
      udp.send(uw.view(n), port, address);
    } catch (err) {
      uw.busy = false;
      this.onUdpSendError(err as Error);
      return;
    }
    if (udp.getSendQueueCount() > 0) {
      uw.queued = true;
      this.udpQueued = true;
    } else uw.busy = false;
  }

  private freeUdpWriter(): UdpWriter | undefined {
    for (const x of this.udpWriters) if (!x.busy) return x;
    if (this.udpWriters.length >= this.maxUdpWriters) return undefined;
    const x = new UdpWriter(this.onUdpSendError);
    this.udpWriters.push(x);
    return x;
  }

  private forwardUdp(msg: Buffer, len: number, client: ClientInfo, t0: number): void {
    const who = DnsServer.snapshot(client);
    const address = who.address;
    const port = who.port;
    const limit = MIN_UDP_SIZE;
    try {
      this.forwarder!.forward(msg, len, client, limit, (reply, length) => {
        if (reply === null || !(length > 0) || this.state !== 'listening') return;
        this.count(reply, 'udp');
        this.udpSendLater(reply, length, port, address);
        this.finished(who, reply, length, t0);
      });
    } catch (err) {
      this.st.handlerErrors++;
      this.noisy.warn({ err: (err as Error)?.message ?? String(err) }, 'dns: forwarder failed');
    }
  }

  /**
   * Our UDP reply ends in a CNAME out of our zones: let the forwarder append the target's records.
   * True when it took the reply (it is sent from the callback).
   */
  private completeUdp(
    msg: Buffer,
    len: number,
    client: ClientInfo,
    reply: Buffer,
    n: number,
    target: string,
    t0: number,
  ): boolean {
    const who = DnsServer.snapshot(client);
    try {
      return this.completer!.completeExternal!(msg, len, reply, n, target, 'udp', (out) => {
        if (this.state !== 'listening') return;
        this.count(out, 'udp');
        this.udpSendLater(out, out.length, who.port, who.address);
        this.finished(who, out, out.length, t0);
      });
    } catch (err) {
      this.st.handlerErrors++;
      this.noisy.warn({ err: (err as Error)?.message ?? String(err) }, 'dns: forwarder failed');
      return false;
    }
  }

  // ---- TCP -------------------------------------------------------------------------------------

  private tcpConnection(socket: net.Socket): void {
    const s = this.st;
    socket.on('error', (err) => {
      s.tcpErrors++;
      this.log.debug({ err: err.message }, 'dns: tcp connection error');
    });
    if (this.state !== 'listening' || this.conns.size >= this.maxConns) {
      s.tcpRejected++;
      if (this.state === 'listening')
        this.noisy.warn(
          { open: this.conns.size, max: this.maxConns },
          'dns: tcp connection cap reached; closing new connections',
        );
      socket.destroy();
      return;
    }
    s.tcpConnections++;
    const family = socket.remoteFamily === 'IPv6' ? 6 : 4;
    const c = new TcpConn(socket, family);
    this.conns.add(c);
    socket.setNoDelay(true);
    socket.setTimeout(this.idleMs);
    socket.on('timeout', () => {
      s.tcpIdleTimeouts++;
      this.closeConn(c);
    });
    socket.on('data', (chunk: Buffer) => this.tcpData(c, chunk));
    socket.on('end', () => {
      c.readEnded = true;
      if (c.frame !== null || c.hdr !== -1) s.tcpPartialFrames++;
      if (!c.blocked && c.stash === null) this.endConn(c);
    });
    socket.on('drain', () => {
      if (c.draining) {
        c.draining = false;
        this.tcpResume(c);
      }
    });
    socket.on('close', () => {
      c.closed = true;
      this.conns.delete(c);
    });
  }

  private tcpData(c: TcpConn, chunk: Buffer): void {
    if (c.closed) return;
    if (c.blocked) {
      // data already on its way when we paused: keep it for later
      c.stash = c.stash === null ? chunk : Buffer.concat([c.stash, chunk]);
      return;
    }
    this.tcpFeed(c, chunk);
  }

  /** Processes `chunk` frame by frame until it is used up or the connection blocks. */
  private tcpFeed(c: TcpConn, chunk: Buffer): void {
    const socket = c.socket;
    const end = chunk.length;
    let off = 0;
    socket.cork();
    try {
      while (off < end && !c.closed) {
        if (c.blocked) {
          c.stash = chunk.subarray(off);
          return;
        }
        if (c.frame !== null) {
          // continue a partial frame
          const take = Math.min(c.need - c.have, end - off);
          chunk.copy(c.frame, c.have, off, off + take);
          c.have += take;
          off += take;
          if (c.have === c.need) {
            const f = c.frame;
            c.frame = null;
            this.tcpRequest(c, f, c.need);
          }
          continue;
        }
        let flen: number;
        if (c.hdr !== -1) {
          flen = (c.hdr << 8) | chunk[off];
          c.hdr = -1;
          off += 1;
        } else if (end - off >= 2) {
          flen = (chunk[off] << 8) | chunk[off + 1];
          off += 2;
        } else {
          c.hdr = chunk[off];
          off += 1;
          break;
        }
        if (flen === 0) {
          this.st.tcpEmptyFrames++;
          continue;
        }
        if (end - off >= flen) {
          chunk.copy(this.tcpReq, 0, off, off + flen);
          off += flen;
          this.tcpRequest(c, this.tcpReq, flen);
        } else {
          c.frame = Buffer.allocUnsafe(flen);
          c.need = flen;
          c.have = end - off;
          chunk.copy(c.frame, 0, off, end);
          off = end;
        }
      }
    } finally {
      socket.uncork();
    }
  }

  private tcpRequest(c: TcpConn, req: Buffer, len: number): void {
    this.st.tcpQueries++;
    const t0 = performance.now();
    this.counters.request(1, req, len);
    const w = this.tcpW;
    let n = this.answer(req, len, c.client, w, MAX_FRAME);
    if (n === FORWARD) {
      n = this.cached(req, len, 'tcp', w);
      if (n === 0 && this.forwarder) {
        this.forwardTcp(c, req, len, t0);
        return;
      }
      if (n === 0) n = this.ownReply(req, len, w, MAX_FRAME, Rcode.REFUSED);
      if (n <= 0) {
        this.st.dropped++;
        return;
      }
    }
    if (n <= 0) return;
    if (this.completer !== undefined) {
      const target = this.externalTarget();
      if (target !== '' && this.completeTcp(c, req, len, w.buf, n, target, t0)) return;
    }
    this.count(w.buf, 'tcp');
    this.tcpSend(c, w.buf, n);
    this.finished(c.client, w.buf, n, t0);
  }

  /**
   * completeUdp for TCP: the connection answers nothing else until the completed reply is sent
   * (replies stay in order), as while forwarding.
   */
  private completeTcp(
    c: TcpConn,
    req: Buffer,
    len: number,
    reply: Buffer,
    n: number,
    target: string,
    t0: number,
  ): boolean {
    let inCall = true;
    let called = false;
    const done = (out: Buffer): void => {
      if (called) return;
      called = true;
      c.forwarding = false;
      if (c.closed || this.state !== 'listening') return;
      if (out.length <= MAX_FRAME) {
        this.count(out, 'tcp');
        this.tcpSend(c, out, out.length);
        this.finished(c.client, out, out.length, t0);
      } else this.st.dropped++;
      if (inCall) return; // answered at once: the caller's frame loop goes on
      c.socket.setTimeout(this.idleMs);
      this.tcpResume(c);
    };
    c.forwarding = true;
    let taken = false;
    try {
      taken = this.completer!.completeExternal!(req, len, reply, n, target, 'tcp', done);
    } catch (err) {
      this.st.handlerErrors++;
      this.noisy.warn({ err: (err as Error)?.message ?? String(err) }, 'dns: forwarder failed');
    }
    inCall = false;
    if (!taken) {
      c.forwarding = false;
      return false;
    }
    if (!called) {
      c.socket.pause();
      // the forwarder has its own deadline: the idle timer waits for it
      c.socket.setTimeout(0);
    }
    return true;
  }

  private tcpSend(c: TcpConn, reply: Buffer, n: number): void {
    if (c.closed) return;
    const out = Buffer.allocUnsafe(n + 2);
    out[0] = n >> 8;
    out[1] = n & 0xff;
    reply.copy(out, 2, 0, n);
    c.socket.write(out);
    if (c.socket.writableLength > this.maxBuffered && !c.draining) {
      this.st.tcpBackpressure++;
      c.draining = true;
      c.socket.pause();
    }
  }

  private forwardTcp(c: TcpConn, req: Buffer, len: number, t0: number): void {
    c.forwarding = true;
    c.socket.pause();
    // the forwarder has its own deadline: the idle timer waits for it
    c.socket.setTimeout(0);
    let called = false;
    const done: ForwardDone = (reply, length) => {
      if (called) return;
      called = true;
      c.forwarding = false;
      if (c.closed || this.state !== 'listening') return;
      c.socket.setTimeout(this.idleMs);
      if (reply !== null && length > 0 && length <= MAX_FRAME) {
        this.count(reply, 'tcp');
        this.tcpSend(c, reply, length);
        this.finished(c.client, reply, length, t0);
      } else this.st.dropped++;
      this.tcpResume(c);
    };
    try {
      this.forwarder!.forward(req, len, c.client, MAX_FRAME, done);
    } catch (err) {
      this.st.handlerErrors++;
      this.noisy.warn({ err: (err as Error)?.message ?? String(err) }, 'dns: forwarder failed');
      done(null, 0);
    }
  }

  /** After a block ends: the stashed bytes first, then the socket again (or our FIN). */
  private tcpResume(c: TcpConn): void {
    if (c.closed || c.blocked) return;
    if (c.stash !== null) {
      const st = c.stash;
      c.stash = null;
      this.tcpFeed(c, st);
      if (c.blocked || c.closed) return;
    }
    if (c.readEnded) this.endConn(c);
    else c.socket.resume();
  }

  private endConn(c: TcpConn): void {
    if (c.closed) return;
    c.socket.end();
  }

  private closeConn(c: TcpConn): void {
    if (c.closed) return;
    c.closed = true;
    this.conns.delete(c);
    c.socket.destroy();
  }
}
