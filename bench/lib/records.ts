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
 * Tiers and locality in the bench data: `tiers` puts each name's last two addresses in tier 20
 * (backups), `zones` puts a name's first two addresses in one zone (`z0` or `z1` by name) and its
 * last two in the other, and writes BENCH_TOPOLOGY.
 */
export interface RecordPolicy {
  tiers?: boolean;
  zones?: boolean;
}

/** The zones `zones` writes: 192.0.0.0/21 and 192.0.8.0/21 (the bench's client addresses). */
export const BENCH_TOPOLOGY: { [zone: string]: string[] } = { z0: ['192.0.0.0/21'], z1: ['192.0.8.0/21'] };

/**
 * Writes `n` A records over ceil(n / PER_NAME) services, plus an UP health key for every
 * `healthEvery`-th address (1: all), in transactions of ≤ 128 operations (etcd's default
 * --max-txn-ops), 16 in flight. Returns the time taken in ms.
 */
export async function loadRecords(
  store: Store,
  n: number,
  healthEvery = 4,
  policy: RecordPolicy = {},
): Promise<number> {
  const started = performance.now();
  const BATCH = healthEvery === 1 ? 64 : 100;
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += BATCH) {
    const ops: Op[] = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) {
      const svc = Math.floor(j / PER_NAME);
      const ip = recordAddress(j);
      const backup = j % PER_NAME >= PER_NAME / 2;
      const tier = policy.tiers && backup ? 20 : 10;
      // a name's tier-10 pair in one zone, its backups in the other (which zone: by name), so a
      // client of one zone picks among its zone's two, a client of the other among the whole tier
      const zone = policy.zones ? { zone: `z${(svc + (backup ? 1 : 0)) % 2}` } : {};
      const value = JSON.stringify({
        host: ip,
        priority: tier,
        weight: 10,
        ttl: RECORD_TTL,
        type: 'A',
        ...zone,
      });
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
  if (policy.zones)
    for (const [zone, cidrs] of Object.entries(BENCH_TOPOLOGY))
      await store.put(`/hades/topology/${zone}`, JSON.stringify({ cidrs }));
  return performance.now() - started;
}
