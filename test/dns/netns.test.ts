/**
 * The system resolver against hades: a network namespace of our own whose resolv.conf
 * (/etc/netns/<ns>/resolv.conf, bind-mounted by `ip netns exec`) says `nameserver 127.0.0.1`,
 * hades inside it on port 53 (embedded store in a temp dir, written first from this process),
 * and `getent hosts` inside it. Skipped, with the reason, when not root or without `ip netns`.
 * The namespace and its /etc/netns directory are always removed afterwards.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openEmbeddedStore } from '../../src/store/embedded/embedded.js';
import { run, waitFor } from './clients.js';
import { type HadesProc, spawnHades, waitAnswering } from './hades-proc.js';
import { loadRecords, ZONES } from './records.js';

const NS = `hades-test-${process.pid}`;
const NETNS_ETC = '/etc/netns';
const NS_ETC = path.join(NETNS_ETC, NS);

async function skipReason(): Promise<string | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (ip netns add)';
  const probe = await run('ip', ['netns', 'list']);
  if (probe.code !== 0) return `ip netns is unavailable here: ${probe.stderr.trim() || `exit ${probe.code}`}`;
  return undefined;
}

function inNs(cmd: string, args: string[]) {
  return run('ip', ['netns', 'exec', NS, cmd, ...args]);
}

describe('getent hosts in a network namespace resolving through hades', async () => {
  const why = await skipReason();
  let created = false;
  let createdNetnsEtc = false;
  let dataDir = '';
  let hades: HadesProc | undefined;

  before(async () => {
    if (why) return;
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'hades-netns-'));
    const store = await openEmbeddedStore({ dir: dataDir });
    await loadRecords(store);
    await store.close();

    const add = await run('ip', ['netns', 'add', NS]);
    assert.equal(add.code, 0, `ip netns add: ${add.stderr}`);
    created = true;
    const up = await run('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    assert.equal(up.code, 0, `lo up: ${up.stderr}`);
    if (!existsSync(NETNS_ETC)) {
      mkdirSync(NETNS_ETC);
      createdNetnsEtc = true;
    }
    mkdirSync(NS_ETC, { recursive: true });
    writeFileSync(path.join(NS_ETC, 'resolv.conf'), 'nameserver 127.0.0.1\noptions timeout:1 attempts:2\n');
    // .local names must go to DNS, not to mDNS, whatever the host's nsswitch.conf says
    writeFileSync(path.join(NS_ETC, 'nsswitch.conf'), 'hosts: files dns\n');

    hades = spawnHades(['-addr', '127.0.0.1:53', '-data-dir', dataDir, '-domain', ZONES, '-select', 'all'], {
      wrap: ['ip', 'netns', 'exec', NS],
    });
    await waitAnswering(hades, 53, 'hades.local.', '127.0.0.1', 20_000, (args) =>
      inNs('dig', ['@127.0.0.1', '-p', '53', ...args]),
    );
  });

  after(async () => {
    try {
      if (hades) await hades.stop('SIGTERM');
    } finally {
      if (created) await run('ip', ['netns', 'del', NS]);
      rmSync(NS_ETC, { recursive: true, force: true });
      if (createdNetnsEtc && existsSync(NETNS_ETC) && readdirSync(NETNS_ETC).length === 0)
        rmdirSync(NETNS_ETC);
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('resolves a Hades 1.0.1-format service name', { skip: why }, async () => {
    const r = await inNs('getent', ['hosts', 'qiyf-nginx-5.default.svc.hades.local']);
    assert.equal(r.code, 0, `getent: exit ${r.code} ${r.stderr}`);
    assert.match(r.stdout, /^192\.168\.19\.113\s+qiyf-nginx-5\.default\.svc\.hades\.local/m);
  });

  it('follows a CNAME (tv1 → cctv1) to an address', { skip: why }, async () => {
    const r = await inNs('getent', ['hosts', 'tv1.user.hades.local']);
    assert.equal(r.code, 0, `getent: exit ${r.code} ${r.stderr}`);
    assert.match(r.stdout, /^192\.168\.10\.[123]\s+cctv1\.user\.hades\.local\s+tv1\.user\.hades\.local/m);
  });

  it('says "not found" (exit 2) for a name hades does not have, and sees a record added later', {
    skip: why,
  }, async () => {
    const missing = await inNs('getent', ['hosts', 'later.hades.local']);
    assert.equal(missing.code, 2);
    const store = await openEmbeddedStore({ dir: dataDir });
    try {
      await store.put('/hades/local/hades/later', '{"host":"10.0.0.42"}');
    } finally {
      await store.close();
    }
    await waitFor('the new record through getent', async () => {
      const r = await inNs('getent', ['hosts', 'later.hades.local']);
      return /^10\.0\.0\.42\s/m.test(r.stdout);
    });
  });

  it('was stopped cleanly', { skip: why }, async () => {
    assert.ok(hades);
    assert.equal(await hades.stop('SIGTERM'), 0, hades.stderr());
  });
});
