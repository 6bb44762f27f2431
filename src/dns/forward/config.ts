/**
 * Forwarder configuration: upstream addresses (`-nameservers`, `-stub`), /etc/resolv.conf, and
 * loop protection. Pure functions, no sockets: everything here runs once at startup.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { formatIPv6, isUnspecified, parseIPv4Into, parseIPv6Into, splitHostPort } from '../../records/ip.js';

/** An upstream (or listen) address: an IP literal and a port. `host` is canonical, without brackets. */
export interface UpstreamAddress {
  host: string;
  port: number;
  family: 4 | 6;
}

/** Anything that names an address: `'ip'`, `'ip:port'`, `'[v6]:port'`, or `{host, port}` (config's HostPort). */
export type AddressInput = string | { host: string; port: number };

/** A bad `-nameservers` / `-stub` value or resolv.conf. `part` is the offending piece of text. */
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

const V6 = Buffer.alloc(16);

/** Canonical text of an IP literal (RFC 5952 for IPv6, zone kept), or undefined when it is none. */
export function canonicalHost(text: string): { host: string; family: 4 | 6 } | undefined {
  if (net.isIPv4(text)) {
    // node accepts only dotted quads without leading zeros here: already canonical
    return { host: text, family: 4 };
  }
  if (!net.isIPv6(text)) return undefined;
  const pct = text.indexOf('%');
  const bare = pct === -1 ? text : text.slice(0, pct);
  if (!parseIPv6Into(bare, V6, 0)) return { host: text.toLowerCase(), family: 6 };
  return { host: formatIPv6(V6, 0) + (pct === -1 ? '' : text.slice(pct)), family: 6 };
}

/** `1.2.3.4:53`, `[::1]:53`. */
export function formatAddress(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/**
 * Parses one upstream: `ip` (port 53), `ip:port`, `[v6]:port`, `[v6]` or a bare IPv6 address
 * (port 53). Host names are not accepted (no DNS to resolve the resolver). Throws
 * ForwardConfigError naming the text.
 */
export function parseAddress(input: AddressInput, what = 'nameserver'): UpstreamAddress {
  if (typeof input !== 'string') {
    const c = canonicalHost(String(input?.host ?? ''));
    const port = input?.port;
    if (c === undefined)
      throw new ForwardConfigError(String(input?.host), `${what} "${input?.host}" is not an IP address`);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new ForwardConfigError(String(port), `${what} ${formatAddress(input)}: port outside 1-65535`);
    return { host: c.host, port, family: c.family };
  }
  const t = input.trim();
  const bad = (why: string): never => {
    throw new ForwardConfigError(input, `${what} "${input}" ${why}`);
  };
  if (t === '') bad('is empty');
  const parts = splitHostPort(t);
  if (typeof parts === 'string') return bad(parts);
  const { host, port: portText, bracketed } = parts;
  if (bracketed && !net.isIPv6(host)) bad('is not an IPv6 address in brackets');
  const c = canonicalHost(host);
  if (c === undefined) bad('is not an IP address (want ip, ip:port or [ipv6]:port)');
  let port = 53;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) bad('has a bad port');
    port = Number(portText);
    if (port < 1 || port > 65535) bad('has a port outside 1-65535');
  }
  return { host: c!.host, port, family: c!.family };
}

/** Canonical zone text (lower case, one trailing dot); throws ForwardConfigError for a bad name. */
export function canonicalZone(text: string): string {
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
 * repeated flag) is the same as the items joined. Returns zone (canonical) → upstreams
 * (`ip:port` text, canonical). Throws ForwardConfigError naming the bad part.
 */
export function parseStubFlag(value: string | readonly string[]): Map<string, string[]> {
  const text = typeof value === 'string' ? value : value.join(';');
  const out = new Map<string, string[]>();
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
    let a: UpstreamAddress;
    try {
      a = parseAddress(addr, `-stub ${zone}: nameserver`);
    } catch (err) {
      throw err instanceof ForwardConfigError ? err : new ForwardConfigError(addr, String(err));
    }
    const list = out.get(zone)!;
    const f = formatAddress(a);
    if (!list.includes(f)) list.push(f);
  }
  if (zone !== undefined && out.get(zone)!.length === 0)
    throw new ForwardConfigError(zone, `-stub: zone "${zone}" has no nameserver`);
  return out;
}

/**
 * The `nameserver` lines of a resolv.conf, as `ip:53` / `[v6]:53` (resolv.conf has no ports).
 * Comments (`#`, `;`) and other directives are ignored, and so are lines whose address is not an IP
 * literal (as the C library does). All servers are returned (glibc uses only the first three).
 * Throws ForwardConfigError when the file cannot be read.
 */
export function fromResolvConf(path = '/etc/resolv.conf'): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ForwardConfigError(path, `cannot read ${path}: ${(err as Error).message}`);
  }
  return parseResolvConf(text);
}

/** fromResolvConf on text. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.replace(/[#;].*$/, '').trim();
    const m = /^nameserver\s+(\S+)/.exec(t);
    if (!m) continue;
    const c = canonicalHost(m[1]);
    if (c === undefined) continue;
    const f = formatAddress({ host: c.host, port: 53 });
    if (!out.includes(f)) out.push(f);
  }
  return out;
}

// ---- loop protection ----------------------------------------------------------------------------

const B4 = Buffer.alloc(4);

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
export function assertNoLoop(upstreams: readonly AddressInput[], listen: readonly AddressInput[]): void {
  const ls = listen.map((l) =>
    parseAddress(typeof l === 'string' && l.startsWith(':') ? `0.0.0.0${l}` : l, 'listen address'),
  );
  let ifaces: string[] | undefined;
  for (const raw of upstreams) {
    const u = parseAddress(raw);
    for (const l of ls) {
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
      if (loop) throw new ForwardLoopError(formatAddress(u), formatAddress(l));
    }
  }
}
