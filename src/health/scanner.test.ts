/**
 * Scanner in process on the embedded store with stand-in probes: a slow address never delays the
 * others, status writes happen only on a change and keep the other fields, unassigning stops the
 * checks, and the heartbeat key lives under a lease.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { waitFor as waitUntil } from '../../test/lib/wait.js';
import { silentLogger } from '../config/logger.js';
import { type EmbeddedStore, openEmbeddedStore } from '../store/embedded/embedded.js';
import { ScannerMetrics } from './metrics.js';
import type { ProbeResult } from './probe.js';
import { Scanner, type ScannerOptions } from './scanner.js';

const S = '/t/status/';
const R = '/t/report/';
const H = '/t/heart/';
let dir: string;
let store: EmbeddedStore;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'hades-scanner-unit-'));
  store = await openEmbeddedStore({ dir });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A stand-in TCP check's result. */
function verdict(ok: boolean): ProbeResult {
  return ok
    ? { ok, reason: 'connected', class: 'ok' }
    : { ok, reason: 'connect ECONNREFUSED', class: 'connect' };
}

function options(over: Partial<ScannerOptions>): ScannerOptions {
  return {
    store,
    hostname: 'unit',
    statusPath: S,
    reportPath: R,
    heartPath: H,
    heartbeatIntervalMs: 1000,
    checkTimeoutMs: 1000,
    checkIntervalMs: 50,
    scanPorts: ['80'],
    enableIcmp: false,
    pingTimeoutMs: 100,
    pingCount: 1,
    fall: 2,
    rise: 2,
    maxConcurrency: 8,
    logger: silentLogger,
    ...over,
  };
}

test('a slow address does not delay the others; writes only changes, keeping fields', async () => {
  const rounds = new Map<string, number>();
  let fastUp = true;
  const scanner = new Scanner(
    options({
      probes: {
        tcp: async (ip) => {
          rounds.set(ip, (rounds.get(ip) ?? 0) + 1);
          if (ip === '10.9.0.1') await new Promise((r) => setTimeout(r, 3000)); // hangs far past the interval
          return verdict(ip === '10.9.0.2' ? fastUp : true);
        },
      },
    }),
  );
  await store.put(`${S}10.9.0.1`, '{"status":"UP"}');
  await store.put(`${S}10.9.0.2`, '{"status":"UP","ports":["8080"],"note":"keep me"}');
  await store.put(`${R}10.9.0.1`, '{"hostname":"unit"}');
  await store.put(`${R}10.9.0.2`, '{"hostname":"unit"}');
  await store.put(`${R}10.9.0.3`, '{"hostname":"someone-else"}');
  await scanner.start();
  try {
    assert.deepEqual(scanner.targets, ['10.9.0.1', '10.9.0.2']);
    const heart = await store.get(`${H}unit`);
    assert.equal(heart?.lease !== '0', true, 'heartbeat under a lease');
    const hv = JSON.parse(heart?.value ?? '{}') as { hostname?: string; since?: string; renewed?: string };
    assert.equal(hv.hostname, 'unit');
    assert.ok(hv.since && hv.renewed, 'heartbeat value has since and renewed');
    await waitUntil('fast address checked many times', () => (rounds.get('10.9.0.2') ?? 0) >= 10);
    assert.equal(rounds.get('10.9.0.1'), 1, 'the slow one is still in its first round');
    // no change: nothing written
    const before = await store.get(`${S}10.9.0.2`);
    fastUp = false;
    await waitUntil('DOWN', async () => (await store.get(`${S}10.9.0.2`))?.value.includes('DOWN') === true);
    const down = await store.get(`${S}10.9.0.2`);
    const downValue = JSON.parse(down?.value ?? '') as { changed?: string };
    assert.match(downValue.changed ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'changed: ISO time');
    assert.deepEqual(downValue, {
      status: 'DOWN',
      ports: ['8080'],
      note: 'keep me',
      reason: 'connect ECONNREFUSED',
      changed: downValue.changed,
    });
    assert.equal(down?.version, (before?.version ?? 0) + 1, 'one write for the change');
    const n = rounds.get('10.9.0.2') ?? 0;
    await waitUntil('more rounds', () => (rounds.get('10.9.0.2') ?? 0) >= n + 5);
    assert.equal(
      (await store.get(`${S}10.9.0.2`))?.version,
      down?.version,
      'no writes while DOWN stays DOWN',
    );
    // reassigned elsewhere: the checks stop
    await store.put(`${R}10.9.0.2`, '{"hostname":"someone-else"}');
    await waitUntil('unassigned', () => !scanner.targets.includes('10.9.0.2'));
    const m = rounds.get('10.9.0.2') ?? 0;
    // a negative check: no more rounds once unassigned; 300 ms for one to (wrongly) happen
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((rounds.get('10.9.0.2') ?? 0) <= m + 1);
  } finally {
    await scanner.stop();
  }
  assert.equal(await store.get(`${H}unit`), undefined, 'stop revokes the heartbeat');
});

test('each heartbeat renewal rewrites the value (renewed) on the same lease; a deleted key comes back', async () => {
  const scanner = new Scanner(options({ hostname: 'beat', heartbeatIntervalMs: 100 }));
  await scanner.start();
  try {
    const first = await store.get(`${H}beat`);
    assert.ok(first);
    await waitUntil(
      'a renewal',
      async () => ((await store.get(`${H}beat`))?.version ?? 0) >= first.version + 2,
    );
    const later = await store.get(`${H}beat`);
    assert.equal(later?.lease, first.lease, 'same lease');
    const a = JSON.parse(first.value) as { since: string; renewed: string };
    const b = JSON.parse(later?.value ?? '{}') as { since: string; renewed: string };
    assert.equal(b.since, a.since, 'since stays');
    assert.ok(b.renewed >= a.renewed, 'renewed moves on');
    await store.delete(`${H}beat`);
    await waitUntil('back', async () => (await store.get(`${H}beat`)) !== undefined);
  } finally {
    await scanner.stop();
  }
});

test('a transition back writes a new changed time', async () => {
  let up = false;
  const scanner = new Scanner(options({ hostname: 'flip', probes: { tcp: async () => verdict(up) } }));
  await store.put(`${S}10.9.1.1`, '{"status":"UP","changed":"2000-01-01T00:00:00.000Z"}');
  await store.put(`${R}10.9.1.1`, '{"hostname":"flip"}');
  await scanner.start();
  try {
    await waitUntil('DOWN', async () => (await store.get(`${S}10.9.1.1`))?.value.includes('DOWN') === true);
    const down = JSON.parse((await store.get(`${S}10.9.1.1`))?.value ?? '{}') as { changed: string };
    assert.notEqual(down.changed, '2000-01-01T00:00:00.000Z', 'the old time is replaced');
    up = true;
    await waitUntil('UP', async () => (await store.get(`${S}10.9.1.1`))?.value.includes('"UP"') === true);
    const upv = JSON.parse((await store.get(`${S}10.9.1.1`))?.value ?? '{}') as { changed: string };
    assert.notEqual(upv.changed, down.changed, 'a new time');
    assert.equal(Object.keys(upv).filter((k) => k === 'changed').length, 1);
  } finally {
    await scanner.stop();
  }
});

test('a probe in the status replaces the ports check: its reason, its thresholds, drain kept, bad probe left alone', async () => {
  const results = new Map<string, ProbeResult>();
  const calls: string[] = [];
  const metrics = new ScannerMetrics();
  const scanner = new Scanner(
    options({
      hostname: 'probe',
      metrics,
      probes: {
        tcp: async () => {
          throw new Error('the ports check must not run when there is a probe');
        },
        run: async (ip, handler) => {
          calls.push(`${ip} ${handler.kind}`);
          return results.get(ip) ?? { ok: true, reason: 'HTTP 200', class: 'ok' };
        },
      },
    }),
  );
  const http = { httpGet: { path: '/healthz', port: 8080 }, failureThreshold: 1, successThreshold: 3 };
  await store.put(`${S}10.9.2.1`, JSON.stringify({ status: 'UP', probe: http, admin: 'drain', extra: 1 }));
  await store.put(`${S}10.9.2.2`, JSON.stringify({ status: 'UP', probe: { httpGet: { port: 'http' } } }));
  await store.put(`${R}10.9.2.1`, '{"hostname":"probe"}');
  await store.put(`${R}10.9.2.2`, '{"hostname":"probe"}');
  const status = async (ip: string): Promise<Record<string, unknown>> =>
    JSON.parse((await store.get(`${S}${ip}`))?.value ?? '{}') as Record<string, unknown>;
  await scanner.start();
  try {
    await waitUntil('probed', () => calls.includes('10.9.2.1 httpGet'));
    results.set('10.9.2.1', { ok: false, reason: 'HTTP 503', class: 'http_status' });
    // failureThreshold 1: the first failed round turns it DOWN
    await waitUntil('DOWN', async () => (await status('10.9.2.1')).status === 'DOWN');
    const down = await status('10.9.2.1');
    assert.deepEqual(
      { ...down, changed: undefined },
      { status: 'DOWN', probe: http, admin: 'drain', extra: 1, reason: 'HTTP 503', changed: undefined },
    );
    const n = calls.length;
    results.set('10.9.2.1', { ok: true, reason: 'HTTP 200', class: 'ok' });
    await waitUntil('UP', async () => (await status('10.9.2.1')).status === 'UP');
    const ups = calls.slice(n).filter((c) => c === '10.9.2.1 httpGet').length;
    assert.ok(ups >= 3, `successThreshold 3: UP after 3 passed rounds, saw ${ups}`);
    assert.equal((await status('10.9.2.1')).reason, 'HTTP 200');
    assert.equal((await status('10.9.2.1')).admin, 'drain', 'drain survives the write');
    // the invalid probe: never run, the status untouched, counted once
    assert.ok(!calls.some((c) => c.startsWith('10.9.2.2')));
    assert.deepEqual(await status('10.9.2.2'), { status: 'UP', probe: { httpGet: { port: 'http' } } });
    const text = await metrics.registry.metrics();
    assert.match(text, /^hades_scanner_invalid_probes_total 1$/m);
    assert.match(text, /^hades_scanner_state_changes_total\{to="DOWN",reason="http_status"\} 1$/m);
    assert.match(text, /^hades_scanner_probes_total\{type="httpGet",result="fail"\} [1-9]/m);
  } finally {
    await scanner.stop();
  }
});

test('initialDelaySeconds holds the first check of an address the scanner takes', async () => {
  const calls = new Map<string, number>();
  const scanner = new Scanner(
    options({
      hostname: 'delay',
      probes: {
        run: async (ip) => {
          calls.set(ip, (calls.get(ip) ?? 0) + 1);
          return { ok: true, reason: 'connected', class: 'ok' };
        },
      },
    }),
  );
  const tcp = (extra: object) =>
    JSON.stringify({ status: 'UP', probe: { tcpSocket: { port: 80 }, periodSeconds: 1, ...extra } });
  await store.put(`${S}10.9.3.1`, tcp({ initialDelaySeconds: 3600 }));
  await store.put(`${S}10.9.3.2`, tcp({}));
  await store.put(`${R}10.9.3.1`, '{"hostname":"delay"}');
  await store.put(`${R}10.9.3.2`, '{"hostname":"delay"}');
  await scanner.start();
  try {
    await waitUntil('the other address checked twice', () => (calls.get('10.9.3.2') ?? 0) >= 2);
    assert.equal(calls.get('10.9.3.1'), undefined, 'an hour of initial delay: not checked yet');
  } finally {
    await scanner.stop();
  }
});
