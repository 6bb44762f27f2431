/**
 * The key layout shared with SkyDNS, CoreDNS's etcd plugin and Hades 1.x: a name's labels,
 * reversed, under a prefix. `cctv1.user.hades.local.` ↔ `/hades/local/hades/user/cctv1`.
 * The root name `.` is the prefix itself. A name's records are its key and every key below it.
 */
import { asciiLower, canonicalName, splitLabels } from './names.js';

export const DEFAULT_PREFIX = '/hades';

/** `/hades/` → `/hades`; `hades` → `/hades`; `` and `/` → `/` (keys then start `/local/...`). */
export function normalizePrefix(prefix: string): string {
  let p = prefix.startsWith('/') ? prefix : `/${prefix}`;
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

/**
 * Name → key. The name need not be canonical; the key is lower case. The name is not
 * validated: writers run it through `parseName` first.
 */
export function nameToKey(name: string, prefix: string = DEFAULT_PREFIX): string {
  const labels = splitLabels(canonicalName(name));
  const p = normalizePrefix(prefix);
  if (labels.length === 0) return p;
  let key = p === '/' ? '' : p;
  for (let i = labels.length - 1; i >= 0; i--) key += `/${labels[i]}`;
  return key;
}

/**
 * Key → canonical name, or undefined when the key is not under `prefix`. The prefix itself is
 * the root name `.`. Empty path segments (`//`, a trailing `/`) are skipped, as SkyDNS did.
 */
export function keyToName(key: string, prefix: string = DEFAULT_PREFIX): string | undefined {
  const p = normalizePrefix(prefix);
  const base = p === '/' ? '' : p;
  if (key === p) return '.';
  if (!key.startsWith(`${base}/`)) return undefined;
  const parts = key.slice(base.length + 1).split('/');
  let name = '';
  for (let i = parts.length - 1; i >= 0; i--) {
    if (parts[i] === '') continue;
    name += `${parts[i]}.`;
  }
  return name === '' ? '.' : asciiLower(name);
}
