/**
 * Reverse (PTR) names: `192.0.2.1` ↔ `1.2.0.192.in-addr.arpa.`, IPv6 ↔ 32 nibbles under
 * `ip6.arpa.` (RFC 3596). Their records live at the usual keys, e.g. `/hades/arpa/in-addr/192/0/2/1`.
 */
import { RecordError } from './errors.js';
import { formatIPv4, formatIPv6, parseIP } from './ip.js';
import { asciiLower } from './names.js';

const V4_SUFFIX = 'in-addr.arpa.';
const V6_SUFFIX = 'ip6.arpa.';

/** Reverse name of an address (lower case, absolute). Throws RecordError (field `ip`) otherwise. */
export function reverseName(ip: string): string {
  const p = parseIP(ip);
  if (p === undefined) throw new RecordError('ip', `"${ip}" is not an IPv4 or IPv6 address`);
  const b = p.bytes;
  if (p.kind === 'ipv4') return `${b[3]}.${b[2]}.${b[1]}.${b[0]}.${V4_SUFFIX}`;
  let s = '';
  for (let i = 15; i >= 0; i--) s += `${(b[i] & 0xf).toString(16)}.${(b[i] >> 4).toString(16)}.`;
  return s + V6_SUFFIX;
}

/**
 * The address a full reverse name stands for, in canonical text; undefined for anything else
 * (partial names such as `2.0.192.in-addr.arpa.`, RFC 2317 classless labels, leading zeros).
 * Case-insensitive; the trailing dot is optional.
 */
export function ipFromReverseName(name: string): string | undefined {
  let n = asciiLower(name);
  if (!n.endsWith('.')) n += '.';
  if (n.endsWith(`.${V4_SUFFIX}`)) {
    const labels = n.slice(0, -V4_SUFFIX.length - 1).split('.');
    if (labels.length !== 4) return undefined;
    const b = new Uint8Array(4);
    for (let i = 0; i < 4; i++) {
      const l = labels[3 - i];
      if (!/^(?:0|[1-9][0-9]{0,2})$/.test(l)) return undefined;
      const v = Number(l);
      if (v > 255) return undefined;
      b[i] = v;
    }
    return formatIPv4(b);
  }
  if (n.endsWith(`.${V6_SUFFIX}`)) {
    const labels = n.slice(0, -V6_SUFFIX.length - 1).split('.');
    if (labels.length !== 32) return undefined;
    const b = new Uint8Array(16);
    for (let i = 0; i < 32; i++) {
      const l = labels[31 - i];
      if (!/^[0-9a-f]$/.test(l)) return undefined;
      const v = Number.parseInt(l, 16);
      if (i % 2 === 0) b[i >> 1] = v << 4;
      else b[i >> 1] |= v;
    }
    return formatIPv6(b);
  }
  return undefined;
}
