/**
 * Presentation ⇄ wire conversion of names, shared by the writer, the encoder and the decoder.
 *
 * Presentation form (RFC 1035 §5.1, as dig/kdig print it): labels joined by `.`, absolute names
 * end in `.`, the root is `.`. Inside a label `\.` is a literal dot, `\\` a backslash, `\DDD` the
 * octet with decimal value DDD and `\X` the character X. Bytes outside the printable ASCII range
 * 0x21..0x7e are always shown as `\DDD`, so a presentation string never contains a raw space,
 * control character or non-ASCII character, and a `.` not preceded by `\` is always a separator.
 */

import { MAX_LABEL_OCTETS, MAX_NAME_OCTETS } from './constants.js';
import { WireError } from './errors.js';

const BACKSLASH = 0x5c;
const DOT = 0x2e;

/**
 * Writes `name` (presentation form; a missing trailing dot is implied, `''` and `.` are the root)
 * uncompressed into `out` at `off` and returns the offset after it. `out` needs 255 free octets.
 * Throws WireError BADNAME for empty labels, labels over 63 octets, names over 255 octets,
 * bad escapes or characters above U+00FF.
 */
export function nameToWire(name: string, out: Uint8Array, off: number): number {
  const n = name.length;
  if (n === 0 || (n === 1 && name.charCodeAt(0) === DOT)) {
    out[off] = 0;
    return off + 1;
  }
  const start = off;
  let lenPos = off; // where the current label's length byte goes
  let p = off + 1;
  let labelLen = 0;
  let i = 0;
  while (i < n) {
    let c = name.charCodeAt(i++);
    if (c === DOT) {
      if (labelLen === 0) throw new WireError('BADNAME', `empty label in name "${name}"`);
      out[lenPos] = labelLen;
      lenPos = p++;
      labelLen = 0;
      if (i === n) {
        // trailing dot: lenPos is the root octet
        out[lenPos] = 0;
        return checkTotal(name, start, p);
      }
      continue;
    }
    if (c === BACKSLASH) {
      if (i >= n) throw new WireError('BADNAME', `dangling backslash in name "${name}"`);
      const d = name.charCodeAt(i);
      if (d >= 0x30 && d <= 0x39) {
        if (i + 3 > n) throw new WireError('BADNAME', `bad \\DDD escape in name "${name}"`);
        const d1 = name.charCodeAt(i + 1) - 0x30;
        const d2 = name.charCodeAt(i + 2) - 0x30;
        if (d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9)
          throw new WireError('BADNAME', `bad \\DDD escape in name "${name}"`);
        c = (d - 0x30) * 100 + d1 * 10 + d2;
        if (c > 255) throw new WireError('BADNAME', `\\DDD escape above 255 in name "${name}"`);
        i += 3;
      } else {
        c = d;
        i++;
      }
    }
    if (c > 0xff) throw new WireError('BADNAME', `character U+${c.toString(16)} in name "${name}"`);
    if (++labelLen > MAX_LABEL_OCTETS)
      throw new WireError('BADNAME', `label longer than ${MAX_LABEL_OCTETS} octets in name "${name}"`);
    // a character at relative offset 254 or later leaves no room for the root octet
    if (p - start > MAX_NAME_OCTETS - 2)
      throw new WireError('BADNAME', `name "${name}" is longer than 255 octets`);
    out[p++] = c;
  }
  // no trailing dot
  out[lenPos] = labelLen;
  out[p++] = 0;
  return checkTotal(name, start, p);
}

function checkTotal(name: string, start: number, end: number): number {
  if (end - start > MAX_NAME_OCTETS)
    throw new WireError('BADNAME', `name "${name}" is longer than 255 octets`);
  return end;
}

/** Wire length of `name` uncompressed (same rules and errors as nameToWire). */
export function nameWireLength(name: string): number {
  return nameToWire(name, SCRATCH, 0);
}
const SCRATCH = new Uint8Array(MAX_NAME_OCTETS + 1);

/** Presentation form of one label's octets; see the module comment for the escapes. */
export function labelToPresentation(buf: Uint8Array, off: number, len: number, lower: boolean): string {
  let s = '';
  for (let i = off; i < off + len; i++) {
    let c = buf[i];
    if (lower && c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c === DOT || c === BACKSLASH) s += '\\' + String.fromCharCode(c);
    else if (c < 0x21 || c > 0x7e) s += '\\' + (c < 10 ? '00' : c < 100 ? '0' : '') + c;
    else s += String.fromCharCode(c);
  }
  return s;
}

/** ASCII case-insensitive equality of two presentation names, ignoring a trailing dot. */
export function namesEqual(a: string, b: string): boolean {
  const la = withoutRootDot(a);
  const lb = withoutRootDot(b);
  if (la !== lb) return false;
  for (let i = 0; i < la; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

/** Length of `s` without its final separator dot (a dot escaped as `\.` is not a separator). */
function withoutRootDot(s: string): number {
  const n = s.length;
  if (n === 0 || s.charCodeAt(n - 1) !== DOT) return n;
  let k = 0;
  while (k < n - 1 && s.charCodeAt(n - 2 - k) === BACKSLASH) k++;
  return k % 2 === 0 ? n - 1 : n;
}

/** skipName: the name runs past the end of the message, or past 255 octets. */
export const SKIP_TRUNCATED = -1;
/** skipName: a compression pointer that does not point backwards (RFC 1035 §4.1.4: to a prior name). */
export const SKIP_BAD_POINTER = -2;
/** skipName: a reserved label type (0x40, 0x80). */
export const SKIP_BAD_LABEL = -3;

/**
 * Offset after the possibly compressed name at `p` in `buf[0, len)`, or a negative SKIP_* code.
 * Pointers are not followed: a backward pointer ends the name.
 */
export function skipName(buf: Uint8Array, p: number, len: number): number {
  const start = p;
  for (;;) {
    if (p >= len) return SKIP_TRUNCATED;
    const l = buf[p];
    if (l === 0) return p + 1;
    if (l >= 0xc0) {
      if (p + 2 > len) return SKIP_TRUNCATED;
      return (((l & 0x3f) << 8) | buf[p + 1]) < p ? p + 2 : SKIP_BAD_POINTER;
    }
    if (l >= 0x40) return SKIP_BAD_LABEL;
    p += 1 + l;
    if (p - start > MAX_NAME_OCTETS - 1) return SKIP_TRUNCATED;
  }
}
