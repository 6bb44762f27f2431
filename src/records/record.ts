/**
 * Record JSON: validation (strict for API writers, lenient for readers of the store), the one
 * serialisation writers store, the store-KV → Record conversion, and the FNV-1a leaf labels.
 */
import { RecordError, show } from './errors.js';
import { formatIPv4, parseIP, parseIPv4Lenient } from './ip.js';
import { keyToName } from './keys.js';
import { asciiLower, NameError, parseName, splitLabels } from './names.js';
import { checkZoneName } from './topology.js';
import type { HostKind, Record, RecordValue } from './types.js';
import { ALL_DOWN_POLICIES, SELECT_POLICIES } from './types.js';

export { RecordError } from './errors.js';

export type ParseMode = 'strict' | 'lenient';

/** Told about each field a lenient parse left out, for logs. `field` is the name as stored. */
export type DropHandler = (field: string, reason: string) => void;

export const MAX_U16 = 65535;
/** RFC 2181 8: TTLs are 31-bit. */
export const MAX_TTL = 2147483647;
/**
 * `text` limit in UTF-8 octets: split into 255-octet character-strings it still fits one
 * TXT record in a 64 KiB TCP response with a maximal question.
 */
export const MAX_TEXT_OCTETS = 64000;
/** Limit in UTF-8 octets for `group`, `type`, `source`, `user`, `cluster`. */
export const MAX_TAG_OCTETS = 255;

/** Every record field, in the order `serializeRecordValue` writes them (SkyDNS's, then Hades's). */
export const RECORD_FIELDS = [
  'host',
  'port',
  'priority',
  'weight',
  'text',
  'mail',
  'ttl',
  'targetstrip',
  'group',
  'type',
  'source',
  'user',
  'cluster',
  'select',
  'alldown',
  'zone',
] as const satisfies readonly (keyof RecordValue)[];

export type RecordField = (typeof RECORD_FIELDS)[number];

const FIELD_SET: ReadonlySet<string> = new Set(RECORD_FIELDS);

/** What a `host` is: an address in canonical text, a canonical absolute name, or nothing. */
export interface HostInfo {
  kind: HostKind;
  target: string;
}

const NONE: HostInfo = { kind: 'none', target: '' };

// ---- field checks: each returns undefined when fine, else what is wrong -------------------

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

function checkInt(v: unknown, max: number): string | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    return `must be an integer from 0 to ${max}`;
  return undefined;
}

function checkString(v: unknown, maxOctets: number): string | undefined {
  if (typeof v !== 'string') return 'must be a string';
  if (LONE_SURROGATE.test(v)) return 'must be valid Unicode (it has a lone surrogate)';
  if (v.length > maxOctets / 3 && utf8Length(v) > maxOctets)
    return `must be at most ${maxOctets} UTF-8 octets`;
  return undefined;
}

/**
 * Classifies a host: IPv4/IPv6 in canonical text, or a valid DNS name (lower case, absolute).
 * `lenient` also reads leading-zero IPv4 (`010.1.1.1`) as Go before 1.17 did.
 * Returns a string describing the problem when it is neither.
 */
export function classifyHost(host: string, lenient = false): HostInfo | string {
  const ip = parseIP(host);
  if (ip !== undefined) return { kind: ip.kind, target: ip.text };
  if (lenient) {
    const v4 = parseIPv4Lenient(host);
    if (v4 !== undefined) return { kind: 'ipv4', target: formatIPv4(v4) };
  }
  if (host === '') return 'must be an IPv4 address, an IPv6 address or a host name (it is empty)';
  if (host.includes(':')) return 'is not a valid IPv6 address (zone ids are not allowed)';
  let name: string;
  try {
    name = parseName(host);
  } catch (e) {
    if (e instanceof NameError) return `is neither an IP address nor a valid host name: ${e.message}`;
    throw e;
  }
  const labels = splitLabels(name);
  // RFC 1123 2.1 / RFC 3696 2: an all-numeric top-level label would read as an IPv4 address.
  if (labels.length > 0 && /^[0-9]+$/.test(labels[labels.length - 1]))
    return 'is not a valid IPv4 address, nor a host name (its last label is all digits)';
  return { kind: 'name', target: name };
}

type FieldCheck = (v: unknown) => string | undefined;

/** Checks of every field but `host` (classified by classifyHost). */
const CHECKS: { readonly [F in Exclude<RecordField, 'host'>]: FieldCheck } = {
  port: (v) => checkInt(v, MAX_U16),
  priority: (v) => checkInt(v, MAX_U16),
  weight: (v) => checkInt(v, MAX_U16),
  text: (v) => checkString(v, MAX_TEXT_OCTETS),
  mail: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false'),
  ttl: (v) => checkInt(v, MAX_TTL),
  targetstrip: (v) =>
    typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? undefined : 'must be a non-negative integer',
  group: (v) => checkString(v, MAX_TAG_OCTETS),
  type: (v) => checkString(v, MAX_TAG_OCTETS),
  source: (v) => checkString(v, MAX_TAG_OCTETS),
  user: (v) => checkString(v, MAX_TAG_OCTETS),
  cluster: (v) => checkString(v, MAX_TAG_OCTETS),
  select: (v) =>
    typeof v === 'string' && (SELECT_POLICIES as readonly string[]).includes(v)
      ? undefined
      : `must be one of ${SELECT_POLICIES.map((p) => `"${p}"`).join(', ')}`,
  alldown: (v) =>
    typeof v === 'string' && (ALL_DOWN_POLICIES as readonly string[]).includes(v)
      ? undefined
      : `must be one of ${ALL_DOWN_POLICIES.map((p) => `"${p}"`).join(', ')}`,
  zone: checkZoneName,
};

// ---- parsing ------------------------------------------------------------------------------

function parseObject(json: string): { [k: string]: unknown } {
  if (typeof json !== 'string') throw new RecordError('', 'record value is not a string');
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new RecordError('', `record value is not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new RecordError('', `record value must be a JSON object, got ${show(raw)}`);
  return raw as { [k: string]: unknown };
}

type Found = { [F in RecordField]?: unknown };

/** Bit of each field in a set of present fields (`FIELD_BIT[f]` = 1 << its RECORD_FIELDS index). */
const FIELD_BIT: { readonly [F in RecordField]: number } = Object.fromEntries(
  RECORD_FIELDS.map((f, i) => [f, 1 << i]),
) as { [F in RecordField]: number };

/**
 * The fields of a parsed value, as found (any order), the set of them as bits, and the host's
 * classification.
 */
function parseInternal(
  json: string,
  mode: ParseMode,
  onDrop?: DropHandler,
): { found: Found; fields: number; host: HostInfo } {
  const obj = parseObject(json);
  const lenient = mode !== 'strict';
  const found: Found = {};
  let fields = 0;
  let host = NONE;
  for (const k of Object.keys(obj)) {
    let field: string = k;
    if (!FIELD_SET.has(k)) {
      if (!lenient) throw new RecordError(k, `unknown record field "${k}"`);
      // Go's encoding/json (SkyDNS, CoreDNS, Hades 1.x) matches field names case-insensitively.
      field = asciiLower(k);
      if (!FIELD_SET.has(field)) continue;
    }
    const f = field as RecordField;
    const v = obj[k];
    let problem: string | undefined;
    if (f === 'host') {
      // Classified here once; toRecord reuses it.
      const h = typeof v === 'string' ? classifyHost(v, lenient) : 'must be a string';
      if (typeof h === 'string') problem = h;
      else host = h;
    } else problem = CHECKS[f](v);
    if (problem !== undefined) {
      if (!lenient) throw new RecordError(k, `record field "${k}" ${problem}, got ${show(v)}`);
      onDrop?.(k, `${problem}, got ${show(v)}`);
      continue;
    }
    found[f] = v;
    fields |= FIELD_BIT[f];
  }
  return { found, fields, host: found.host === undefined ? NONE : host };
}

/**
 * Parses a stored or submitted record value.
 *
 * - `strict` (API writers): the JSON must be an object; an unknown field, a wrongly typed field
 *   or a value out of range throws RecordError naming the field.
 * - `lenient` (readers of the store, which may hold SkyDNS/CoreDNS/Hades 1.x data): unknown
 *   fields are ignored, field names match case-insensitively (as Go's encoding/json does),
 *   bad optional fields are left out (and reported to `onDrop`); only a value that is not a
 *   JSON object throws.
 *
 * Values are kept as written (`host` is not rewritten); see `classifyHost` for its canonical form.
 */
export function parseRecordValue(json: string, mode: ParseMode, onDrop?: DropHandler): RecordValue {
  const { found } = parseInternal(json, mode, onDrop);
  // Build in field order: what serialisation writes.
  const out: Found = {};
  for (const f of RECORD_FIELDS) if (found[f] !== undefined) out[f] = found[f];
  return out as RecordValue;
}

/** The canonical target of a parsed value's `host` (lenient reading). */
export function hostInfo(v: RecordValue): HostInfo {
  if (v.host === undefined) return NONE;
  const h = classifyHost(v.host, true);
  return typeof h === 'string' ? NONE : h;
}

/**
 * A store key/value → Record: lenient parse, owner name from the key (the leaf label included),
 * host classified once. Throws RecordError when the key is not under `prefix` (field `key`)
 * or the value is not a JSON object (field '').
 */
export function toRecord(
  kv: { key: string; value: string; modRevision: number },
  prefix: string,
  onDrop?: DropHandler,
): Record {
  const name = keyToName(kv.key, prefix);
  if (name === undefined) throw new RecordError('key', `key "${kv.key}" is not under prefix "${prefix}"`);
  const { found, fields, host } = parseInternal(kv.value, 'lenient', onDrop);
  // The canonical target is usually the host as written: keep one string, not two equal ones.
  const target = host.target === found.host ? (found.host as string) : host.target;
  return recordMaker(fields)(kv.key, name, host.kind, target, kv.modRevision, found);
}

// ---- building Records ---------------------------------------------------------------------
//
// A catalog holds one Record per store key (100k+), so their layout matters. A Record built as
// `{ key, name, hostKind, target, modRevision, ...value }` keeps the value's fields in an
// out-of-object property array (an extra allocation, and slots to spare). Instead, each set of
// present fields gets its own object literal listing exactly those fields, in one order: every
// Record with that set shares one shape, with all its properties in-object (e.g. 104 B instead
// of ~135 B for the usual five fields), and absent fields stay absent (not `undefined`), so a
// Record still serialises and compares as its value plus the five derived fields.

type RecordMaker = (
  key: string,
  name: string,
  hostKind: HostKind,
  target: string,
  modRevision: number,
  v: Found,
) => Record;

const makers = new Map<number, RecordMaker>();

/** The maker for one set of present fields (bits of FIELD_BIT), generated once per set. */
function recordMaker(fields: number): RecordMaker {
  let make = makers.get(fields);
  if (make === undefined) {
    const present = RECORD_FIELDS.filter((f) => (fields & FIELD_BIT[f]) !== 0);
    try {
      // Field names come from RECORD_FIELDS, never from data.
      make = new Function(
        'key',
        'name',
        'hostKind',
        'target',
        'modRevision',
        'v',
        `return { key, name, hostKind, target, modRevision${present.map((f) => `, ${f}: v.${f}`).join('')} };`,
      ) as RecordMaker;
    } catch {
      // Code generation from strings disallowed (--disallow-code-generation-from-strings): the
      // same fields, in the same order, at the cost of an out-of-object property array.
      make = (key, name, hostKind, target, modRevision, v) => {
        const r: { [k: string]: unknown } = { key, name, hostKind, target, modRevision };
        for (const f of present) r[f] = v[f];
        return r as unknown as Record;
      };
    }
    makers.set(fields, make);
  }
  return make;
}

// ---- serialisation ------------------------------------------------------------------------

/** Go's json.Marshal escapes these (HTML safety, JS line terminators); doing the same keeps
 * leaf hashes equal to what Hades 1.x computed for the same value. */
const GO_ESCAPE = /[<>&\u2028\u2029]/;
const GO_ESCAPES = /[<>&\u2028\u2029]/g;
function goEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * The JSON writers store: fields in RECORD_FIELDS order, undefined ones left out, no other
 * properties (a Record serialises to its value). Byte-compatible with Go's json.Marshal of the
 * same fields, so `leafKey` labels match Hades 1.x's.
 */
export function serializeRecordValue(v: RecordValue): string {
  const src = v as { [k: string]: unknown };
  let out = '{';
  for (const f of RECORD_FIELDS) {
    const x = src[f];
    if (x === undefined) continue;
    if (out.length > 1) out += ',';
    out += `"${f}":${JSON.stringify(x)}`;
  }
  out += '}';
  return GO_ESCAPE.test(out) ? out.replace(GO_ESCAPES, goEscape) : out;
}

// ---- leaf labels --------------------------------------------------------------------------

/**
 * FNV-1a 32-bit over the UTF-8 bytes of `s`, lower-case hex without padding, as Go's
 * `fmt.Sprintf("%x", fnv.New32a().Sum32())`. Lone surrogates hash as U+FFFD.
 */
export function fnv1a32(s: string): string {
  let h = 0x811c9dc5;
  const byte = (b: number) => {
    h = Math.imul(h ^ b, 0x01000193);
  };
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      byte(c);
      continue;
    }
    if (c < 0x800) {
      byte(0xc0 | (c >> 6));
      byte(0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        byte(0xf0 | (cp >> 18));
        byte(0x80 | ((cp >> 12) & 0x3f));
        byte(0x80 | ((cp >> 6) & 0x3f));
        byte(0x80 | (cp & 0x3f));
        continue;
      }
      c = 0xfffd;
    }
    byte(0xe0 | (c >> 12));
    byte(0x80 | ((c >> 6) & 0x3f));
    byte(0x80 | (c & 0x3f));
  }
  return (h >>> 0).toString(16);
}

/** Key of one record under a name: `${nameKey}/${fnv1a32(value)}` (value as stored). */
export function leafKey(nameKey: string, value: string): string {
  return `${nameKey}/${fnv1a32(value)}`;
}
