/**
 * Health status JSON and keys: `{"status":"UP"|"DOWN","ports":["80"]}` at
 * `<ip-monitor-path><ip>`, e.g. `/hades/monitor/status/192.168.10.3`, as Hades 1.x's scanner
 * wrote them. The IP in a key is in canonical text form (see ip.ts), so that the status of an
 * address meets the records that name it whatever text form either writer used.
 */
import { RecordError, show } from './errors.js';
import { canonicalIP, formatIPv4, parseIPv4Lenient } from './ip.js';
import { asciiLower } from './names.js';
import type { HealthState, HealthStatus } from './types.js';

/** Hades 1.x's `-ip-monitor-path` default. */
export const DEFAULT_MONITOR_PATH = '/hades/monitor/status/';

export const HEALTH_STATES: readonly HealthState[] = ['UP', 'DOWN'];

/**
 * One leading slash, exactly one trailing slash: Hades 1.x's flag default carried the slash
 * (`/hades/monitor/status/`) and its scanner config did not (`/hades/monitor/status`); both mean
 * the same keys.
 */
export function normalizeMonitorPath(path: string): string {
  let p = path.startsWith('/') ? path : `/${path}`;
  while (p.endsWith('//')) p = p.slice(0, -1);
  return p.endsWith('/') ? p : `${p}/`;
}

/** `<monitor path><canonical ip>`. Throws RecordError (field `ip`) when `ip` is not an address. */
export function healthKey(monitorPath: string, ip: string): string {
  const c = canonicalIP(ip);
  if (c === undefined) throw new RecordError('ip', `"${ip}" is not an IPv4 or IPv6 address`);
  return normalizeMonitorPath(monitorPath) + c;
}

/**
 * The canonical IP a health key is about, or undefined when the key is not directly under the
 * monitor path or its last part is not an address (leading-zero IPv4 is read as decimal).
 */
export function ipFromHealthKey(monitorPath: string, key: string): string | undefined {
  const p = normalizeMonitorPath(monitorPath);
  if (!key.startsWith(p)) return undefined;
  const rest = key.slice(p.length);
  if (rest === '' || rest.includes('/')) return undefined;
  const c = canonicalIP(rest);
  if (c !== undefined) return c;
  const v4 = parseIPv4Lenient(rest);
  return v4 === undefined ? undefined : formatIPv4(v4);
}

/**
 * Lenient parse of a health value. `status` is matched case-insensitively (field name and value)
 * and must be UP or DOWN: otherwise RecordError with field `status`. `ports` is kept when it is
 * an array of strings or integers (integers become strings), dropped otherwise. Every other
 * field is kept as is, so a compare-and-swap writer can preserve what it does not know.
 * Not JSON or not an object: RecordError with field ''.
 */
export function parseHealthStatus(json: string): HealthStatus {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new RecordError('', `health status is not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new RecordError('', `health status must be a JSON object, got ${show(raw)}`);
  const obj = raw as { [k: string]: unknown };
  let status: unknown;
  let statusSeen = false;
  let ports: unknown;
  const extras: [string, unknown][] = [];
  for (const k of Object.keys(obj)) {
    const lk = asciiLower(k);
    if (lk === 'status') {
      if (!statusSeen || k === 'status') status = obj[k];
      statusSeen = true;
    } else if (lk === 'ports') {
      if (ports === undefined || k === 'ports') ports = obj[k];
    } else extras.push([k, obj[k]]);
  }
  const state = typeof status === 'string' ? status.toUpperCase() : undefined;
  if (state !== 'UP' && state !== 'DOWN')
    throw new RecordError(
      'status',
      statusSeen
        ? `health field "status" must be "UP" or "DOWN", got ${show(status)}`
        : 'health field "status" is missing',
    );
  const out: HealthStatus = { status: state };
  if (Array.isArray(ports) && ports.every((p) => typeof p === 'string' || Number.isInteger(p)))
    out.ports = ports.map(String);
  for (const [k, v] of extras)
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

/** Values of a status's `admin` field the API writes. */
export const ADMIN_STATES = ['drain', 'none'] as const;
export type AdminState = (typeof ADMIN_STATES)[number];

/** True when the status says `"admin":"drain"` (exactly; anything else is not a drain). */
export function isDrained(h: HealthStatus): boolean {
  return h.admin === 'drain';
}

/** `{"status":...,"ports":[...],<extras in order>}`; undefined fields left out. */
export function serializeHealthStatus(h: HealthStatus): string {
  const ordered: { [k: string]: unknown } = { status: h.status };
  if (h.ports !== undefined) ordered.ports = h.ports;
  for (const k of Object.keys(h)) {
    if (k === 'status' || k === 'ports') continue;
    Object.defineProperty(ordered, k, { value: h[k], enumerable: true, writable: true, configurable: true });
  }
  return JSON.stringify(ordered);
}
