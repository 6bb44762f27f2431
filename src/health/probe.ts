/**
 * Probes: TCP connect and ICMP echo through the system `ping` (iputils). Each resolves to
 * true/false and never rejects; each is bounded by its timeout.
 *
 * The probe contract (issue 13): `runProbe(ip, handler, ctx)` resolves to a `ProbeResult`
 * (never rejects), within `ctx.timeoutMs` plus a small margin.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import type { ProbeHandler } from '../records/probe.js';

/**
 * What a failed (or passed) check says, for `hades_scanner_status_changes_total{reason}` and
 * people: `ok`, `http_status`, `body`, `connect`, `timeout`, `tls`, `grpc`, `icmp`, `error`.
 */
export type ReasonClass =
  | 'ok'
  | 'http_status'
  | 'body'
  | 'connect'
  | 'timeout'
  | 'tls'
  | 'grpc'
  | 'icmp'
  | 'error';

export interface ProbeResult {
  readonly ok: boolean;
  /** Short and stable: `HTTP 200`, `HTTP 503`, `body does not contain "ok"`, `connect ECONNREFUSED`,
   * `timeout after 1s`, `TLS: <cause>`, `gRPC SERVING`, `gRPC NOT_SERVING`, `echo reply`, `no echo reply`. */
  readonly reason: string;
  readonly class: ReasonClass;
}

export interface ProbeContext {
  readonly timeoutMs: number;
  /** Extra CAs for HTTPS verification (the scanner's `probe-ca-file`); system CAs otherwise. */
  readonly ca?: string | Buffer;
  readonly pingCount: number;
  readonly pingBinary?: string;
  /** HTTP(S): reuse a kept-alive connection per address and port (default: a new one per check, as the kubelet). */
  readonly keepAlive?: boolean;
}

/** Runs one check of `ip` with `handler`. Never rejects. */
export type RunProbe = (ip: string, handler: ProbeHandler, ctx: ProbeContext) => Promise<ProbeResult>;

/** True when a TCP connection to ip:port is established within `timeoutMs` (then closed at once). */
export function tcpProbe(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: ip, port });
    let done = false;
    const finish = (ok: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.once('connect', () => finish(true));
    sock.once('error', () => finish(false));
  });
}

export interface PingOptions {
  count: number;
  /** Time to wait for a reply, ms (ping -W, rounded up to whole seconds... or fractions where supported). */
  timeoutMs: number;
  /** The ping binary (default `ping`). */
  binary?: string;
}

/** `ping -n -q -c <count> -i 0.2 -W <timeout s> <ip>`: true when at least one reply came (exit 0). */
export function icmpProbe(ip: string, opts: PingOptions): Promise<boolean> {
  const w = Math.max(0.001, opts.timeoutMs / 1000);
  const args = ['-n', '-q', '-c', String(opts.count), '-i', '0.2', '-W', String(w), ip];
  const hardLimit = opts.count * 200 + opts.timeoutMs + 2000;
  return new Promise((resolve) => {
    execFile(opts.binary ?? 'ping', args, { timeout: hardLimit, killSignal: 'SIGKILL' }, (err) => {
      resolve(err === null);
    });
  });
}

/** A counting semaphore: at most `max` holders at once, FIFO. */
export class Limiter {
  #free: number;
  #waiting: (() => void)[] = [];
  constructor(max: number) {
    this.#free = max;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** tcpProbe with a reason (placeholder until the probes branch). */
export async function tcpCheck(ip: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return (await tcpProbe(ip, port, timeoutMs))
    ? { ok: true, reason: 'connected', class: 'ok' }
    : { ok: false, reason: 'connect failed', class: 'connect' };
}

/** icmpProbe with a reason (placeholder until the probes branch). */
export async function icmpCheck(ip: string, opts: PingOptions): Promise<ProbeResult> {
  return (await icmpProbe(ip, opts))
    ? { ok: true, reason: 'echo reply', class: 'ok' }
    : { ok: false, reason: 'no echo reply', class: 'icmp' };
}
