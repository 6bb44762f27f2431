/**
 * The DNS server: UDP and TCP on one address, each request through the query pipeline
 * (pipeline/pipeline.ts). It owns the lifecycle (listen, close) and the counters; the
 * transports (transport/) move bytes: batched UDP (the default where the addon is built:
 * udp-batch.ts, native/README.md), node:dgram UDP (`udpBatch: false`, or no addon), and TCP.
 * Nothing a client sends can throw out of here: pipeline exceptions become SERVFAIL, socket
 * errors are counted and logged.
 *
 * Metrics: `stats` and `counters` (query-counters.ts) are plain numbers read at scrape time. Per
 * query the server reads the clock (performance.now(), ~35 ns here; once per UDP batch and once
 * per reply) and increments a few Float64Array slots; the query log (`onQuery`) costs one
 * `undefined` check when off.
 */
import net from 'node:net';
import { type Logger, NOOP_LOGGER } from '../common/logger.js';
import { NoisyLog } from './noisy-log.js';
import type { Upstreams } from './pipeline/forward.js';
import type { ReplyCache } from './pipeline/from-cache.js';
import { type QueryObserver, QueryPipeline } from './pipeline/pipeline.js';
import { QueryCounters } from './query-counters.js';
import { type DnsServerStats, newServerStats } from './server-stats.js';
import { Tcp } from './transport/tcp.js';
import { BatchedUdp } from './transport/udp-batched.js';
import { DgramUdp } from './transport/udp-dgram.js';
import type { QueryHandler, TransferStage } from './types.js';
import { udpBatchNative } from './udp-batch.js';
import { MAX_MESSAGE } from './wire/constants.js';

export interface DnsServerOptions {
  handler: QueryHandler;
  /** IP literal to bind (IPv4 or IPv6). */
  host: string;
  /** Port; 0 picks one free for both UDP and TCP (tests). */
  port: number;
  /** The EDNS size of the replies the server writes itself, and the UDP cap (the handler's). Default 1232. */
  udpSize?: number;
  /** Names outside our zones, and out-of-zone CNAME targets (src/dns/forward `Forwarder`). */
  forwarder?: Upstreams;
  /** The response cache (`-rcache`) for names outside our zones; its entries come from the forwarder. */
  cache?: ReplyCache;
  /** TCP idle timeout (no bytes either way), ms. Default 2000 (the seed's -read_timeout). */
  tcpIdleTimeoutMs?: number;
  /** Concurrent TCP connections; more are closed at once. Default 1000. */
  maxTcpConnections?: number;
  /** Unsent reply bytes per TCP connection above which reading from it pauses. Default 256 KiB. */
  maxTcpBufferedBytes?: number;
  /** UDP writers that may wait on the kernel at once before requests are dropped (dgram). Default 8. */
  maxUdpWriters?: number;
  /** SO_RCVBUF for the UDP socket (best effort). Default 4 MiB. */
  udpReceiveBufferSize?: number;
  logger?: Logger;
  /** Called for every reply sent (the query log); leave unset when not logging. */
  onQuery?: QueryObserver;
  /** Zone transfers and TSIG (src/dns/transfer `Transfers`); unset: AXFR/IXFR REFUSED. */
  transfers?: TransferStage;
  /**
   * Batched UDP (recvmmsg/sendmmsg, udp-batch.ts). Default: on when the addon is built (Linux);
   * false: node:dgram. `true` without the addon makes `listen()` reject.
   */
  udpBatch?: boolean;
  /** SO_REUSEPORT on the batched UDP socket: each of several processes (-workers) binds the port. */
  udpReusePort?: boolean;
}

export type { DnsServerStats } from './server-stats.js';

export class DnsServer {
  private readonly st: DnsServerStats = newServerStats();
  /** Requests by transport and qtype, responses by rcode, the duration histogram (for metrics). */
  readonly counters = new QueryCounters();
  readonly host: string;
  private readonly requestedPort: number;
  private boundPort = 0;
  private readonly family: 4 | 6;
  private readonly log: Logger;
  private readonly tcp: Tcp;
  private readonly batched: BatchedUdp | undefined;
  private readonly dgram: DgramUdp | undefined;
  private state: 'new' | 'listening' | 'closing' | 'closed' = 'new';

  constructor(opts: DnsServerOptions) {
    if (!net.isIP(opts.host))
      throw new TypeError(`DnsServer: host must be an IP address, got "${opts.host}"`);
    this.host = opts.host;
    this.requestedPort = opts.port;
    this.family = net.isIPv6(opts.host) ? 6 : 4;
    this.log = opts.logger ?? NOOP_LOGGER;
    const noisy = new NoisyLog(this.log);
    const pipeline = new QueryPipeline(opts, this.st, this.counters, noisy);
    this.tcp = new Tcp(pipeline, this.st, this.log, noisy, this.host, {
      idleMs: Math.max(1, opts.tcpIdleTimeoutMs ?? 2000),
      maxConns: Math.max(1, opts.maxTcpConnections ?? 1000),
      maxBuffered: Math.max(MAX_MESSAGE + 2, opts.maxTcpBufferedBytes ?? 256 * 1024),
    });
    const rcvBuf = opts.udpReceiveBufferSize ?? 4 * 1024 * 1024;
    if (opts.udpBatch ?? udpBatchNative() !== null)
      this.batched = new BatchedUdp(
        pipeline,
        this.st,
        this.host,
        this.family,
        rcvBuf,
        opts.udpReusePort ?? false,
      );
    else
      this.dgram = new DgramUdp(
        pipeline,
        this.st,
        noisy,
        this.host,
        this.family,
        rcvBuf,
        Math.max(1, opts.maxUdpWriters ?? 8),
      );
  }

  /** Counters (read at scrape time); the batched socket's own are folded in here. */
  get stats(): DnsServerStats {
    this.batched?.fold();
    return this.st;
  }

  /** The batched socket's batches so far (0 on node:dgram). */
  get udpBatches(): number {
    return this.batched?.batches ?? 0;
  }

  /** The bound port (UDP and TCP), once listening. */
  get port(): number {
    return this.boundPort;
  }

  /** Open TCP connections. */
  get tcpOpen(): number {
    return this.tcp.openConnections;
  }

  get listening(): boolean {
    return this.state === 'listening';
  }

  /** 'batch' (recvmmsg/sendmmsg) or 'dgram': how UDP is received and sent. */
  get udpMode(): 'batch' | 'dgram' {
    return this.batched !== undefined ? 'batch' : 'dgram';
  }

  /** Binds UDP and TCP on host:port. Rejects (and holds nothing) if either cannot be bound. */
  async listen(): Promise<void> {
    if (this.state !== 'new') throw new Error(`DnsServer.listen(): server is ${this.state}`);
    this.state = 'listening';
    // with port 0, TCP picks the port and UDP takes the same number: retry when it is taken
    const attempts = this.requestedPort === 0 ? 20 : 1;
    let lastErr: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        const port = await this.tcp.listen(this.requestedPort);
        try {
          if (this.batched !== undefined) this.batched.bind(port);
          else await this.dgram!.bind(port);
        } catch (err) {
          await this.tcp.close();
          throw err;
        }
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

  /** Stops listening, closes every connection; replies still pending are discarded. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'new') {
      this.state = 'closed';
      return;
    }
    if (this.state === 'closing') return;
    this.state = 'closing';
    this.batched?.close();
    await Promise.all([this.dgram?.close(), this.tcp.close()]);
    this.state = 'closed';
    this.log.info({ address: this.host, port: this.boundPort }, 'dns: closed');
  }
}
