/** Name and address checks shared by /hades and /v1: every failure an ApiError naming the field. */
import { parseIP } from '../records/ip.js';
import { isInZone, NameError, parseName } from '../records/names.js';
import { badRequest, forbidden } from './errors.js';

/** The zone's parts: `user.<domain>` for short names, `svc.<domain>` for Kubernetes services. */
export interface Zone {
  domain: string;
  user: string;
  svc: string;
}

export function zoneOf(domain: string): Zone {
  return { domain, user: `user.${domain}`, svc: `svc.${domain}` };
}

/** A valid name, canonical; 400 naming `field` otherwise. */
export function checkName(text: unknown, field: string): string {
  if (typeof text !== 'string' || text.trim() === '') throw badRequest(`${field} is missing or empty`, field);
  const t = text.trim();
  if (t.includes('/')) throw badRequest(`${field} "${t}" has a "/"`, field);
  try {
    return parseName(t);
  } catch (e) {
    if (e instanceof NameError) throw badRequest(`${field} "${t}" is not a valid name: ${e.message}`, field);
    throw e;
  }
}

/**
 * The seed's names: a name inside the zone as given (`cctv1.user.hades.local`), anything else is
 * short for `<name>.user.<domain>` (`cctv1`).
 */
export function userName(zone: Zone, text: unknown, field: string): string {
  const n = checkName(text, field);
  if (n.includes('*')) throw badRequest(`${field} "${String(text).trim()}" has a wildcard label`, field);
  if (isInZone(n, zone.domain)) return n;
  return checkName(`${n}${zone.user}`, field);
}

/** Names the API may write: inside the zone, not the kube watcher's `svc.<domain>`. */
export function checkWritable(zone: Zone, name: string, field: string): void {
  if (!isInZone(name, zone.domain))
    throw badRequest(`${field} "${name}" is outside the zone ${zone.domain}`, field);
  if (isInZone(name, zone.svc))
    throw forbidden(
      `${field} "${name}" is under ${zone.svc}, which the Kubernetes watcher owns (read-only here)`,
    );
  if (name === zone.domain) throw badRequest(`${field} "${name}" is the zone apex`, field);
}

/** An IP of the given family (canonical text); 400 naming `field` otherwise. */
export function checkIP(text: unknown, field: string, family?: 4 | 6): string {
  if (typeof text !== 'string') throw badRequest(`${field} must be a string IP address`, field);
  const ip = parseIP(text);
  if (ip === undefined) throw badRequest(`${field} "${text}" is not an IP address`, field);
  if (family === 4 && ip.kind !== 'ipv4')
    throw badRequest(`${field} "${text}" is not an IPv4 address`, field);
  if (family === 6 && ip.kind !== 'ipv6')
    throw badRequest(`${field} "${text}" is not an IPv6 address`, field);
  return ip.text;
}

/** The body as a plain object with only `allowed` fields; 400 naming the first unknown one. */
export function checkObject(
  body: unknown,
  allowed: readonly string[],
  what = 'body',
): { [k: string]: unknown } {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw badRequest(`${what} must be a JSON object`, '');
  const obj = body as { [k: string]: unknown };
  for (const k of Object.keys(obj))
    if (!allowed.includes(k))
      throw badRequest(`unknown field "${k}" in ${what} (allowed: ${allowed.join(', ')})`, k);
  return obj;
}
