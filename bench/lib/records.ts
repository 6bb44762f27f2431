/**
 * The bench catalog: N A records in the Hades 1.x layout, four addresses per service
 * (`/hades/local/hades/svc/ns<svc % 100>/svc<svc>/<fnv>`, i.e. the name
 * `svc<svc>.ns<svc % 100>.svc.hades.local.`), and `UP` health keys for every `healthEvery`-th
address (catalog-load: every 4th, as its published figures; qps and memory: every address). Shared by
 * catalog-load, memory and qps (which also writes the same names as a Knot zone file).
 */
import { fnv1a32 } from '../../src/records/record.js';
import type { Op, Store } from '../../src/store/types.js';

/** Addresses (records) per service name. */
export const PER_NAME = 4;
/** The record TTL the loader writes. */
export const RECORD_TTL = 30;

/** The name of service `svc` (absolute, lower case). */
export function serviceName(svc: number): string {
  return `svc${svc}.ns${svc % 100}.svc.hades.local.`;
}

/** The address of record `j` (record j belongs to service j / PER_NAME). */
export function recordAddress(j: number): string {
  return `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`;
}

/**
 * Writes `n` A records over ceil(n / PER_NAME) services, plus an UP health key for every
 * `healthEvery`-th address (1: all), in transactions of ≤ 128 operations (etcd's default
 * --max-txn-ops), 16 in flight. Returns the time taken in ms.
 */
export async function loadRecords(store: Store, n: number, healthEvery = 4): Promise<number> {
  const started = performance.now();
  const BATCH = healthEvery === 1 ? 64 : 100;
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += BATCH) {
    const ops: Op[] = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) {
      const svc = Math.floor(j / PER_NAME);
      const ip = recordAddress(j);
      const value = JSON.stringify({ host: ip, priority: 10, weight: 10, ttl: RECORD_TTL, type: 'A' });
      ops.push({
        op: 'put',
        key: `/hades/local/hades/svc/ns${svc % 100}/svc${svc}/${fnv1a32(value)}`,
        value,
      });
      if (j % healthEvery === 0)
        ops.push({ op: 'put', key: `/hades/monitor/status/${ip}`, value: '{"status":"UP","ports":["80"]}' });
    }
    inflight.push(store.txn({ compare: [], success: ops }));
    if (inflight.length >= 16) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  return performance.now() - started;
}
