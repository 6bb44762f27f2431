/**
 * The `httpGet` probe: one GET over HTTP/1.1 (plain or TLS) to the address under test, judged by
 * the status (`expectStatus`) and, when set, `expectBody` in the first `MAX_PROBE_BODY` bytes of
 * the body. Redirects are not followed: a 3xx is judged by `expectStatus` like any code.
 *
 * A small client on node:net / node:tls rather than node:http: a probe reads one status line,
 * three framing headers and at most a bounded body, and measured per check it costs clearly less
 * CPU than node:http with `agent: false` (the figures: src/health/README.md, "Probes").
 *
 * One timer bounds the whole check (connect, TLS handshake, request, response). Each check opens
 * its own connection and closes it when judged, as the kubelet does; with `ctx.keepAlive` it
 * reuses one idle connection per address and port (probe-http-pool.ts).
 */
import net from 'node:net';
import tls from 'node:tls';
import { type HttpGetProbe, MAX_PROBE_BODY, statusMatches } from '../records/probe.js';
import { VERSION } from '../version.js';
import { connectFailed, errorCode, type ProbeContext, type ProbeResult, timeoutResult } from './probe.js';
import { IdleConnections } from './probe-http-pool.js';
import { ResponseReader } from './probe-http-response.js';

export const USER_AGENT = `hades-probe/${VERSION}`;

/** Idle kept-alive connections: bounded by the file descriptors one scanner can spare. */
const idle = new IdleConnections(4096, 60_000);

/** Closes the idle kept-alive probe connections (a scanner stopping). */
export function closeIdleProbeConnections(): void {
  idle.closeAll();
}

/** Idle kept-alive probe connections right now. */
export function idleProbeConnections(): number {
  return idle.size;
}

/** Secure contexts per extra CA (`ctx.ca`), so a check does not build a CA store each time. */
const contexts = new Map<string | Buffer | undefined, tls.SecureContext>();

function secureContext(ca: string | Buffer | undefined): tls.SecureContext {
  let sc = contexts.get(ca);
  if (sc === undefined) {
    // `ca` replaces Node's CA list, so the bundled list goes in beside the extra CA
    sc = tls.createSecureContext(ca === undefined ? {} : { ca: [...tls.rootCertificates, ca] });
    // a scanner has one CA file; more values here are a reload, not a working set
    if (contexts.size >= 4) contexts.clear();
    contexts.set(ca, sc);
  }
  return sc;
}

/** The text of `Host`: the name or address, IPv6 in brackets, the port unless the scheme's default. */
export function hostHeader(probe: HttpGetProbe, ip: string): string {
  const h = probe.host ?? ip;
  const name = net.isIPv6(h) ? `[${h}]` : h;
  const dflt = probe.scheme === 'HTTPS' ? 443 : 80;
  return probe.port === dflt ? name : `${name}:${probe.port}`;
}

/** The request's bytes: our headers, each replaced by a user header of the same name, then the user's. */
export function requestBytes(probe: HttpGetProbe, ip: string, keepAlive: boolean): Buffer {
  const user = new Set<string>();
  for (const h of probe.httpHeaders) user.add(h.name.toLowerCase());
  let text = `GET ${probe.path} HTTP/1.1\r\n`;
  if (!user.has('host')) text += `Host: ${hostHeader(probe, ip)}\r\n`;
  if (!user.has('user-agent')) text += `User-Agent: ${USER_AGENT}\r\n`;
  if (!user.has('accept')) text += 'Accept: */*\r\n';
  if (!keepAlive && !user.has('connection')) text += 'Connection: close\r\n';
  for (const h of probe.httpHeaders) text += `${h.name}: ${h.value}\r\n`;
  return Buffer.from(`${text}\r\n`, 'latin1');
}

const MAX_REASON = 100;

function short(text: string): string {
  return text.length > MAX_REASON ? `${text.slice(0, MAX_REASON - 1)}…` : text;
}

/**
 * Node 24 appends advice for interactive users to certificate errors (`self-signed certificate;
 * if the root CA is installed locally, try running Node.js with --use-system-ca`): a probe's
 * reason names the cause only, the same on every Node.
 */
const NODE_CA_HINT = /; if the root CA is installed locally, try running Node\.js with\s+--use-system-ca\.?$/;

/**
 * `TLS: self-signed certificate`: the error's message, kept short. For OpenSSL's own errors
 * (`<address>:error:<code>:SSL routines:<function>:<reason>:<file>:<line>:`) only their reason,
 * e.g. `wrong version number`; for a certificate that does not name the host, Node's detail
 * (`Host: a.test. is not in the cert's altnames: DNS:b.test`) without the generic preamble.
 */
function tlsFailed(err: unknown): ProbeResult {
  const e = err as { message?: unknown; reason?: unknown; code?: unknown } | null;
  const m = typeof e?.message === 'string' ? e.message.replace(NODE_CA_HINT, '') : '';
  const ssl = /:error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:]+):/.exec(m);
  let text = m || errorCode(err);
  if (ssl !== null) text = ssl[1];
  else if (e?.code === 'ERR_TLS_CERT_ALTNAME_INVALID' && typeof e.reason === 'string') text = e.reason;
  return { ok: false, reason: `TLS: ${short(text)}`, class: 'tls' };
}

function bodyMissing(expect: string): ProbeResult {
  const shown =
    expect.length > 40 ? `${JSON.stringify(expect.slice(0, 40)).slice(0, -1)}…"` : JSON.stringify(expect);
  return { ok: false, reason: `body does not contain ${shown}`, class: 'body' };
}

/** One GET of `probe.path` on `ip`; resolves (never rejects) once judged or at `ctx.timeoutMs`. */
export function httpCheck(ip: string, probe: HttpGetProbe, ctx: ProbeContext): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const x = new Exchange(ip, probe, ctx, resolve);
    try {
      x.start();
    } catch (err) {
      // what net/tls refuse before connecting: a CA that is not PEM, a port out of range
      x.finish(
        probe.scheme === 'HTTPS'
          ? tlsFailed(err)
          : { ok: false, reason: `HTTP: ${short(errorCode(err))}`, class: 'error' },
        false,
      );
    }
  });
}

/** One check's state: the socket, its phase, the response read so far. */
class Exchange {
  readonly #ip: string;
  readonly #probe: HttpGetProbe;
  readonly #ctx: ProbeContext;
  readonly #resolve: (r: ProbeResult) => void;
  readonly #needle: Buffer | undefined;
  #socket: net.Socket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reader: ResponseReader;
  #key = '';
  #tls = false;
  #connected = false;
  #secure = false;
  #reused = false;
  #done = false;

  constructor(ip: string, probe: HttpGetProbe, ctx: ProbeContext, resolve: (r: ProbeResult) => void) {
    this.#ip = ip;
    this.#probe = probe;
    this.#ctx = ctx;
    this.#resolve = resolve;
    this.#needle = probe.expectBody === undefined ? undefined : Buffer.from(probe.expectBody);
    this.#reader = new ResponseReader(this.#needle);
  }

  start(): void {
    this.#timer = setTimeout(this.#onTimeout, this.#ctx.timeoutMs);
    this.#tls = this.#probe.scheme === 'HTTPS';
    const request = requestBytes(this.#probe, this.#ip, this.#ctx.keepAlive === true);
    if (this.#ctx.keepAlive) {
      const p = this.#probe;
      this.#key = `${p.scheme} ${this.#ip} ${p.port} ${p.host ?? ''} ${p.insecureSkipVerify}`;
      const s = idle.take(this.#key);
      if (s !== undefined) {
        this.#reused = true;
        this.#connected = true;
        this.#secure = this.#tls;
        this.#attach(s);
        s.write(request);
        return;
      }
    }
    this.#connect(request);
  }

  #connect(request: Buffer): void {
    const p = this.#probe;
    let s: net.Socket;
    if (this.#tls) {
      const name = p.host !== undefined && net.isIP(p.host) === 0 ? p.host : undefined;
      const verifyAs = p.host ?? this.#ip;
      s = tls.connect({
        host: this.#ip,
        port: p.port,
        servername: name,
        secureContext: secureContext(this.#ctx.ca),
        rejectUnauthorized: !p.insecureSkipVerify,
        // the certificate must name `host` (else the address), not the address we dialled
        checkServerIdentity: (_dialled, cert) => tls.checkServerIdentity(verifyAs, cert),
      });
      s.once('secureConnect', this.#onSecure);
    } else s = net.connect({ host: this.#ip, port: p.port });
    s.once('connect', this.#onConnect);
    this.#attach(s);
    // written once connected (and, for TLS, once the handshake is done)
    s.write(request);
  }

  #attach(s: net.Socket): void {
    this.#socket = s;
    s.on('data', this.#onData);
    s.on('end', this.#onEnd);
    s.on('close', this.#onEnd);
    s.on('error', this.#onError);
  }

  readonly #onConnect = (): void => {
    this.#connected = true;
  };

  readonly #onSecure = (): void => {
    this.#secure = true;
  };

  readonly #onData = (data: Buffer): void => {
    if (this.#done) return;
    this.#reader.push(data);
    this.#judge();
  };

  readonly #onEnd = (): void => {
    if (this.#done) return;
    if (this.#retry()) return;
    if (this.#tls && !this.#secure) {
      this.finish(tlsFailed({ message: 'connection closed during the handshake' }), false);
      return;
    }
    this.#reader.end();
    this.#judge();
    if (!this.#done)
      this.finish({ ok: false, reason: 'HTTP: connection closed early', class: 'error' }, false);
  };

  readonly #onError = (err: Error): void => {
    if (this.#done) return;
    if (this.#retry()) return;
    if (!this.#connected) this.finish(connectFailed(err), false);
    else if (this.#tls && !this.#secure) this.finish(tlsFailed(err), false);
    else this.finish({ ok: false, reason: `HTTP: ${short(errorCode(err))}`, class: 'error' }, false);
  };

  readonly #onTimeout = (): void => {
    if (this.#done) return;
    this.finish(timeoutResult(this.#ctx.timeoutMs), false);
  };

  /**
   * A kept-alive connection the server closed while we took it from the pool: the request goes
   * again on a new connection (once), as HTTP clients do for a GET. False when that is not the case.
   */
  #retry(): boolean {
    if (!this.#reused || this.#reader.received > 0) return false;
    this.#reused = false;
    this.#drop();
    this.#connected = false;
    this.#secure = false;
    this.#connect(requestBytes(this.#probe, this.#ip, true));
    return true;
  }

  /**
   * Fails at the head when the status is not expected; otherwise waits for the body, read whole
   * or to its first MAX_PROBE_BODY bytes (a truncated body fails, as it does the kubelet's probe).
   */
  #judge(): void {
    const r = this.#reader;
    if (r.error !== undefined) {
      this.finish({ ok: false, reason: `HTTP: ${r.error}`, class: 'error' }, false);
      return;
    }
    if (!r.headDone) return;
    const p = this.#probe;
    if (!statusMatches(p.expectStatus, r.status)) {
      this.finish({ ok: false, reason: `HTTP ${r.status}`, class: 'http_status' }, false);
      return;
    }
    if (!r.bodyDone && r.bodySeen < MAX_PROBE_BODY) return;
    if (this.#needle !== undefined && !r.found) this.finish(bodyMissing(p.expectBody!), r.reusable);
    else this.finish({ ok: true, reason: `HTTP ${r.status}`, class: 'ok' }, r.reusable);
  }

  /** Settles the check once: the timer cleared, the socket kept (`reuse`) or closed. */
  finish(result: ProbeResult, reuse: boolean): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    const s = this.#socket;
    if (s !== undefined) {
      if (reuse && this.#ctx.keepAlive) {
        this.#detach(s);
        idle.put(this.#key, s);
      } else s.destroy();
    }
    this.#resolve(result);
  }

  #drop(): void {
    const s = this.#socket;
    if (s === undefined) return;
    this.#detach(s);
    s.on('error', noop);
    s.destroy();
    this.#socket = undefined;
  }

  #detach(s: net.Socket): void {
    s.removeListener('data', this.#onData);
    s.removeListener('end', this.#onEnd);
    s.removeListener('close', this.#onEnd);
    s.removeListener('error', this.#onError);
    s.removeListener('connect', this.#onConnect);
    s.removeListener('secureConnect', this.#onSecure);
  }
}

function noop(): void {}
