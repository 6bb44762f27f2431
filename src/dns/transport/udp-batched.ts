/**
 * UDP over the batched socket (../udp-batch.ts, native/README.md): up to 64 datagrams arrive in
 * one recvmmsg into fixed slots, each is answered by the pipeline into its slot's writer, and
 * the batch's replies leave in one sendmmsg. One reused ClientInfo, no per-query objects,
 * promises or syscalls. Replies that come later leave one by one (`later`).
 */
import type { QueryPipeline } from '../pipeline/pipeline.js';
import type { DnsServerStats } from '../server-stats.js';
import type { ClientInfo, LateReplies } from '../types.js';
import { BATCH, UdpBatchSocket } from '../udp-batch.js';
import { ResponseWriter } from '../wire/writer.js';

export class BatchedUdp implements LateReplies {
  private sock: UdpBatchSocket | undefined;
  private open = false;
  /** One reply writer per slot. */
  private readonly writers: ResponseWriter[] = [];
  private readonly client: ClientInfo;
  private readonly onBatch = (n: number): void => this.batch(n);

  constructor(
    private readonly pipeline: QueryPipeline,
    private readonly stats: DnsServerStats,
    private readonly host: string,
    private readonly family: 4 | 6,
    private readonly rcvBuf: number,
    private readonly reusePort: boolean,
  ) {
    this.client = { address: '', port: 0, family, transport: 'udp' };
    for (let i = 0; i < BATCH; i++) this.writers.push(new ResponseWriter());
  }

  /** Binds `port` (synchronous; throws EADDRINUSE etc. as dgram would) and starts receiving. */
  bind(port: number): void {
    const s = UdpBatchSocket.bind(
      this.host,
      port,
      this.family,
      this.rcvBuf,
      this.reusePort,
      this.writers.map((w) => w.buf),
    );
    s.start(this.onBatch);
    this.sock = s;
    this.open = true;
  }

  /** The socket's own counters folded into the server's (read at scrape time). */
  fold(): void {
    const c = this.sock?.counters;
    if (c === undefined) return;
    this.stats.udpSocketErrors = c[0];
    this.stats.udpSendErrors = c[1];
    this.stats.udpBusyDrops = c[2];
  }

  /** Batches received so far. */
  get batches(): number {
    return this.sock?.counters[3] ?? 0;
  }

  close(): void {
    this.open = false;
    this.sock?.close();
  }

  later(client: Readonly<ClientInfo>, reply: Buffer | null, length: number): boolean {
    if (!this.open || reply === null) return false;
    this.sock!.sendTo(reply, length, client.address, client.port); // failures counted by the socket
    return true;
  }

  /** Slots [0, n) answered in turn, each reply's length handed back (0: nothing to send now). */
  private batch(n: number): void {
    const s = this.sock!;
    if (!this.open) {
      for (let i = 0; i < n; i++) s.reply(i, 0);
      return;
    }
    const t0 = performance.now();
    const client = this.client;
    const pipeline = this.pipeline;
    for (let i = 0; i < n; i++) {
      const len = s.length(i);
      if (len < 0) {
        // longer than a slot (4096 octets): not a query we answer over UDP
        this.stats.dropped++;
        s.reply(i, 0);
        continue;
      }
      client.address = s.address(i);
      client.port = s.sourcePort(i);
      const r = pipeline.run(s.request(i), len, client, this.writers[i], t0, this);
      s.reply(i, Math.max(r, 0)); // DROP or PENDING: nothing to send now
    }
  }
}
