/** An IP literal and a port: listen addresses, upstreams, the API's address. */
import { canonicalIP, parseIPv4, splitHostPort } from '../records/ip.js';

/** `host` is the canonical text of the address (no brackets). */
export interface HostPort {
  host: string;
  port: number;
  family: 4 | 6;
}

/** Why a text is not a HostPort; the message follows the quoted text (`"x" has no port`). */
export class HostPortError extends Error {}

/** Parses `ip:port`, `[ipv6]:port` (and `:port` → 0.0.0.0). `defaultPort` allows a bare IP. */
export function parseHostPort(text: string, defaultPort?: number): HostPort {
  function bad(why: string): never {
    throw new HostPortError(why);
  }
  const parts = splitHostPort(text.trim());
  if (typeof parts === 'string') bad(parts);
  let host = parts.host;
  const portText = parts.port;
  // a bare IPv6 address (only where a default port is allowed)
  if (!parts.bracketed && host.includes(':') && defaultPort === undefined)
    bad('is not IP:port (write an IPv6 address as [::1]:53)');
  if (host === '') host = '0.0.0.0';
  let port: number;
  if (portText === undefined) {
    if (defaultPort === undefined) bad('has no port (want IP:port, e.g. 127.0.0.1:53)');
    port = defaultPort;
  } else {
    if (!/^\d{1,5}$/.test(portText)) bad('has a bad port');
    port = Number(portText);
    if (port < 1 || port > 65535) bad('has a port outside 1-65535');
  }
  let family: 4 | 6;
  if (parseIPv4(host)) family = 4;
  else if (host.includes(':')) family = 6;
  else bad('is not an IP address and port (host names are not accepted)');
  const canon = canonicalIP(host);
  if (canon === undefined) bad('is not an IP address and port');
  return { host: canon, port, family };
}

/** `host:port` text of a HostPort (IPv6 in brackets). */
export function formatHostPort(hp: HostPort): string {
  return hp.family === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
