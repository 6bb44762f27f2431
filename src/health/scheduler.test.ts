/**
 * Scheduler in process on the embedded store: report-path follows status-path, a scanner that
 * joins takes only what it wins, one whose heartbeat goes keeps its addresses for agent-downtime
 * (and keeps them if it comes back in time), a resigned scheduler's successor carries on.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor as waitUntil } from '../../test/lib/wait.js';
import { silentLogger } from '../config/logger.js';
import { type EmbeddedStore, openEmbeddedStore } from '../store/embedded/embedded.js';
import { assign } from './assign.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';

const S = '/u/status/';
const R = '/u/report/';
const H = '/u/heart/';
let dir: string;
let store: EmbeddedStore;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hades-scheduler-unit-'));
  store = await openEmbeddedStore({ dir });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function reports(): Promise<Map<string, string>> {
  const r = await store.list(R);
  return new Map(r.kvs.map((kv) => [kv.key.slice(R.length), JSON.parse(kv.value).hostname]));
}

const same = (a: Map<string, string>, b: Map<string, string>): boolean =>
  a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

function scheduler(id: string, downtimeMs: number): Scheduler {
  const o: SchedulerOptions = {
    store,
    id,
    statusPath: S,
    reportPath: R,
    heartPath: H,
    lockPath: '/u/lock',
    lockTtlSeconds: 2,
    scheduleIntervalMs: 500,
    agentDowntimeMs: downtimeMs,
    logger: silentLogger,
    debounceMs: 20,
  };
  return new Scheduler(o);
}

test('assignment follows status and heartbeats; agent-downtime holds a gone scanner’s share', async () => {
  const ips = Array.from({ length: 40 }, (_, i) => `10.8.0.${i + 1}`);
  for (const ip of ips) await store.put(S + ip, '{"status":"UP"}');
  await store.put(`${H}a`, '{}');
  await store.put(`${H}b`, '{}');
  // agent-downtime 3 s: b's absence below (600 ms + a store write) stays well within it on a slow machine
  const s1 = scheduler('s1', 3000);
  s1.start();
  await waitUntil('assigned to a and b', async () => same(await reports(), assign(ips, ['a', 'b'])));

  // c joins: only what c wins moves
  await store.put(`${H}c`, '{}');
  await waitUntil('c takes its share', async () => same(await reports(), assign(ips, ['a', 'b', 'c'])));

  // b goes and comes back within agent-downtime: nothing moves (negative checks: the sleeps give a
  // wrong move, 500 ms schedule interval and 20 ms debounce, the time to happen)
  await store.delete(`${H}b`);
  await new Promise((r) => setTimeout(r, 600));
  assert.ok(same(await reports(), assign(ips, ['a', 'b', 'c'])));
  await store.put(`${H}b`, '{}');
  await new Promise((r) => setTimeout(r, 3500));
  assert.ok(same(await reports(), assign(ips, ['a', 'b', 'c'])), 'b came back in time: kept its share');

  // b goes for good: after agent-downtime its addresses (only those) move
  await store.delete(`${H}b`);
  await waitUntil('b’s share moved', async () => same(await reports(), assign(ips, ['a', 'c'])));

  // a status goes: its report goes
  await store.delete(S + ips[0]);
  await waitUntil('report removed', async () => !(await reports()).has(ips[0]));

  // a second scheduler waits; the first resigns and the second carries on
  const s2 = scheduler('s2', 1500);
  s2.start();
  // a negative check: s2 must not take over while s1 holds the lock; 200 ms for it to (wrongly) do so
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(s1.active, true);
  assert.equal(s2.active, false);
  await s1.stop();
  await waitUntil('s2 active', () => s2.active);
  await store.put(S + ips[0], '{"status":"UP"}');
  await waitUntil('s2 assigns', async () => (await reports()).has(ips[0]));
  await s2.stop();
});

test('heartbeat rewrites (renewals) do not kick a reconcile; keys coming and going do', async () => {
  const heart = '/v/heart/';
  let passes = 0;
  const s = new Scheduler({
    store,
    id: 'quiet',
    statusPath: '/v/status/',
    reportPath: '/v/report/',
    heartPath: heart,
    lockPath: '/v/lock',
    lockTtlSeconds: 2,
    scheduleIntervalMs: 600_000, // only watch events and the first pass
    agentDowntimeMs: 0,
    logger: silentLogger,
    debounceMs: 20,
    onReconciled: () => {
      passes++;
    },
  });
  await store.put(`${heart}x`, '{"renewed":"0"}');
  s.start();
  try {
    await waitUntil('the first pass', () => passes >= 1);
    // once the heart watch is up, a new key kicks a pass
    let n = 0;
    await waitUntil('a new heartbeat key kicks', async () => {
      const before = passes;
      await store.put(`${heart}new-${n++}`, '{}');
      await new Promise((r) => setTimeout(r, 100));
      return passes > before;
    });
    await waitUntil('quiet', async () => {
      const before = passes;
      await new Promise((r) => setTimeout(r, 150));
      return passes === before;
    });
    const quiet = passes;
    for (let i = 1; i <= 5; i++) await store.put(`${heart}x`, JSON.stringify({ renewed: String(i) }));
    await new Promise((r) => setTimeout(r, 400)); // 20× the debounce
    assert.equal(passes, quiet, 'renewals of an existing key: no pass');
    await store.delete(`${heart}x`);
    await waitUntil('a key going kicks', () => passes > quiet);
  } finally {
    await s.stop();
  }
});
