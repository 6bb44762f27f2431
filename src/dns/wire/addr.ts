/**
 * IP address text ⇄ bytes without allocation on the parse side (the writer's hot path may be
 * handed strings), and RFC 5952 formatting for the decoder.
 */

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

/** Parses IPv4 text into out[off..off+4); false when invalid. */
export function parseIPv4(s: string, out: Uint8Array, off: number): boolean {
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
 * out[off..off+16). No zone index (`%eth0`), no brackets. Returns false when invalid.
 */
export function parseIPv6(s: string, out: Uint8Array, off: number): boolean {
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

/** `a.b.c.d` from four octets. */
export function formatIPv4(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** RFC 5952 text of sixteen octets: lower case, the first longest run (≥ 2) of zero groups as `::`. */
export function formatIPv6(b: Uint8Array, off: number): string {
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let k = 0; k <= 8; k++) {
    const zero = k < 8 && b[off + 2 * k] === 0 && b[off + 2 * k + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = k;
    } else if (runStart >= 0) {
      if (k - runStart > bestLen) {
        bestStart = runStart;
        bestLen = k - runStart;
      }
      runStart = -1;
    }
  }
  let s = '';
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      s += k === 0 ? '::' : ':';
      k += bestLen - 1;
      continue;
    }
    s += ((b[off + 2 * k] << 8) | b[off + 2 * k + 1]).toString(16);
    if (k < 7) s += ':';
  }
  return s;
}
