/**
 * DNS names as Hades handles them: presentation form, lower case, absolute (trailing dot).
 * Validation follows RFC 1035/1123 host names (LDH labels), plus `_` (SRV labels such as
 * `_http._tcp`) and `*` (wildcard label). Case folding is ASCII only (RFC 4343): no other
 * character is ever folded into an ASCII letter.
 */

export const MAX_NAME_OCTETS = 255;
export const MAX_LABEL_OCTETS = 63;

export class NameError extends Error {
  readonly code = 'EBADNAME';
  constructor(message: string) {
    super(message);
    this.name = 'NameError';
  }
}

/** ASCII-only lower case (`toLowerCase` would fold e.g. U+212A KELVIN SIGN into `k`). */
export function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

/** Lower-cases and makes absolute: `Foo.Hades.Local` → `foo.hades.local.`; `.` and `` give `.`. */
export function canonicalName(name: string): string {
  const lower = asciiLower(name);
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** Labels of an absolute or relative name, left to right, without the root: `a.b.` → ['a', 'b']. */
export function splitLabels(name: string): string[] {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  return n === '' ? [] : n.split('.');
}

const LABEL_RE = /^(?:\*|[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/;

/**
 * Validates and canonicalises a name. Throws NameError naming the problem.
 * Wire length counts a length octet per label plus the root octet (RFC 1035 3.1): a name of
 * 255 wire octets is the longest allowed, i.e. 253 characters without the trailing dot.
 */
export function parseName(input: string): string {
  if (typeof input !== 'string' || input.length === 0) throw new NameError('name is empty');
  if (input === '.') return '.';
  const name = canonicalName(input);
  const labels = splitLabels(name);
  let wire = 1;
  for (const label of labels) {
    if (label.length === 0) throw new NameError(`name "${input}" has an empty label`);
    if (!LABEL_RE.test(label)) {
      if (label.length > MAX_LABEL_OCTETS && /^[a-z0-9_-]+$/.test(label))
        throw new NameError(`label "${label}" is longer than ${MAX_LABEL_OCTETS} octets`);
      if (label.startsWith('-') || label.endsWith('-'))
        throw new NameError(`label "${label}" starts or ends with a hyphen`);
      throw new NameError(`label "${label}" has a character outside a-z 0-9 - _ (or is a partial wildcard)`);
    }
    wire += label.length + 1;
  }
  if (wire > MAX_NAME_OCTETS)
    throw new NameError(`name "${input}" is ${wire} octets long, more than ${MAX_NAME_OCTETS}`);
  return name;
}

/** True when `name` equals `zone` or lies below it (both canonical). */
export function isInZone(name: string, zone: string): boolean {
  if (zone === '.') return true;
  return name === zone || (name.endsWith(zone) && name.charCodeAt(name.length - zone.length - 1) === 46);
}
