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
    assert.equal((await store.get(`${H}unit`))?.lease !== '0', true, 'heartbeat under a lease');
    await waitUntil('fast address checked many times', () => (rounds.get('10.9.0.2') ?? 0) >= 10);
    assert.equal(rounds.get('10.9.0.1'), 1, 'the slow one is still in its first round');
    // no change: nothing written
    const before = await store.get(`${S}10.9.0.2`);
    fastUp = false;
    await waitUntil('DOWN', async () => (await store.get(`${S}10.9.0.2`))?.value.includes('DOWN') === true);
    const down = await store.get(`${S}10.9.0.2`);
    assert.deepEqual(JSON.parse(down?.value ?? ''), { status: 'DOWN', ports: ['8080'], note: 'keep me' });
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
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((rounds.get('10.9.0.2') ?? 0) <= m + 1);
  } finally {
    await scanner.stop();
  }
  assert.equal(await store.get(`${H}unit`), undefined, 'stop revokes the heartbeat');
});
