/** An IP literal and a port: listen addresses, upstreams, the API's address. The one parser of them. */
import { parseIP, splitHostPort } from '../records/ip.js';

/** `host` is the canonical text of the address (no brackets; an upstream's IPv6 zone kept). */
export interface HostPort {
  host: string;
  port: number;
  family: 4 | 6;
}

/** Why a text is not a HostPort; the message follows the quoted text (`"x" has no port`). */
export class HostPortError extends Error {}

export interface HostPortOptions {
  /**
   * The port of a text without one (`10.0.0.1`, `[::1]`, a bare `2001:db8::1`): an address to
   * reach. Without it a port is required and `:53` means 0.0.0.0:53 (an address to listen on).
   */
  defaultPort?: number;
  /** Keep an IPv6 zone id (`fe80::1%eth0`): upstream resolvers may be link-local. */
  zone?: boolean;
}

/** The options of an upstream resolver's address (-nameservers, -stub, resolv.conf). */
export const UPSTREAM: HostPortOptions = { defaultPort: 53, zone: true };

/** Canonical text of an IP literal (RFC 5952 for IPv6, a `%zone` kept as written), or undefined. */
export function canonicalHost(text: string): { host: string; family: 4 | 6 } | undefined {
  const pct = text.indexOf('%');
  const ip = parseIP(pct === -1 ? text : text.slice(0, pct));
  if (ip === undefined) return undefined;
  if (pct === -1) return { host: ip.text, family: ip.kind === 'ipv4' ? 4 : 6 };
  // the zone characters node's net.isIPv6 accepts (dgram resolves the interface)
  if (ip.kind !== 'ipv6' || !/^%[0-9A-Za-z.:-]+$/.test(text.slice(pct))) return undefined;
  return { host: ip.text + text.slice(pct), family: 6 };
}

/** Parses `ip:port`, `[ipv6]:port`, `:port` and, with a default port, `ip` and `[ipv6]`. */
export function parseHostPort(text: string, opts: HostPortOptions = {}): HostPort {
  function bad(why: string): never {
    throw new HostPortError(why);
  }
  const { defaultPort } = opts;
  const parts = splitHostPort(text.trim());
  if (typeof parts === 'string') bad(parts);
  let host = parts.host;
  // a bare IPv6 address (only where a default port is allowed)
  if (!parts.bracketed && host.includes(':') && defaultPort === undefined)
    bad('is not IP:port (write an IPv6 address as [::1]:53)');
  if (parts.bracketed && parseIP(host.split('%')[0])?.kind !== 'ipv6')
    bad('is not an IPv6 address in brackets');
  if (host === '' && defaultPort === undefined) host = '0.0.0.0';
  let port: number;
  if (parts.port === undefined) {
    if (defaultPort === undefined) bad('has no port (want IP:port, e.g. 127.0.0.1:53)');
    port = defaultPort;
  } else {
    if (!/^\d{1,5}$/.test(parts.port)) bad('has a bad port');
    port = Number(parts.port);
    if (port < 1 || port > 65535) bad('has a port outside 1-65535');
  }
  const c = !opts.zone && host.includes('%') ? undefined : canonicalHost(host);
  if (c === undefined) {
    if (defaultPort !== undefined) bad('is not an IP address (want ip, ip:port or [ipv6]:port)');
    bad(
      host.includes(':')
        ? 'is not an IP address and port'
        : 'is not an IP address and port (host names are not accepted)',
    );
  }
  return { host: c.host, port, family: c.family };
}

/** `host:port` text of a HostPort (IPv6 in brackets). */
export function formatHostPort(hp: HostPort): string {
  return hp.family === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
