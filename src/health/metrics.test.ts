/**
 * hades-schedule's metrics (ScheduleMetrics) move with what the Scheduler does, on the embedded
 * store: table-driven steps (a status key, a scanner joining, a status key going, the lock lost)
 * and the counters each must move; the leader gauge follows the election. The text passes
 * `strictErrors`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../test/lib/wait.js';
import { silentLogger } from '../config/logger.js';
import { parsePromText, seriesValue, strictErrors } from '../metrics/prom-text.js';
import { type EmbeddedStore, openEmbeddedStore } from '../store/embedded/embedded.js';
import { assign } from './assign.js';
import { ScannerMetrics, ScheduleMetrics } from './metrics.js';
import { Scheduler } from './scheduler.js';

const S = '/m/status/';
const R = '/m/report/';
const H = '/m/heart/';
const LOCK = '/m/lock';
let dir: string;
let store: EmbeddedStore;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hades-schedule-metrics-'));
  store = await openEmbeddedStore({ dir });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function scheduler(id: string, metrics: ScheduleMetrics): Scheduler {
  const s = new Scheduler({
    store,
    id,
    statusPath: S,
    reportPath: R,
    heartPath: H,
    lockPath: LOCK,
    lockTtlSeconds: 2,
    scheduleIntervalMs: 60_000,
    agentDowntimeMs: 0,
    logger: silentLogger,
    debounceMs: 20,
    metrics,
  });
  metrics.setSource(s);
  return s;
}

type Reading = Record<string, number>;

async function read(m: ScheduleMetrics): Promise<Reading> {
  const p = parsePromText(await m.registry.metrics());
  assert.deepEqual(strictErrors(p), []);
  const v = (name: string, labels: Record<string, string> = {}) => seriesValue(p, name, labels) ?? 0;
  return {
    assign: v('hades_schedule_assignments_total', { op: 'assign' }),
    move: v('hades_schedule_assignments_total', { op: 'move' }),
    unassign: v('hades_schedule_assignments_total', { op: 'unassign' }),
    ok: v('hades_schedule_reconciles_total', { outcome: 'ok' }),
    error: v('hades_schedule_reconciles_total', { outcome: 'error' }),
    leader: v('hades_schedule_leader'),
    scanners: v('hades_schedule_scanners'),
    addresses: v('hades_schedule_addresses'),
  };
}

describe('ScheduleMetrics', () => {
  it('counts reconciles and the assignments each writes', async () => {
    const ips = Array.from({ length: 12 }, (_, i) => `10.9.0.${i + 1}`);
    // the scheduler writes fenced on the lock holding its id: hold it by hand, no election
    await store.put(LOCK, 'unit');
    const m = new ScheduleMetrics({ processMetrics: false });
    const s = scheduler('unit', m);
    const moved = (from: string[], to: string[]) => {
      const a = assign(ips, from);
      const b = assign(ips, to);
      return ips.filter((ip) => a.get(ip) !== b.get(ip)).length;
    };
    const steps: { name: string; act: () => Promise<unknown>; delta: Reading }[] = [
      {
        name: 'nothing monitored',
        act: async () => {},
        delta: { ok: 1 },
      },
      {
        name: 'addresses and a scanner: each assigned',
        act: async () => {
          for (const ip of ips) await store.put(S + ip, '{"status":"UP"}');
          await store.put(`${H}a`, '{}');
        },
        delta: { ok: 1, assign: ips.length },
      },
      {
        name: 'nothing changed: nothing written',
        act: async () => {},
        delta: { ok: 1 },
      },
      {
        name: 'a second scanner: only its share moves',
        act: () => store.put(`${H}b`, '{}'),
        delta: { ok: 1, move: moved(['a'], ['a', 'b']) },
      },
      {
        name: 'two status keys go: their reports are deleted',
        act: async () => {
          await store.delete(S + ips[0]);
          await store.delete(S + ips[1]);
        },
        delta: { ok: 1, unassign: 2 },
      },
      {
        name: 'an unassigned report key comes back',
        act: async () => {
          await store.put(S + ips[0], '{"status":"UP"}');
        },
        delta: { ok: 1, assign: 1 },
      },
      {
        name: 'the lock is someone else’s: the write is refused, an error',
        act: async () => {
          await store.put(LOCK, 'other');
          await store.put(S + ips[1], '{"status":"UP"}');
        },
        delta: { error: 1 },
      },
    ];
    for (const step of steps) {
      const before = await read(m);
      await step.act();
      await s.reconcile().catch(() => {});
      const now = await read(m);
      for (const k of Object.keys(before))
        assert.equal(now[k] - before[k], step.delta[k] ?? 0, `${step.name}: ${k}`);
      // not elected (the lock was put by hand): the gauges stand by at 0
      assert.deepEqual([now.leader, now.scanners, now.addresses], [0, 0, 0], step.name);
    }
    assert.ok(moved(['a'], ['a', 'b']) > 0, 'the join moved something');
    await store.delete(LOCK);
  });

  it('the leader gauge, scanners and addresses follow the election', async () => {
    for (const kv of (await store.list('/m/')).kvs) await store.delete(kv.key);
    for (const ip of ['10.9.1.1', '10.9.1.2', '10.9.1.3']) await store.put(S + ip, '{"status":"UP"}');
    await store.put(`${H}a`, '{}');
    await store.put(`${H}b`, '{}');
    const m1 = new ScheduleMetrics({ processMetrics: false });
    const m2 = new ScheduleMetrics({ processMetrics: false });
    const s1 = scheduler('s1', m1);
    s1.start();
    await waitFor('s1 active and reconciled', async () => (await read(m1)).addresses === 3);
    const s2 = scheduler('s2', m2);
    s2.start();
    const r1 = await read(m1);
    assert.deepEqual([r1.leader, r1.scanners, r1.addresses], [1, 2, 3]);
    const r2 = await read(m2);
    assert.deepEqual([r2.leader, r2.scanners, r2.addresses, r2.ok], [0, 0, 0, 0], 'a standby');
    await s1.stop();
    await waitFor('s2 takes over', async () => (await read(m2)).addresses === 3);
    assert.equal((await read(m2)).leader, 1);
    assert.equal((await read(m1)).leader, 0);
    await s2.stop();
  });

  it('registers hades_ families and the standard process_/nodejs_ ones, each with help; the scanner registry too', () => {
    for (const reg of [new ScheduleMetrics().registry, new ScannerMetrics().registry]) {
      const names = reg.getMetricsAsArray().map((m) => m.name);
      for (const metric of reg.getMetricsAsArray()) {
        assert.match(metric.name, /^(hades|process|nodejs)_/);
        assert.ok(metric.help.length > 0, metric.name);
      }
      assert.ok(
        names.includes('process_cpu_user_seconds_total'),
        'the process metrics under their standard names',
      );
      assert.ok(names.some((n) => n.startsWith('hades_')));
    }
  });
});
