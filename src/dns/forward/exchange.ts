/**
 * Upstream I/O: one try to one upstream. UDP: a fresh socket per try (a fresh kernel-chosen
 * random source port), `connect()`ed to the upstream, so the kernel drops datagrams from any
 * other address or port and an ICMP port-unreachable fails the try at once. TCP: one connection
 * per try, length-prefixed frames. Each try sends a fresh crypto-random ID; an answer is taken
 * only when source address and port, ID and the question (name ASCII case-insensitively, type,
 * class) match. Anything else on a UDP socket is counted (`spoofed`) and ignored: the try keeps
 * waiting. What a try comes to is reported to its handler (the query's tries, or the prober).
 */
import { randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { canonicalHost } from '../../common/host-port.js';
import { literalLookup } from '../literal-lookup.js';
import { RRClass } from '../wire/constants.js';
import { questionMatches } from './packet.js';
import type { Upstream } from './upstream.js';

/** What a try comes to: one of these, once, unless the try is ended first. */
export interface TryHandler<E extends Exchange> {
  /** A reply from the try's upstream with its ID and question (not yet walked). */
  answered(ex: E, msg: Buffer, len: number): void;
  /** The upstream failed the try: timeout, network error, a wrong or cut TCP reply. */
  failed(ex: E, timeout: boolean): void;
  /** Our own socket error (EMFILE, ENOBUFS...): not held against the upstream. */
  localError(ex: E): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * The try in progress, as fields of the object that makes it (one per query or probe, so a try
 * costs no object of its own): what is sent, what an answer must match, the socket and timer.
 */
export abstract class Exchange {
  abstract readonly handler: TryHandler<this>;
  /** The message sent: its question octets at 12; the ID is rewritten per try. */
  query: Buffer = EMPTY;
  qnameLen = 0;
  qtype = 0;
  qclass: number = RRClass.IN;
  /** Whom the try in progress went to. */
  upstream: Upstream | null = null;
  id = 0;
  timer: NodeJS.Timeout | null = null;
  udp: dgram.Socket | null = null;
  tcp: net.Socket | null = null;
  /** A TCP reply's octets so far, until a whole frame is in. */
  tcpIn: Buffer | null = null;
  /** No more tries: late timers and socket events are ignored. */
  finished = false;
  /** The try timer's callback: made once per object, not per try. */
  readonly onTimeout = (): void => {
    this.timer = null;
    if (!this.finished) this.handler.failed(this, true);
  };
}

/** Errors of our own host, not the upstream's: they do not count against its health. */
const LOCAL_ERRORS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

/** 16-bit query IDs from a 1 KiB crypto-random buffer, refilled when used up (no crypto call per try). */
export class RandomIds {
  private readonly rnd = Buffer.alloc(1024);
  private pos = 1024;

  next(): number {
    if (this.pos >= this.rnd.length) {
      randomFillSync(this.rnd);
      this.pos = 0;
    }
    const v = (this.rnd[this.pos] << 8) | this.rnd[this.pos + 1];
    this.pos += 2;
    return v;
  }
}

/** Sends `ex.query` with ID `id` to `u` over UDP or TCP, and arms the try timer (`timeoutMs`). */
export function startTry(ex: Exchange, u: Upstream, tcp: boolean, id: number, timeoutMs: number): void {
  ex.upstream = u;
  ex.id = id;
  ex.query[0] = id >> 8;
  ex.query[1] = id & 0xff;
  // armed first: a send that fails at once ends the try, timer included
  ex.timer = setTimeout(ex.onTimeout, timeoutMs);
  if (tcp) sendTcp(ex, u);
  else sendUdp(ex, u);
}

/** Ends the try in progress: its timer and socket. Idempotent. */
export function endTry(ex: Exchange): void {
  if (ex.timer !== null) {
    clearTimeout(ex.timer);
    ex.timer = null;
  }
  const udp = ex.udp;
  if (udp !== null) {
    ex.udp = null;
    try {
      udp.close();
    } catch {
      // already closed
    }
  }
  const tcp = ex.tcp;
  if (tcp !== null) {
    ex.tcp = null;
    ex.tcpIn = null;
    tcp.destroy();
  }
}

/**
 * Whether a datagram from `address` (as node reports it) comes from the upstream `host`
 * (canonical, as parseHostPort gives it): the same address once canonical, a scope (`%eth0`) on
 * either side aside.
 */
export function sameSource(address: string, host: string): boolean {
  if (address === host) return true;
  const c = canonicalHost(address);
  if (c === undefined) return false;
  return unscoped(c.host) === unscoped(host);
}

function unscoped(h: string): string {
  const pct = h.indexOf('%');
  return pct === -1 ? h : h.slice(0, pct);
}

function sendUdp(ex: Exchange, u: Upstream): void {
  let sock: dgram.Socket;
  try {
    sock = dgram.createSocket({ type: u.family === 6 ? 'udp6' : 'udp4', lookup: literalLookup });
  } catch (err) {
    netError(ex, err);
    return;
  }
  ex.udp = sock;
  sock.on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    if (ex.udp === sock) udpMessage(ex, msg, rinfo);
  });
  sock.on('error', (err: Error) => {
    if (ex.udp === sock) netError(ex, err);
  });
  try {
    // bind to a random port and connect, synchronously (literalLookup); then send
    sock.connect(u.port, u.host);
    sock.send(ex.query);
  } catch (err) {
    if (ex.udp === sock) netError(ex, err);
  }
}

function udpMessage(ex: Exchange, msg: Buffer, rinfo: dgram.RemoteInfo): void {
  const u = ex.upstream!;
  const len = msg.length;
  if (
    rinfo.port !== u.port ||
    !sameSource(rinfo.address, u.host) ||
    len < 12 ||
    ((msg[0] << 8) | msg[1]) !== ex.id ||
    !questionMatches(msg, len, ex.query, ex.qnameLen, ex.qtype, ex.qclass)
  ) {
    u.stats.spoofed++;
    return; // keep waiting for the real answer
  }
  ex.handler.answered(ex, msg, len);
}

function sendTcp(ex: Exchange, u: Upstream): void {
  const n = ex.query.length;
  const frame = Buffer.allocUnsafe(n + 2);
  frame[0] = n >> 8;
  frame[1] = n & 0xff;
  ex.query.copy(frame, 2);
  let sock: net.Socket;
  try {
    sock = net.connect({ host: u.host, port: u.port });
  } catch (err) {
    netError(ex, err);
    return;
  }
  ex.tcp = sock;
  ex.tcpIn = null;
  sock.setNoDelay(true);
  sock.on('error', (err: Error) => {
    if (ex.tcp === sock) netError(ex, err);
  });
  sock.on('close', () => {
    if (ex.tcp === sock && !ex.finished) ex.handler.failed(ex, false); // closed before a whole reply
  });
  sock.on('data', (chunk: Buffer) => {
    if (ex.tcp === sock) tcpData(ex, chunk);
  });
  sock.write(frame);
}

function tcpData(ex: Exchange, chunk: Buffer): void {
  const buf = ex.tcpIn === null ? chunk : Buffer.concat([ex.tcpIn, chunk]);
  if (buf.length < 2) {
    ex.tcpIn = buf;
    return;
  }
  const n = (buf[0] << 8) | buf[1];
  if (buf.length < n + 2) {
    ex.tcpIn = buf;
    return;
  }
  ex.tcpIn = null;
  const msg = buf.subarray(2, n + 2);
  if (
    n < 12 ||
    ((msg[0] << 8) | msg[1]) !== ex.id ||
    !questionMatches(msg, n, ex.query, ex.qnameLen, ex.qtype, ex.qclass)
  ) {
    // one connection per query: a wrong reply here is a broken upstream, not a stray datagram
    ex.upstream!.stats.spoofed++;
    ex.handler.failed(ex, false);
    return;
  }
  ex.handler.answered(ex, msg, n);
}

function netError(ex: Exchange, err: unknown): void {
  if (ex.finished) return;
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  if (LOCAL_ERRORS.has(code)) ex.handler.localError(ex);
  else ex.handler.failed(ex, false);
}
