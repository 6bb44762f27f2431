/**
 * GET /v1/scanners: the health pipeline as the store shows it. Live scanners are the heartbeat
 * keys `<heart-path><hostname>` (under a lease: a dead scanner's key goes by itself); each
 * scanner's value says when it last renewed (`renewed`, written by hades-scanner on every
 * renewal). Assigned counts are the report keys `<report-path><ip>` whose `hostname` names the
 * scanner; the active scheduler is the value (`<hostname>#<pid>`) of the election key at
 * `lock-path`. Three reads (two listings and a get); nothing is cached.
 */
import type { Store } from '../store/types.js';

/** The key layout of hades-scanner / hades-schedule. */
export interface MonitorPaths {
  /** One trailing slash. */
  heartPath: string;
  /** One trailing slash. */
  reportPath: string;
  /** No trailing slash (the election key itself). */
  lockPath: string;
}

/** The defaults of hades-scanner and hades-schedule (src/config/scanner.ts, schedule.ts). */
export const DEFAULT_MONITOR_PATHS: MonitorPaths = {
  heartPath: '/hades/monitor/heart/',
  reportPath: '/hades/monitor/report/',
  lockPath: '/hades/monitor/lock',
};

export interface ScannerView {
  hostname: string;
  /** false: no heartbeat key, but report keys still name it (a scanner that went, in its agent-downtime). */
  live: boolean;
  pid?: number;
  /** When its current heartbeat lease was granted. */
  since?: string;
  /** Last renewal (absent for scanners that do not write it). */
  renewed?: string;
  /** now − renewed, in seconds (absent without `renewed`). */
  heartbeatAgeSeconds?: number;
  /** Report keys naming it. */
  assigned: number;
}

export interface ScannersView {
  scanners: ScannerView[];
  /** Report keys naming no scanner (unreadable values). */
  unassigned: number;
  /** The active scheduler, or null when nobody holds the lock. */
  scheduler: { id: string; hostname: string; pid?: number } | null;
  /** The key layout read. */
  paths: MonitorPaths;
}

function objectOf(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const isTime = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

export async function scannersView(
  store: Store,
  paths: MonitorPaths,
  nowMs = Date.now(),
): Promise<ScannersView> {
  const [hearts, reports, lock] = await Promise.all([
    store.list(paths.heartPath),
    store.list(paths.reportPath),
    store.get(paths.lockPath),
  ]);
  const byHost = new Map<string, ScannerView>();
  for (const kv of hearts.kvs) {
    const hostname = kv.key.slice(paths.heartPath.length);
    if (hostname === '' || hostname.includes('/')) continue;
    const v = objectOf(kv.value) ?? {};
    const s: ScannerView = { hostname, live: true, assigned: 0 };
    if (typeof v.pid === 'number') s.pid = v.pid;
    if (isTime(v.since)) s.since = v.since;
    if (isTime(v.renewed)) {
      s.renewed = v.renewed;
      s.heartbeatAgeSeconds = Math.max(0, Math.round((nowMs - Date.parse(v.renewed)) / 100) / 10);
    }
    byHost.set(hostname, s);
  }
  let unassigned = 0;
  for (const kv of reports.kvs) {
    const rest = kv.key.slice(paths.reportPath.length);
    if (rest === '' || rest.includes('/')) continue;
    const host = objectOf(kv.value)?.hostname;
    if (typeof host !== 'string' || host === '') {
      unassigned++;
      continue;
    }
    let s = byHost.get(host);
    if (!s) {
      s = { hostname: host, live: false, assigned: 0 };
      byHost.set(host, s);
    }
    s.assigned++;
  }
  let scheduler: ScannersView['scheduler'] = null;
  if (lock) {
    const hash = lock.value.lastIndexOf('#');
    const pid = hash > 0 ? Number(lock.value.slice(hash + 1)) : Number.NaN;
    scheduler = Number.isInteger(pid)
      ? { id: lock.value, hostname: lock.value.slice(0, hash), pid }
      : { id: lock.value, hostname: lock.value };
  }
  const scanners = [...byHost.values()].sort((a, b) =>
    a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0,
  );
  return { scanners, unassigned, scheduler, paths };
}
