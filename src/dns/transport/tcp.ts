/**
 * DNS over TCP (RFC 7766): 2-byte length framing across partial reads and coalesced frames;
 * pipelined queries answered in order (a connection waiting for a late reply answers nothing
 * else until it is sent); an idle timeout; a cap on concurrent connections (more are closed at
 * once); per connection at most one partial frame is buffered on input, and reading pauses while
 * the unsent replies exceed a cap (so a client that sends and never reads cannot grow our memory).
 */
import net from 'node:net';
import type { Logger } from '../../common/logger.js';
import type { NoisyLog } from '../noisy-log.js';
import type { QueryPipeline } from '../pipeline/pipeline.js';
import type { DnsServerStats } from '../server-stats.js';
import { type ClientInfo, type LateReplies, PENDING, type ReplyStream } from '../types.js';
import { MAX_MESSAGE } from '../wire/constants.js';
import { ResponseWriter } from '../wire/writer.js';

export interface TcpOptions {
  /** Idle timeout (no bytes either way), ms. */
  idleMs: number;
  /** Concurrent connections; more are closed at once. */
  maxConns: number;
  /** Unsent reply bytes per connection above which reading from it pauses. */
  maxBuffered: number;
}

class TcpConn implements LateReplies, ReplyStream {
  readonly client: ClientInfo;
  /** First octet of a length prefix read alone, or -1. */
  hdr = -1;
  /** The frame being assembled across reads (length `need`), filled up to `have`. */
  frame: Buffer | null = null;
  need = 0;
  have = 0;
  /** Bytes read but not processed while blocked. */
  stash: Buffer | null = null;
  /** Waiting for the late reply to the previous request. */
  waiting = false;
  /** Reading paused until the unsent replies drain. */
  draining = false;
  /** The client half-closed: end our side once everything is answered. */
  readEnded = false;
  closed = false;

  constructor(
    private readonly tcp: Tcp,
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
    return this.waiting || this.draining;
  }

  later(_client: Readonly<ClientInfo>, reply: Buffer | null, length: number): boolean {
    return this.tcp.late(this, reply, length);
  }

  get stream(): ReplyStream {
    return this;
  }

  send(msg: Buffer, length: number): boolean {
    if (this.closed) return false;
    this.tcp.streamed(this, msg, length);
    return true;
  }

  drained(): Promise<void> {
    if (this.closed || !this.draining) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }
}

export class Tcp {
  private server: net.Server | undefined;
  private open = false;
  private readonly conns = new Set<TcpConn>();
  /** Frames are processed synchronously, one at a time, so these are shared. */
  private readonly req: Buffer = Buffer.allocUnsafe(MAX_MESSAGE);
  private readonly w = new ResponseWriter();

  constructor(
    private readonly pipeline: QueryPipeline,
    private readonly stats: DnsServerStats,
    private readonly log: Logger,
    private readonly noisy: NoisyLog,
    private readonly host: string,
    private readonly opts: TcpOptions,
  ) {}

  /** Open connections. */
  get openConnections(): number {
    return this.conns.size;
  }

  /** Listens on `port` (0: the kernel picks one); resolves with the bound port. */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const srv = net.createServer({ allowHalfOpen: true }, (s) => this.connection(s));
      const onError = (err: Error): void => reject(err);
      srv.once('error', onError);
      srv.listen({ host: this.host, port, exclusive: false, backlog: 1024 }, () => {
        srv.removeListener('error', onError);
        srv.on('error', (err) => {
          this.stats.tcpErrors++;
          this.noisy.warn({ err: err.message }, 'dns: tcp server error');
        });
        this.server = srv;
        this.open = true;
        resolve((srv.address() as net.AddressInfo).port);
      });
    });
  }

  /** Stops listening and closes every connection; late replies still due are discarded. */
  close(): Promise<void> {
    this.open = false;
    const srv = this.server;
    for (const c of this.conns) this.closeConn(c);
    if (srv === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => srv.close(() => resolve()));
  }

  /** @internal a late reply for `c` (TcpConn.later). */
  late(c: TcpConn, reply: Buffer | null, length: number): boolean {
    c.waiting = false;
    if (c.closed || !this.open) return false;
    c.socket.setTimeout(this.opts.idleMs);
    let sent = false;
    if (reply !== null && length > 0) {
      this.send(c, reply, length);
      sent = true;
    }
    this.resume(c);
    return sent;
  }

  private connection(socket: net.Socket): void {
    const s = this.stats;
    socket.on('error', (err) => {
      s.tcpErrors++;
      this.log.debug({ err: err.message }, 'dns: tcp connection error');
    });
    if (!this.open || this.conns.size >= this.opts.maxConns) {
      s.tcpRejected++;
      if (this.open)
        this.noisy.warn(
          { open: this.conns.size, max: this.opts.maxConns },
          'dns: tcp connection cap reached; closing new connections',
        );
      socket.destroy();
      return;
    }
    s.tcpConnections++;
    const c = new TcpConn(this, socket, socket.remoteFamily === 'IPv6' ? 6 : 4);
    this.conns.add(c);
    socket.setNoDelay(true);
    socket.setTimeout(this.opts.idleMs);
    socket.on('timeout', () => {
      s.tcpIdleTimeouts++;
      this.closeConn(c);
    });
    socket.on('data', (chunk: Buffer) => this.data(c, chunk));
    socket.on('end', () => {
      c.readEnded = true;
      if (c.frame !== null || c.hdr !== -1) s.tcpPartialFrames++;
      if (!c.blocked && c.stash === null) this.endConn(c);
    });
    socket.on('drain', () => {
      if (c.draining) {
        c.draining = false;
        this.resume(c);
      }
    });
    socket.on('close', () => {
      c.closed = true;
      this.conns.delete(c);
    });
  }

  private data(c: TcpConn, chunk: Buffer): void {
    if (c.closed) return;
    if (c.blocked) {
      // data already on its way when we paused: keep it for later
      c.stash = c.stash === null ? chunk : Buffer.concat([c.stash, chunk]);
      return;
    }
    this.feed(c, chunk);
  }

  /** Processes `chunk` frame by frame until it is used up or the connection blocks. */
  private feed(c: TcpConn, chunk: Buffer): void {
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
            this.request(c, f, c.need);
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
          this.stats.tcpEmptyFrames++;
          continue;
        }
        if (end - off >= flen) {
          chunk.copy(this.req, 0, off, off + flen);
          off += flen;
          this.request(c, this.req, flen);
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

  private request(c: TcpConn, req: Buffer, len: number): void {
    const n = this.pipeline.run(req, len, c.client, this.w, performance.now(), c);
    if (n > 0) this.send(c, this.w.buf, n);
    else if (n === PENDING) {
      // nothing else is answered on this connection until the late reply is sent (in order);
      // the forwarder has its own deadline, so the idle timer waits for it
      c.waiting = true;
      c.socket.pause();
      c.socket.setTimeout(0);
    }
  }

  /**
   * @internal one of several replies to a request (TcpConn.stream): the idle timeout runs again,
   * so a client that stops reading is closed and the stream ends.
   */
  streamed(c: TcpConn, reply: Buffer, n: number): void {
    c.socket.setTimeout(this.opts.idleMs);
    this.send(c, reply, n);
  }

  private send(c: TcpConn, reply: Buffer, n: number): void {
    if (c.closed) return;
    const out = Buffer.allocUnsafe(n + 2);
    out[0] = n >> 8;
    out[1] = n & 0xff;
    reply.copy(out, 2, 0, n);
    c.socket.write(out);
    if (c.socket.writableLength > this.opts.maxBuffered && !c.draining) {
      this.stats.tcpBackpressure++;
      c.draining = true;
      c.socket.pause();
    }
  }

  /** After a block ends: the stashed bytes first, then the socket again (or our FIN). */
  private resume(c: TcpConn): void {
    if (c.closed || c.blocked) return;
    if (c.stash !== null) {
      const st = c.stash;
      c.stash = null;
      this.feed(c, st);
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
