/**
 * ICMP checks against an address in a network namespace this test creates: a veth pair between
 * the root namespace (169.254.77.1/30 on our end) and the test namespace (169.254.77.2/30),
 * addresses on those two test interfaces only, so every echo stays inside this machine. The
 * scanner (in process, embedded store, ICMP only) marks the address UP while it answers and DOWN
 * once the namespace's link is down. Skipped, with the reason, when not root or without
 * `ip netns`. The namespace (and with it the veth pair) is always removed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../src/config/logger.js';
import { icmpCheck } from '../../src/health/probe.js';
import { Scanner } from '../../src/health/scanner.js';
import { openEmbeddedStore } from '../../src/store/embedded/embedded.js';
import type { Store } from '../../src/store/types.js';
import { run, waitFor } from './procs.js';

const NS = `hades-icmp-${process.pid}`;
const HOST_IF = `hic${process.pid % 100000}a`;
const NS_IF = `hic${process.pid % 100000}b`;
const HOST_IP = '169.254.77.1';
const NS_IP = '169.254.77.2';

async function skipReason(): Promise<string | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (ip netns add)';
  const probe = await run('ip', ['netns', 'list']);
  if (probe.code !== 0) return `ip netns is unavailable here: ${probe.stderr.trim() || `exit ${probe.code}`}`;
  const ping = await run('ping', ['-V']);
  if (ping.code !== 0) return 'no system ping (iputils-ping)';
  return undefined;
}

async function sh(args: string[]): Promise<void> {
  const r = await run('ip', args);
  assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr}`);
}

describe('ICMP checks against a network namespace', async () => {
  const why = await skipReason();
  let created = false;
  let dir = '';
  let store: Store | undefined;
  let scanner: Scanner | undefined;

  before(async () => {
    if (why) return;
    await sh(['netns', 'add', NS]);
    created = true;
    await sh(['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF]);
    await sh(['link', 'set', NS_IF, 'netns', NS]);
    await sh(['addr', 'add', `${HOST_IP}/30`, 'dev', HOST_IF]);
    await sh(['link', 'set', HOST_IF, 'up']);
    await sh(['-n', NS, 'addr', 'add', `${NS_IP}/30`, 'dev', NS_IF]);
    await sh(['-n', NS, 'link', 'set', NS_IF, 'up']);
    await sh(['-n', NS, 'link', 'set', 'lo', 'up']);
    dir = mkdtempSync(path.join(os.tmpdir(), 'hades-icmp-'));
  });

  after(async () => {
    await scanner?.stop();
    await store?.close();
    if (created) await run('ip', ['netns', 'del', NS]);
    // deleting the namespace deletes the pair; make sure of it
    if ((await run('ip', ['link', 'show', HOST_IF])).code === 0) await run('ip', ['link', 'del', HOST_IF]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  // the seed's enable-icmp check, and the icmp probe of a status (issue 13) with its reasons
  const cases = [
    { name: 'enable-icmp', enableIcmp: true, status: { status: 'DOWN' } },
    {
      name: 'probe icmp',
      enableIcmp: false,
      status: {
        status: 'DOWN',
        probe: { icmp: {}, periodSeconds: 1, failureThreshold: 2, successThreshold: 2 },
      },
    },
  ];
  for (const c of cases)
    test(`${c.name}: reachable → UP (echo reply); link down → DOWN (no echo reply)`, {
      skip: why,
    }, async () => {
      await sh(['-n', NS, 'link', 'set', NS_IF, 'up']);
      await waitFor(
        'the namespace answers ping',
        async () => (await icmpCheck(NS_IP, { count: 1, timeoutMs: 500 })).ok,
        10_000,
      );
      store ??= await openEmbeddedStore({ dir });
      const s = store;
      await s.put(`/hades/monitor/status/${NS_IP}`, JSON.stringify(c.status));
      await s.put(`/hades/monitor/report/${NS_IP}`, '{"hostname":"icmp-test"}');
      scanner = new Scanner({
        store: s,
        hostname: 'icmp-test',
        statusPath: '/hades/monitor/status/',
        reportPath: '/hades/monitor/report/',
        heartPath: '/hades/monitor/heart/',
        heartbeatIntervalMs: 1000,
        checkTimeoutMs: 1000,
        checkIntervalMs: 300,
        scanPorts: [],
        enableIcmp: c.enableIcmp,
        pingTimeoutMs: 300,
        pingCount: 1,
        fall: 2,
        rise: 2,
        maxConcurrency: 4,
        logger: silentLogger,
      });
      try {
        await scanner.start();
        const status = async (): Promise<{ status?: string; reason?: string }> =>
          JSON.parse((await s.get(`/hades/monitor/status/${NS_IP}`))?.value ?? '{}');
        await waitFor('UP while it answers', async () => (await status()).status === 'UP', 20_000);
        assert.equal((await status()).reason, 'echo reply');
        assert.ok((await s.get(`/hades/monitor/heart/icmp-test`)) !== undefined, 'heartbeat key');
        await sh(['-n', NS, 'link', 'set', NS_IF, 'down']);
        await waitFor('DOWN once its link is down', async () => (await status()).status === 'DOWN', 20_000);
        assert.equal((await status()).reason, 'no echo reply');
        assert.equal((await icmpCheck(NS_IP, { count: 1, timeoutMs: 300 })).ok, false);
      } finally {
        await scanner.stop();
        scanner = undefined;
      }
    });
});
