/**
 * `-snapshot` end to end: a real etcd and real hades processes. One hades keeps the snapshot
 * file; the store then changes and etcd dies; a new hades started with the same file answers
 * from it (stale: the gauge, the log, /ready 200) while etcd is down, and once etcd is back lists
 * and swaps to the store's current state. An unusable snapshot is not used (a warning) and hades
 * answers from etcd as without one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/store/types.js';
import type { EtcdProcess } from '../harness/etcd.js';
import { metricValue, scrape } from '../lib/scrape.js';
import { dig, digStatus, waitFor } from './clients.js';
import { etcdArgs, freeDnsPort, type HadesProc, startEtcdStore, startHades } from './hades-proc.js';

const ZONE = 'hades.local.';

async function answers(port: number, name: string): Promise<{ status: string; ips: string[] }> {
  const r = await dig(port, ['+noall', '+answer', '+comments', name, 'A', '-b', '127.0.0.1']);
  const ips = r.stdout
    .split('\n')
    .filter((l) => /\sIN\s+A\s/.test(l))
    .map((l) => l.trim().split(/\s+/).pop() as string)
    .sort();
  return { status: digStatus(r.stdout), ips };
}

describe('hades -snapshot: answering while etcd is unreachable at start', () => {
  let etcd: EtcdProcess;
  let store: Store;
  let dir: string;
  let file: string;
  const procs: HadesProc[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-snapshot-e2e-'));
    file = path.join(dir, 'catalog.snapshot');
    ({ etcd, store } = await startEtcdStore(async (s) => {
      await s.put('/hades/local/hades/web/a', '{"host":"10.7.0.1","select":"all"}');
      await s.put('/hades/local/hades/web/b', '{"host":"10.7.0.2"}');
      await s.put('/hades/monitor/status/10.7.0.2', '{"status":"DOWN"}');
      await s.put('/hades/local/hades/gone', '{"host":"10.7.0.9"}');
    }));
  });
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await store?.close();
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (extra: string[]): Promise<{ h: HadesProc; port: number; metrics: number }> => {
    const port = await freeDnsPort();
    const metrics = await freeDnsPort();
    const h = await startHades(
      etcdArgs(
        port,
        etcd,
        ['-snapshot', file, '-metrics-port', String(metrics), '-logtostderr', ...extra],
        ZONE,
      ),
      port,
      { zone: ZONE },
    );
    procs.push(h);
    return { h, port, metrics };
  };

  it('a hades keeps the file; a new one answers from it while etcd is down, then swaps to etcd', async () => {
    const a = await start([]);
    const rev = await store.put('/hades/local/hades/web/c', '{"host":"10.7.0.3"}');
    await waitFor('the snapshot with the last write', async () => {
      try {
        return JSON.parse(await readFile(file, 'utf8')).revision >= rev;
      } catch {
        return false;
      }
    });
    assert.deepEqual(await answers(a.port, 'web.hades.local'), {
      status: 'NOERROR',
      ips: ['10.7.0.1', '10.7.0.3'],
    });
    assert.equal(await a.h.stop(), 0);

    // the store moves on without any hades, then etcd goes away
    await store.put('/hades/local/hades/fresh', '{"host":"10.7.0.5"}');
    await store.delete('/hades/local/hades/gone');
    await etcd.kill();

    const b = await start([]);
    assert.match(b.h.stderr(), /answering from the snapshot \(stale\)/);
    assert.deepEqual(await answers(b.port, 'web.hades.local'), {
      status: 'NOERROR',
      ips: ['10.7.0.1', '10.7.0.3'],
    });
    assert.deepEqual(await answers(b.port, 'gone.hades.local'), { status: 'NOERROR', ips: ['10.7.0.9'] });
    assert.equal((await answers(b.port, 'fresh.hades.local')).status, 'NXDOMAIN');
    assert.equal(metricValue(await scrape(b.metrics), 'hades_catalog_stale'), 1);
    assert.equal((await fetch(`http://127.0.0.1:${b.metrics}/ready`)).status, 200);
    const staleFile = await readFile(file, 'utf8');

    await etcd.restart();
    await waitFor(
      'the store listed and swapped in',
      async () => (await answers(b.port, 'fresh.hades.local')).status === 'NOERROR',
      60_000,
    );
    assert.equal((await answers(b.port, 'gone.hades.local')).status, 'NXDOMAIN');
    assert.equal(metricValue(await scrape(b.metrics), 'hades_catalog_stale'), 0);
    await waitFor(
      'the snapshot rewritten from the store',
      async () => (await readFile(file, 'utf8')) !== staleFile,
      30_000,
    );
    assert.ok(
      JSON.parse(await readFile(file, 'utf8')).records.some(
        (r: string[]) => r[0] === '/hades/local/hades/fresh',
      ),
    );
    assert.equal(await b.h.stop(), 0);
  });

  it('an unusable snapshot is not used: a warning, and hades answers from etcd', async () => {
    await writeFile(file, '{"format":"hades-snapshot/1","prefix":"/hades"');
    const c = await start([]);
    assert.match(c.h.stderr(), /-snapshot not used/);
    assert.match(c.h.stderr(), /not JSON/);
    assert.equal((await answers(c.port, 'fresh.hades.local')).status, 'NOERROR');
    assert.equal(metricValue(await scrape(c.metrics), 'hades_catalog_stale'), 0);
    await c.h.stop();
  });
});
