/**
 * The probe contract and the legacy checks. `RunProbe` (run-probe.ts) runs one check of an address
 * with its probe handler and resolves to a `ProbeResult` (never rejects), within `ctx.timeoutMs`
 * plus a small margin. `tcpCheck` and `icmpCheck` are the `ports` / `enable-icmp` path with a
 * reason.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import type { ProbeHandler } from '../records/probe.js';

/**
 * What a failed (or passed) check says, for `hades_scanner_state_changes_total{reason}` and
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
   * `timeout after 1s`, `TLS: <cause>`, `gRPC SERVING`, `gRPC NOT_SERVING`, `connected`, `echo reply`,
   * `no echo reply`. */
  readonly reason: string;
  readonly class: ReasonClass;
}

export interface ProbeContext {
  readonly timeoutMs: number;
  /** A CA (PEM) trusted for HTTPS besides the ones Node trusts: the scanner's `probe-ca-file`. */
  readonly ca?: string | Buffer;
  readonly pingCount: number;
  readonly pingBinary?: string;
  /** HTTP(S): reuse a kept-alive connection per address and port (default: a new one per check, as the kubelet). */
  readonly keepAlive?: boolean;
}

/** Runs one check of `ip` with `handler`. Never rejects. */
export type RunProbe = (ip: string, handler: ProbeHandler, ctx: ProbeContext) => Promise<ProbeResult>;

/** `timeout after 1s`, `timeout after 0.5s`: the seconds as configured. */
export function timeoutResult(timeoutMs: number): ProbeResult {
  return { ok: false, reason: `timeout after ${timeoutMs / 1000}s`, class: 'timeout' };
}

/** The errno code of a socket error (`ECONNREFUSED`), else its message. */
export function errorCode(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'string' && e.code !== '') return e.code;
  if (typeof e?.message === 'string' && e.message !== '') return e.message;
  return String(err);
}

/** `connect ECONNREFUSED`: a connection that was not established. */
export function connectFailed(err: unknown): ProbeResult {
  return { ok: false, reason: `connect ${errorCode(err)}`, class: 'connect' };
}

const CONNECTED: ProbeResult = { ok: true, reason: 'connected', class: 'ok' };

/** A TCP connection to ip:port established within `timeoutMs` (then closed at once): `connected`. */
export function tcpCheck(ip: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let sock: net.Socket;
    try {
      sock = net.connect({ host: ip, port });
    } catch (err) {
      // a port or address net refuses outright (out of range)
      resolve(connectFailed(err));
      return;
    }
    let done = false;
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish(timeoutResult(timeoutMs)), timeoutMs);
    sock.once('connect', () => finish(CONNECTED));
    // stays attached: an error after destroy must not become an uncaught one
    sock.on('error', (err) => finish(connectFailed(err)));
  });
}

export interface PingOptions {
  count: number;
  /** Time to wait for a reply, ms (ping -W, rounded up to whole seconds... or fractions where supported). */
  timeoutMs: number;
  /** The ping binary (default `ping`). */
  binary?: string;
}

const ECHO_REPLY: ProbeResult = { ok: true, reason: 'echo reply', class: 'ok' };
const NO_ECHO_REPLY: ProbeResult = { ok: false, reason: 'no echo reply', class: 'icmp' };

/**
 * `ping -n -q -c <count> -i 0.2 -W <timeout s> <ip>`: `echo reply` when at least one reply came
 * (exit 0), `no echo reply` when none did (exit 1, or killed at the hard limit); ping failing to
 * run or refusing the address is `ping: <cause>` (class `error`).
 */
export function icmpCheck(ip: string, opts: PingOptions): Promise<ProbeResult> {
  const w = Math.max(0.001, opts.timeoutMs / 1000);
  const args = ['-n', '-q', '-c', String(opts.count), '-i', '0.2', '-W', String(w), ip];
  const hardLimit = opts.count * 200 + opts.timeoutMs + 2000;
  return new Promise((resolve) => {
    execFile(
      opts.binary ?? 'ping',
      args,
      { timeout: hardLimit, killSignal: 'SIGKILL' },
      (err, _stdout, stderr) => {
        if (err === null) return resolve(ECHO_REPLY);
        const code = (err as { code?: unknown }).code;
        if (code === 1 || err.killed) return resolve(NO_ECHO_REPLY);
        const line = String(stderr).trim().split('\n')[0] || errorCode(err);
        resolve({ ok: false, reason: `ping: ${line.slice(0, 100)}`, class: 'error' });
      },
    );
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
