/**
 * UDP over node:dgram (`-udp-batch=false`, or the addon missing): one reused ClientInfo and
 * ResponseWriter per socket (node's dgram still allocates the datagram and its rinfo). A send
 * that the kernel could not take at once keeps its writer busy until it completes; the next
 * request then takes another writer from a small pool (grown on demand, bounded; when every
 * writer is busy the request is dropped and counted).
 */
import dgram from 'node:dgram';
import { literalLookup } from '../literal-lookup.js';
import type { NoisyLog } from '../noisy-log.js';
import type { QueryPipeline } from '../pipeline/pipeline.js';
import type { DnsServerStats } from '../server-stats.js';
import type { ClientInfo, LateReplies } from '../types.js';
import { ResponseWriter } from '../wire/writer.js';

/** Replies up to this long are sent through a cached view of the writer's buffer (no slice per send). */
const MAX_VIEW = 512;
/** One send in this many passes a callback (so send errors are seen and counted); see send(). */
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

export class DgramUdp implements LateReplies {
  private sock: dgram.Socket | undefined;
  private open = false;
  private readonly client: ClientInfo;
  private readonly writers: UdpWriter[] = [];
  private current: UdpWriter;
  /** Some writer is busy with a queued send without a callback (send()). */
  private queued = false;
  private sends = 0;
  private readonly onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => this.message(msg, rinfo);
  private readonly onSendError = (err: Error): void => {
    this.stats.udpSendErrors++;
    this.log.warn({ err: err.message }, 'dns: udp send failed');
  };

  constructor(
    private readonly pipeline: QueryPipeline,
    private readonly stats: DnsServerStats,
    private readonly log: NoisyLog,
    private readonly host: string,
    family: 4 | 6,
    private readonly rcvBuf: number,
    private readonly maxWriters: number,
  ) {
    this.client = { address: '', port: 0, family, transport: 'udp' };
    this.current = new UdpWriter(this.onSendError);
    this.writers.push(this.current);
  }

  bind(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket({
        type: this.client.family === 6 ? 'udp6' : 'udp4',
        lookup: literalLookup,
      });
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
          this.stats.udpSocketErrors++;
          this.log.warn({ err: err.message }, 'dns: udp socket error');
        });
        try {
          sock.setRecvBufferSize(this.rcvBuf);
        } catch {
          // best effort (capped by net.core.rmem_max anyway)
        }
        sock.on('message', this.onMessage);
        this.sock = sock;
        this.open = true;
        resolve();
      };
      sock.once('error', onError);
      sock.once('listening', onListening);
      sock.bind({ address: this.host, port, exclusive: false });
    });
  }

  close(): Promise<void> {
    this.open = false;
    const sock = this.sock;
    if (sock === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => {
      try {
        sock.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  later(client: Readonly<ClientInfo>, reply: Buffer | null, length: number): boolean {
    if (!this.open || reply === null) return false;
    try {
      this.sock!.send(reply, 0, length, client.port, client.address, (err) => {
        if (err) this.onSendError(err);
      });
    } catch (err) {
      this.onSendError(err as Error);
    }
    return true;
  }

  private message(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (!this.open) return;
    const t0 = performance.now();
    let uw = this.current;
    if (uw.busy && this.queued && this.sock!.getSendQueueCount() === 0) {
      // every send without a callback has been taken by the kernel: their writers are free
      this.queued = false;
      for (const x of this.writers) if (x.queued) x.busy = x.queued = false;
    }
    if (uw.busy) {
      const free = this.freeWriter();
      if (free === undefined) {
        this.stats.udpBusyDrops++;
        return;
      }
      uw = free;
      this.current = free;
    }
    const client = this.client;
    client.address = rinfo.address;
    client.port = rinfo.port;
    const n = this.pipeline.run(msg, msg.length, client, uw.w, t0, this);
    if (n > 0) this.send(uw, n, rinfo.port, rinfo.address);
  }

  /**
   * Sends `uw`'s reply of `n` octets. dgram first tries the send at once (uv_udp_try_send); only
   * when the kernel cannot take it is it queued, holding on to the buffer. With a callback, dgram
   * calls it through process.nextTick even for a send done at once (a tick per reply: ~7 % of a
   * bare responder's CPU here), so most sends pass none and the queue count says whether the
   * buffer is still held: then the writer stays busy until the queue is empty again (checked by
   * the next request). Without a callback dgram reports no send errors, so one send in
   * SEND_CHECK_EVERY passes one: a lasting error (EPERM from a firewall, an unreachable network)
   * is still counted and logged.
   */
  private send(uw: UdpWriter, n: number, port: number, address: string): void {
    const sock = this.sock!;
    uw.busy = true;
    try {
      if (++this.sends % SEND_CHECK_EVERY === 0) {
        sock.send(uw.w.buf, 0, n, port, address, uw.done);
        return;
      }
      sock.send(uw.view(n), port, address);
    } catch (err) {
      uw.busy = false;
      this.onSendError(err as Error);
      return;
    }
    if (sock.getSendQueueCount() > 0) {
      uw.queued = true;
      this.queued = true;
    } else uw.busy = false;
  }

  private freeWriter(): UdpWriter | undefined {
    for (const x of this.writers) if (!x.busy) return x;
    if (this.writers.length >= this.maxWriters) return undefined;
    const x = new UdpWriter(this.onSendError);
    this.writers.push(x);
    return x;
  }
}
