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

export type IPKind = 'ipv4' | 'ipv6';

export interface ParsedIP {
  kind: IPKind;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
  /** Canonical text form. */
  text: string;
}

/**
 * Parses dotted-quad IPv4 text in s[start, end) into out[off..off+4). Returns false (out
 * unspecified) unless it is exactly four decimal octets 0..255 without leading zeros.
 */
export function parseIPv4Range(s: string, start: number, end: number, out: Uint8Array, off: number): boolean {
  let part = 0;
  let val = 0;
  let digits = 0;
  let first = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 0) first = c;
      else if (first === 0x30) return false; // leading zero
      val = val * 10 + (c - 0x30);
      if (++digits > 3 || val > 255) return false;
    } else if (c === 0x2e) {
      if (digits === 0 || part === 3) return false;
      out[off + part++] = val;
      val = 0;
      digits = 0;
    } else return false;
  }
  if (digits === 0 || part !== 3) return false;
  out[off + 3] = val;
  return true;
}

/** Parses IPv4 text into out[off..off+4); false when invalid. Allocates nothing (the DNS writer's path). */
export function parseIPv4Into(s: string, out: Uint8Array, off: number): boolean {
  return parseIPv4Range(s, 0, s.length, out, off);
}

const WORDS = new Uint16Array(8);

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  c |= 0x20;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

/**
 * Parses IPv6 text (RFC 4291 §2.2: hex groups, one `::`, an optional dotted-quad tail) into
 * out[off..off+16). No zone index (`%eth0`), no brackets. Returns false when invalid. Allocates nothing.
 */
export function parseIPv6Into(s: string, out: Uint8Array, off: number): boolean {
  const len = s.length;
  if (len < 2) return false;
  const w = WORDS;
  let n = 0;
  let dc = -1;
  let i = 0;
  if (s.charCodeAt(0) === 0x3a) {
    if (s.charCodeAt(1) !== 0x3a) return false;
    dc = 0;
    i = 2;
  }
  while (i < len) {
    const start = i;
    let val = 0;
    let digits = 0;
    for (; i < len; i++) {
      const h = hexVal(s.charCodeAt(i));
      if (h < 0) break;
      val = (val << 4) | h;
      digits++;
    }
    if (i < len && s.charCodeAt(i) === 0x2e) {
      // dotted-quad tail: must end the string and take the last two groups
      if (n > 6 || (dc < 0 && n !== 6)) return false;
      if (!parseIPv4Range(s, start, len, out, off + 12)) return false;
      w[n++] = (out[off + 12] << 8) | out[off + 13];
      w[n++] = (out[off + 14] << 8) | out[off + 15];
      i = len;
      break;
    }
    if (digits === 0 || digits > 4 || n === 8) return false;
    w[n++] = val;
    if (i === len) break;
    if (s.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < len && s.charCodeAt(i) === 0x3a) {
      if (dc >= 0) return false;
      dc = n;
      i++;
    } else if (i === len) return false; // a single trailing colon
  }
  if (dc < 0 ? n !== 8 : n > 7) return false;
  const gap = 8 - n;
  let o = off;
  for (let k = 0; k < n; k++) {
    if (k === dc) for (let z = 0; z < gap; z++, o += 2) out[o] = out[o + 1] = 0;
    out[o++] = w[k] >> 8;
    out[o++] = w[k] & 0xff;
  }
  if (dc === n) for (let z = 0; z < gap; z++, o += 2) out[o] = out[o + 1] = 0;
  return true;
}

/** Strict dotted quad (no leading zeros): 4 bytes or undefined. */
export function parseIPv4(s: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  return parseIPv4Into(s, out, 0) ? out : undefined;
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
  const out = new Uint8Array(16);
  return parseIPv6Into(s, out, 0) ? out : undefined;
}

/** `a.b.c.d` from four octets at `off`. */
export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

function isV4Mapped(b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 10; i++) if (b[off + i] !== 0) return false;
  return b[off + 10] === 0xff && b[off + 11] === 0xff;
}

/** RFC 5952 text of the 16 octets at `off` (IPv4-mapped in mixed notation). */
export function formatIPv6(b: Uint8Array, off = 0): string {
  if (isV4Mapped(b, off)) return `::ffff:${formatIPv4(b, off + 12)}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[off + i] << 8) | b[off + i + 1]);
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
