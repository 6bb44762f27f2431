/**
 * IP address text: parsing to bytes and one canonical text form per address, so that a record's
 * `host`, a health key and a reverse name written by different tools all meet on the same string.
 *
 * - IPv4: dotted decimal without leading zeros (`192.168.19.113`).
 * - IPv6: RFC 5952: lower case, no leading zeros in a group, the longest run of two or more zero
 *   groups (the first on a tie) as `::`, and IPv4-mapped addresses (`::ffff:0:0/96`) in mixed
 *   notation (`::ffff:192.0.2.1`). Zone ids (`fe80::1%eth0`) are not addresses a DNS record can
 *   carry and are rejected.
 */
import { isIP } from 'node:net';

export type IPKind = 'ipv4' | 'ipv6';

export interface ParsedIP {
  kind: IPKind;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
  /** Canonical text form. */
  text: string;
}

/** Strict dotted quad (what `node:net` accepts): 4 or undefined. */
export function parseIPv4(s: string): Uint8Array | undefined {
  if (isIP(s) !== 4) return undefined;
  const parts = s.split('.');
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
  return out;
}

/**
 * Dotted quad that also allows leading zeros in an octet, read as decimal (`010.1.1.1` is
 * 10.1.1.1), as Go's net.ParseIP did before Go 1.17: the reading Hades 1.x and SkyDNS gave
 * such stored values. Only for reading data other tools wrote.
 */
export function parseIPv4Lenient(s: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const n = Number.parseInt(m[i + 1], 10);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/** Any RFC 4291 text form (incl. `::`, mixed `::ffff:1.2.3.4`), no zone id; 16 bytes or undefined. */
export function parseIPv6(s: string): Uint8Array | undefined {
  if (s.includes('%') || isIP(s) !== 6) return undefined;
  const out = new Uint8Array(16);
  let text = s;
  let tailBytes: number[] = [];
  // Trailing dotted quad → two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tailBytes = [...v4];
    text = text.slice(0, lastColon + 1);
    // `::1.2.3.4` leaves `::`, `1::1.2.3.4` leaves `1::`, `1:2:3:4:5:6:1.2.3.4` leaves `...:6:`.
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const dbl = text.indexOf('::');
  const head = dbl === -1 ? text : text.slice(0, dbl);
  const tail = dbl === -1 ? '' : text.slice(dbl + 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const groupBytes = (groups: string[]): number[] => {
    const b: number[] = [];
    for (const g of groups) {
      const n = Number.parseInt(g, 16);
      b.push(n >> 8, n & 0xff);
    }
    return b;
  };
  const front = groupBytes(headGroups);
  const back = [...groupBytes(tailGroups), ...tailBytes];
  if (front.length + back.length > 16) return undefined;
  if (dbl === -1 && front.length + back.length !== 16) return undefined;
  out.set(front, 0);
  out.set(back, 16 - back.length);
  return out;
}

export function formatIPv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** RFC 5952 text of 16 bytes. */
export function formatIPv6(b: Uint8Array): string {
  if (isV4Mapped(b)) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  // Longest run of >= 2 zero groups; first one wins a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestStart === -1) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** Parses an IPv4 or IPv6 address (strict forms); undefined when `s` is neither. */
export function parseIP(s: string): ParsedIP | undefined {
  const v4 = parseIPv4(s);
  if (v4 !== undefined) return { kind: 'ipv4', bytes: v4, text: formatIPv4(v4) };
  const v6 = parseIPv6(s);
  if (v6 !== undefined) return { kind: 'ipv6', bytes: v6, text: formatIPv6(v6) };
  return undefined;
}

/** Canonical text of an IPv4 or IPv6 address, or undefined when `s` is not one. */
export function canonicalIP(s: string): string | undefined {
  return parseIP(s)?.text;
}

/** The parts of an address-and-port text; `port` undefined when none was written. */
export interface HostPortText {
  host: string;
  port: string | undefined;
  bracketed: boolean;
}

/** The unspecified address (a wildcard bind) in its text forms: 0.0.0.0, ::, ::ffff:0.0.0.0. */
export function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '::ffff:0.0.0.0';
}

/**
 * Splits `host:port`, `[ipv6]:port`, `[ipv6]`, `host`, or a bare IPv6 address (more than one
 * colon: no port). Checks only the shape; returns why when the brackets are malformed.
 */
export function splitHostPort(t: string): HostPortText | 'has no closing ]' | 'is not [IPv6]:port' {
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close === -1) return 'has no closing ]';
    const rest = t.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return 'is not [IPv6]:port';
    return { host: t.slice(1, close), port: rest === '' ? undefined : rest.slice(1), bracketed: true };
  }
  const i = t.indexOf(':');
  if (i !== -1 && t.indexOf(':', i + 1) === -1)
    return { host: t.slice(0, i), port: t.slice(i + 1), bracketed: false };
  return { host: t, port: undefined, bracketed: false };
}
