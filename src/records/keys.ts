/**
 * The key layout shared with SkyDNS, CoreDNS's etcd plugin and Hades 1.x: a name's labels,
 * reversed, under a prefix. `cctv1.user.hades.local.` ↔ `/hades/local/hades/user/cctv1`.
 */
import { canonicalName, splitLabels } from './names.js';

export const DEFAULT_PREFIX = '/hades';

/** `/hades/` → `/hades`; `hades` → `/hades`. */
export function normalizePrefix(prefix: string): string {
  let p = prefix.startsWith('/') ? prefix : `/${prefix}`;
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

/** Name → key. The name need not be canonical; the key is lower case. */
export function nameToKey(name: string, prefix: string = DEFAULT_PREFIX): string {
  const labels = splitLabels(canonicalName(name));
  let key = normalizePrefix(prefix);
  for (let i = labels.length - 1; i >= 0; i--) key += `/${labels[i]}`;
  return key;
}

/** Key → canonical name, or undefined when the key is not under `prefix`. */
export function keyToName(key: string, prefix: string = DEFAULT_PREFIX): string | undefined {
  const p = normalizePrefix(prefix);
  if (!key.startsWith(`${p}/`)) return undefined;
  const parts = key.slice(p.length + 1).split('/');
  let name = '';
  for (let i = parts.length - 1; i >= 0; i--) {
    if (parts[i] === '') continue;
    name += `${parts[i].toLowerCase()}.`;
  }
  return name === '' ? '.' : name;
}
