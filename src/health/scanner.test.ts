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
          return ip === '10.9.0.2' ? fastUp : true;
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
  const scanner = new Scanner(options({ hostname: 'flip', probes: { tcp: async () => up } }));
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
