/**
 * The batched UDP socket (native/udp_batch.c, built into build/udp_batch.node by
 * scripts/build-native.mjs): datagrams are received with recvmmsg into fixed slots and the
 * replies of a batch leave in one sendmmsg, with one JavaScript call per batch instead of
 * node:dgram's per datagram (a Buffer, an rinfo object, an event, two syscalls). See
 * native/README.md for why and what it measured.
 *
 * Lifecycle: `UdpBatchSocket.bind()` (synchronous; throws errors with node's `code`, e.g.
 * EADDRINUSE), then `start(onBatch)`; `close()` once. `onBatch(n)` is called with slots
 * [0, n) filled: `request(i)` is the slot's Buffer (the request is its first `length(i)`
 * octets; -1 when it did not fit the slot), `port(i)`/`address(i)` its source. For each slot
 * the callback must call `reply(i, len)` (0: nothing to send) with the reply written into
 * `out(i)`; the replies go out when the callback returns. `sendTo` is for replies sent later
 * (forwarded answers).
 */
import { createRequire } from 'node:module';
import { constants } from 'node:os';

const { EAGAIN, ENOBUFS } = constants.errno;

interface Native {
  bind(family: number, host: string, port: number, rcvbuf: number, reuseport: boolean): number;
  open(
    fd: number,
    family: number,
    slotSize: number,
    input: Buffer,
    addr: Buffer,
    meta: Int32Array,
    out: Buffer[],
    stats: Float64Array,
    onBatch: (n: number) => void,
  ): object;
  addressText(h: object, slot: number): string;
  sendTo(h: object, buf: Buffer, len: number, host: string, port: number): number;
  localPort(fd: number): number;
  closeFd(fd: number): void;
  close(h: object): void;
}

let native: Native | null | undefined;
let loadError = '';

/** The addon, or null when it is not built or cannot load here (`udpBatchUnavailable()` says why). */
export function udpBatchNative(): Native | null {
  if (native !== undefined) return native;
  if (process.platform !== 'linux') {
    loadError = `not available on ${process.platform}`;
    native = null;
    return native;
  }
  try {
    // dist/src/dns/udp-batch.js → build/udp_batch.node at the package root
    native = createRequire(import.meta.url)('../../../build/udp_batch.node') as Native;
  } catch (err) {
    loadError = (err as Error).message;
    native = null;
  }
  return native;
}

/** Why the addon is not available ('' when it is). */
export function udpBatchUnavailable(): string {
  udpBatchNative();
  return loadError;
}

/** Request slot size: a DNS query over UDP is rarely over 512 octets; longer ones are dropped. */
export const SLOT_SIZE = 4096;
/** Datagrams per batch. */
export const BATCH = 64;
const ADDR_SLOT = 32;

export class UdpBatchSocket {
  private readonly n: Native;
  private fd: number;
  private handle: object | null = null;
  readonly port: number;
  private readonly input: Buffer;
  private readonly addr: Buffer;
  private readonly meta = new Int32Array(2 * BATCH);
  /** Written by the addon: receive errors, send errors, replies dropped (send buffer full), batches. */
  readonly counters = new Float64Array(4);
  private readonly slots: Buffer[] = [];
  private readonly outs: Buffer[];
  /** The source addresses as int32s (sockaddr fields are 4-octet aligned in their 32-octet slots). */
  private readonly addr32: Int32Array;
  /** Last source address text and its address octets (as int32s), so a repeated client costs no string. */
  private lastText = '';
  private readonly lastRaw = new Int32Array(4);

  private constructor(
    n: Native,
    fd: number,
    private readonly family: 4 | 6,
    outs: Buffer[],
  ) {
    this.n = n;
    this.fd = fd;
    this.port = n.localPort(fd);
    this.input = Buffer.allocUnsafeSlow(SLOT_SIZE * BATCH);
    const ab = new ArrayBuffer(ADDR_SLOT * BATCH);
    this.addr = Buffer.from(ab);
    this.addr32 = new Int32Array(ab);
    for (let i = 0; i < BATCH; i++) this.slots.push(this.input.subarray(i * SLOT_SIZE, (i + 1) * SLOT_SIZE));
    this.outs = outs;
  }

  /**
   * Binds a UDP socket on host:port (`reusePort`: SO_REUSEPORT, for -workers processes that each
   * bind the port). `outs` are the BATCH reply buffers (one per slot). Throws like node:dgram.
   */
  static bind(
    host: string,
    port: number,
    family: 4 | 6,
    receiveBufferSize: number,
    reusePort: boolean,
    outs: Buffer[],
  ): UdpBatchSocket {
    const n = udpBatchNative();
    if (n === null) throw new Error(`udp batching unavailable: ${loadError}`);
    if (outs.length !== BATCH)
      throw new RangeError(`UdpBatchSocket: ${BATCH} reply buffers, got ${outs.length}`);
    const fd = n.bind(family, host, port, receiveBufferSize, reusePort);
    try {
      return new UdpBatchSocket(n, fd, family, outs);
    } catch (err) {
      n.closeFd(fd);
      throw err;
    }
  }

  /** Starts receiving: `onBatch(n)` per batch, synchronously answering slots [0, n). */
  start(onBatch: (n: number) => void): void {
    if (this.handle !== null || this.fd < 0)
      throw new Error('UdpBatchSocket.start: already started or closed');
    this.handle = this.n.open(
      this.fd,
      this.family,
      SLOT_SIZE,
      this.input,
      this.addr,
      this.meta,
      this.outs,
      this.counters,
      onBatch,
    );
  }

  request(i: number): Buffer {
    return this.slots[i];
  }

  length(i: number): number {
    return this.meta[2 * i];
  }

  sourcePort(i: number): number {
    return this.meta[2 * i + 1];
  }

  out(i: number): Buffer {
    return this.outs[i];
  }

  /** The reply to slot i is `out(i)[0, len)`; 0: none. */
  reply(i: number, len: number): void {
    this.meta[2 * i] = len;
  }

  /** Slot i's source address as text (as node:dgram's rinfo.address); no new string for a repeated client. */
  address(i: number): string {
    const a = this.addr32;
    const last = this.lastRaw;
    // sockaddr_in: family(2) port(2) addr(4); sockaddr_in6: family(2) port(2) flow(4) addr(16)
    const w = i * (ADDR_SLOT / 4);
    if (this.family === 4) {
      const x = a[w + 1];
      if (x === last[0] && this.lastText !== '') return this.lastText;
      last[0] = x;
    } else {
      const x0 = a[w + 2];
      const x1 = a[w + 3];
      const x2 = a[w + 4];
      const x3 = a[w + 5];
      if (x0 === last[0] && x1 === last[1] && x2 === last[2] && x3 === last[3] && this.lastText !== '')
        return this.lastText;
      last[0] = x0;
      last[1] = x1;
      last[2] = x2;
      last[3] = x3;
    }
    this.lastText = this.n.addressText(this.handle!, i);
    return this.lastText;
  }

  /** Sends `buf[0, len)` to host:port now; false when the kernel would not take it (counted). */
  sendTo(buf: Buffer, len: number, host: string, port: number): boolean {
    if (this.handle === null) return false;
    const rc = this.n.sendTo(this.handle, buf, len, host, port);
    if (rc === 0) return true;
    if (rc === -EAGAIN || rc === -ENOBUFS)
      this.counters[2]++; // no room: as the batch path counts it
    else this.counters[1]++;
    return false;
  }

  close(): void {
    if (this.handle !== null) this.n.close(this.handle);
    else if (this.fd >= 0) this.n.closeFd(this.fd);
    this.handle = null;
    this.fd = -1;
  }
}
