/**
 * The forwarder's configuration: upstream lists (`-stub`, /etc/resolv.conf) and the startup check
 * that no upstream is this server itself. Pure functions, no sockets: everything here runs once at
 * startup; the Forwarder (src/dns/forward) takes the typed lists.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import {
  canonicalHost,
  formatHostPort,
  type HostPort,
  HostPortError,
  parseHostPort,
  UPSTREAM,
} from '../common/host-port.js';
import { isUnspecified, parseIPv4Into, parseIPv6Into } from '../records/ip.js';

/** A bad `-stub` value or an unreadable resolv.conf. `part` is the offending piece of text. */
export class ForwardConfigError extends Error {
  readonly code = 'EFORWARD_CONFIG';
  readonly part: string;
  constructor(part: string, message: string) {
    super(message);
    this.name = 'ForwardConfigError';
    this.part = part;
  }
}

/** An upstream is our own listen address: forwarding to it would loop. The server must not start. */
export class ForwardLoopError extends Error {
  readonly code = 'EFORWARD_LOOP';
  /** The upstream, as `ip:port` / `[v6]:port`. */
  readonly upstream: string;
  /** The listen address it matches. */
  readonly listen: string;
  constructor(upstream: string, listen: string) {
    super(
      `forwarding loop: upstream nameserver ${upstream} is this server's own address (${listen}); ` +
        'set -nameservers to a different resolver',
    );
    this.name = 'ForwardLoopError';
    this.upstream = upstream;
    this.listen = listen;
  }
}

/** Canonical zone text (lower case, one trailing dot); throws ForwardConfigError for a bad name. */
function canonicalZone(text: string): string {
  const t = text.trim();
  if (t === '' || t === '.')
    throw new ForwardConfigError(
      text,
      `stub zone "${text}" is the root: use -nameservers for the default upstreams`,
    );
  let z = t.toLowerCase();
  if (!z.endsWith('.')) z += '.';
  const labels = z.slice(0, -1).split('.');
  for (const l of labels) {
    if (l === '') throw new ForwardConfigError(text, `stub zone "${text}" has an empty label`);
    if (l.length > 63)
      throw new ForwardConfigError(text, `stub zone "${text}" has a label over 63 characters`);
    if (!/^[a-z0-9_*-]+$/.test(l))
      throw new ForwardConfigError(text, `stub zone "${text}" has a bad character in "${l}"`);
  }
  if (z.length > 254) throw new ForwardConfigError(text, `stub zone "${text}" is longer than 253 characters`);
  return z;
}

/**
 * Parses `-stub`: `zone=ip:port,ip:port`. Several zones may share one value, separated by `;`,
 * whitespace, or simply by a comma before the next `zone=` (an address never contains `=`):
 * `a.example.=10.0.0.1,10.0.0.2:5353 b.example.=[fd00::1]:53`. A value given as an array (a
 * repeated flag) is the same as the items joined. Returns zone (canonical) → upstreams, each
 * once. Throws ForwardConfigError naming the bad part.
 */
export function parseStubFlag(value: string | readonly string[]): Map<string, HostPort[]> {
  const text = typeof value === 'string' ? value : value.join(';');
  const out = new Map<string, HostPort[]>();
  let zone: string | undefined;
  for (const raw of text.split(/[;,\s]+/)) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    let addr: string;
    if (eq !== -1) {
      const z = canonicalZone(item.slice(0, eq));
      if (out.has(z)) throw new ForwardConfigError(item, `-stub: zone "${z}" is given twice`);
      if (zone !== undefined && out.get(zone)!.length === 0)
        throw new ForwardConfigError(zone, `-stub: zone "${zone}" has no nameserver`);
      zone = z;
      out.set(z, []);
      addr = item.slice(eq + 1).trim();
      if (addr === '') continue;
    } else {
      if (zone === undefined)
        throw new ForwardConfigError(item, `-stub: "${item}" comes before any zone= (want zone=ip:port,...)`);
      addr = item;
    }
    let a: HostPort;
    try {
      a = parseHostPort(addr, UPSTREAM);
    } catch (err) {
      if (!(err instanceof HostPortError)) throw err;
      throw new ForwardConfigError(addr, `-stub ${zone}: nameserver "${addr}" ${err.message}`);
    }
    const list = out.get(zone)!;
    if (!list.some((b) => sameHostPort(a, b))) list.push(a);
  }
  if (zone !== undefined && out.get(zone)!.length === 0)
    throw new ForwardConfigError(zone, `-stub: zone "${zone}" has no nameserver`);
  return out;
}

/**
 * The `nameserver` lines of a resolv.conf, on port 53 (resolv.conf has no ports).
 * Comments (`#`, `;`) and other directives are ignored, and so are lines whose address is not an IP
 * literal (as the C library does). All servers are returned (glibc uses only the first three).
 * Throws ForwardConfigError when the file cannot be read.
 */
export function fromResolvConf(path = '/etc/resolv.conf'): HostPort[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ForwardConfigError(path, `cannot read ${path}: ${(err as Error).message}`);
  }
  return parseResolvConf(text);
}

/** fromResolvConf on text. */
function parseResolvConf(text: string): HostPort[] {
  const out: HostPort[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(t);
    if (!m) continue;
    const c = canonicalHost(m[1]);
    if (c === undefined) continue;
    const a: HostPort = { ...c, port: 53 };
    if (!out.some((b) => sameHostPort(a, b))) out.push(a);
  }
  return out;
}

function sameHostPort(a: HostPort, b: HostPort): boolean {
  return a.host === b.host && a.port === b.port;
}

// ---- loop protection ----------------------------------------------------------------------------

const B4 = Buffer.alloc(4);
const V6 = Buffer.alloc(16);

/** IPv4 octets of an IPv4 or IPv4-mapped IPv6 host, or undefined. */
function v4Octets(host: string): Buffer | undefined {
  if (parseIPv4Into(host, B4, 0)) return B4;
  const pct = host.indexOf('%');
  const bare = pct === -1 ? host : host.slice(0, pct);
  if (parseIPv6Into(bare, V6, 0)) {
    for (let i = 0; i < 10; i++) if (V6[i] !== 0) return undefined;
    if (V6[10] === 0xff && V6[11] === 0xff) return V6.subarray(12, 16);
  }
  return undefined;
}

/** Same address (IPv4-mapped IPv6 equals its IPv4; zones ignored). */
function sameHost(a: string, b: string): boolean {
  if (a === b) return true;
  const a4 = v4Octets(a);
  if (a4 !== undefined) {
    const x = Buffer.from(a4);
    const b4 = v4Octets(b);
    return b4 !== undefined && x.equals(b4);
  }
  const strip = (h: string): string => (h.includes('%') ? h.slice(0, h.indexOf('%')) : h);
  return strip(a) === strip(b);
}

/** Addresses that reach this host: loopback (127/8, ::1), unspecified, and every interface address. */
function isLocal(host: string, ifaces: readonly string[]): boolean {
  if (isUnspecified(host)) return true;
  const v4 = v4Octets(host);
  if (v4 !== undefined && v4[0] === 127) return true;
  if (host === '::1') return true;
  for (const a of ifaces) if (sameHost(a, host)) return true;
  return false;
}

function interfaceAddresses(): string[] {
  const out: string[] = [];
  try {
    for (const list of Object.values(networkInterfaces())) {
      for (const i of list ?? []) {
        const c = canonicalHost(i.address);
        if (c !== undefined) out.push(c.host);
      }
    }
  } catch {
    // no interface list (sandbox): loopback and equality still apply
  }
  return out;
}

/**
 * Throws ForwardLoopError when an upstream is one of our own listen addresses: same port and
 * - the same IP (IPv4-mapped forms equal), or
 * - we listen on a wildcard (`0.0.0.0`, or `::`, which also takes IPv4) and the upstream is an
 *   address of this host: loopback (127.0.0.0/8, ::1), unspecified, or an interface address
 *   (while we hold the wildcard port nobody else can hold a specific address on it, so a
 *   127.0.0.53 there would be us), or
 * - the upstream is unspecified (`0.0.0.0` reaches the local host) and we listen on a local address.
 * A resolver on another loopback address (systemd-resolved's 127.0.0.53:53 while we listen on
 * 127.0.0.1:53) or another port is fine.
 */
export function assertNoLoop(upstreams: readonly HostPort[], listen: readonly HostPort[]): void {
  let ifaces: string[] | undefined;
  for (const u of upstreams) {
    for (const l of listen) {
      if (u.port !== l.port) continue;
      let loop = sameHost(u.host, l.host);
      if (!loop && isUnspecified(l.host)) {
        ifaces ??= interfaceAddresses();
        const v4 = v4Octets(u.host) !== undefined || u.host === '0.0.0.0';
        // 0.0.0.0 covers IPv4 only; :: is dual-stack (node's default) and covers both
        loop = (l.host === '::' || v4) && isLocal(u.host, ifaces);
      }
      if (!loop && isUnspecified(u.host)) {
        ifaces ??= interfaceAddresses();
        loop = isLocal(l.host, ifaces);
      }
      if (loop) throw new ForwardLoopError(formatHostPort(u), formatHostPort(l));
    }
  }
}
