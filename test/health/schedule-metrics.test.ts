/**
 * hades-schedule's -metrics-port on the real binary against real etcd: two schedulers (the
 * metrics port of one from its INI file's [General] metrics-port, the other's by flag), /health
 * and /ready on both (a standby is ready), /metrics scraped before and after a scanner's heartbeat
 * and two monitored addresses appear: the active one's assignments and reconciles move, its
 * leader gauge is 1 and the standby's 0.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { type EtcdProcess, freePort, startEtcd } from '../harness/etcd.js';
import { scrape, metricValue as value } from '../lib/scrape.js';
import { type Proc, spawnBin, waitFor } from './procs.js';

describe('hades-schedule -metrics-port', () => {
  let dir: string;
  let etcd: EtcdProcess;
  let store: Store;
  const procs: Proc[] = [];
  const ports: number[] = [];

  const get = (port: number, p: string) => fetch(`http://127.0.0.1:${port}${p}`);

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hades-schedule-metrics-'));
    etcd = await startEtcd();
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    ports.push(await freePort(), await freePort());
    const ini = path.join(dir, 'hades-schedule.conf');
    writeFileSync(
      ini,
      `[General]\nhostname = sched-a\nlock-ttl = 2\nmetrics-port = ${ports[0]}\nmetrics-addr = 127.0.0.1\n[Etcd]\netcd-machine = ${etcd.endpoint}\n`,
    );
    procs.push(spawnBin('hades-schedule', ['-config-file', ini, '-logtostderr']));
    await waitFor(
      'sched-a holds the lock',
      async () => (await store.get('/hades/monitor/lock')) !== undefined,
    );
    procs.push(
      spawnBin('hades-schedule', [
        '-config-file',
        '',
        '-etcd-machine',
        etcd.endpoint,
        '-hostname',
        'sched-b',
        '-lock-ttl',
        '2',
        '-metrics-port',
        String(ports[1]),
        '-logtostderr',
      ]),
    );
  });

  after(async () => {
    for (const p of procs) await p.stop();
    await store?.close();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('/health and /ready answer on both; the standby is ready too', async () => {
    for (const port of ports) {
      await waitFor(
        `ready on ${port}`,
        async () => (await get(port, '/ready').catch(() => undefined))?.status === 200,
      );
      const h = await get(port, '/health');
      assert.equal(h.status, 200);
      assert.equal(await h.text(), 'OK');
    }
  });

  it('the active scheduler counts the assignments it writes', async () => {
    const [active, standby] = ports;
    const before = await scrape(active);
    assert.equal(value(before, 'hades_schedule_leader'), 1);
    assert.equal(value(await scrape(standby), 'hades_schedule_leader'), 0);
    assert.ok(before.types.has('process_cpu_seconds_total'), 'process metrics');
    const assigned = value(before, 'hades_schedule_assignments_total', { op: 'assign' });
    const ok = value(before, 'hades_schedule_reconciles_total', { outcome: 'ok' });

    await store.put('/hades/monitor/heart/scanner-1', '{"hostname":"scanner-1"}');
    await store.put('/hades/monitor/status/10.77.0.1', '{"status":"UP","ports":["80"]}');
    await store.put('/hades/monitor/status/10.77.0.2', '{"status":"UP","ports":["80"]}');
    await waitFor(
      'two reports written',
      async () => (await store.list('/hades/monitor/report/')).kvs.length === 2,
    );
    let after = await scrape(active);
    await waitFor('the gauges catch up', async () => {
      after = await scrape(active);
      return value(after, 'hades_schedule_addresses') === 2;
    });
    assert.equal(value(after, 'hades_schedule_assignments_total', { op: 'assign' }) - assigned, 2);
    assert.ok(value(after, 'hades_schedule_reconciles_total', { outcome: 'ok' }) > ok);
    assert.equal(value(after, 'hades_schedule_scanners'), 1);
    const s = await scrape(standby);
    assert.deepEqual(
      [value(s, 'hades_schedule_leader'), value(s, 'hades_schedule_addresses')],
      [0, 0],
      'the standby reports nothing of its own',
    );

    // the address goes: its report is deleted
    await store.delete('/hades/monitor/status/10.77.0.2');
    await waitFor('unassigned', async () => {
      const p = await scrape(active);
      return value(p, 'hades_schedule_assignments_total', { op: 'unassign' }) === 1;
    });
  });
});
