/**
 * Issue 15 item 1 (d) on a real three-member etcd cluster: two hades-schedule processes
 * (lock TTL 2 s) and a hades-scanner, each given the endpoints with the etcd leader FIRST.
 * Kill the etcd leader, then a second member (no quorum), then bring both back; sampling both
 * schedulers' hades_schedule_leader every 50 ms throughout, never are both 1. The scanner's
 * heartbeat key stays (or comes back under a new lease) and its heartbeat gauge is 1 again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { type EtcdCluster, type EtcdProcess, startEtcdCluster } from '../harness/etcd.js';
import { freePort } from '../harness/ports.js';
import { type Proc, spawnBin } from '../health/procs.js';
import { metricValue, scrape } from '../lib/scrape.js';
import { sleep, waitFor } from '../lib/wait.js';

const LOCK = '/hades/monitor/lock';
const HEART = '/hades/monitor/heart/scan-a';

describe('hades-schedule and hades-scanner across etcd leader and quorum loss', { timeout: 240_000 }, () => {
  let cluster: EtcdCluster;
  let store: Store;
  let endpoints: string[];
  let firstLeader: EtcdProcess;
  const procs: Proc[] = [];
  const schedPorts: number[] = [];
  let scanPort: number;

  /** hades_schedule_leader of each scheduler (undefined: its port did not answer). */
  const leaders = async (): Promise<(number | undefined)[]> =>
    Promise.all(
      schedPorts.map(async (p) => {
        try {
          return metricValue(await scrape(p), 'hades_schedule_leader');
        } catch {
          return undefined;
        }
      }),
    );
  /** Samples the leader gauges every 50 ms for `ms`; returns the samples where both were 1. */
  const sample = async (ms: number): Promise<{ samples: number; both: number }> => {
    const end = Date.now() + ms;
    let samples = 0;
    let both = 0;
    while (Date.now() < end) {
      const l = await leaders();
      samples++;
      if (l.filter((v) => v === 1).length > 1) both++;
      await sleep(50);
    }
    return { samples, both };
  };
  const oneLeader = async (): Promise<boolean> => (await leaders()).filter((v) => v === 1).length === 1;
  const diag = (): string => procs.map((p, i) => `--- proc ${i} ---\n${p.output().slice(-3000)}`).join('\n');

  before(async () => {
    cluster = await startEtcdCluster(3);
    firstLeader = await cluster.leader();
    endpoints = [firstLeader.endpoint, ...cluster.endpoints.filter((e) => e !== firstLeader.endpoint)];
    store = await openEtcdStore({ endpoints });
    for (const host of ['sched-a', 'sched-b']) {
      const port = await freePort();
      schedPorts.push(port);
      procs.push(
        spawnBin('hades-schedule', [
          '-config-file',
          '',
          '-etcd-machine',
          endpoints.join(','),
          '-hostname',
          host,
          '-lock-ttl',
          '2',
          '-schedule-interval',
          '1',
          '-metrics-port',
          String(port),
          '-logtostderr',
        ]),
      );
    }
    scanPort = await freePort();
    procs.push(
      spawnBin('hades-scanner', [
        '-config-file',
        '',
        '-etcd-machine',
        endpoints.join(','),
        '-hostname',
        'scan-a',
        '-heartbeat-interval',
        '1',
        '-metrics-port',
        String(scanPort),
        '-logtostderr',
      ]),
    );
    await waitFor('one scheduler leads', oneLeader, 30_000, { diag });
    await waitFor('the scanner heartbeat', async () => (await store.get(HEART)) !== undefined, 30_000, {
      diag,
    });
  });

  after(async () => {
    for (const p of procs) await p.stop();
    await store?.close();
    await cluster?.stop();
  });

  it('the etcd leader dies: never two active schedulers; the scanner keeps its heartbeat', async () => {
    const lockBefore = await store.get(LOCK);
    const heartBefore = await store.get(HEART);
    assert.ok(lockBefore && heartBefore);
    await firstLeader.kill();
    // three lock TTLs: long enough for a lost lease to expire and a new scheduler to be elected
    const s = await sample(6000);
    console.log(`# leader killed: ${s.samples} samples of both schedulers, ${s.both} with two leaders`);
    assert.equal(s.both, 0);
    await waitFor('one scheduler leads after the kill', oneLeader, 20_000, { diag });
    const lockAfter = await store.get(LOCK);
    console.log(
      `# lock holder ${lockBefore.value} → ${lockAfter?.value}, lease ${lockBefore.lease === lockAfter?.lease ? 'kept' : 'new'}`,
    );
    await waitFor(
      'the scanner heartbeat after the kill',
      async () =>
        metricValue(await scrape(scanPort), 'hades_scanner_heartbeat_up') === 1 &&
        (await store.get(HEART)) !== undefined,
      20_000,
      { diag },
    );
    const heartAfter = await store.get(HEART);
    console.log(
      `# scanner heartbeat lease ${heartBefore.lease === heartAfter?.lease ? 'kept' : 're-registered'}`,
    );
  });

  it('quorum lost, then back: never two active schedulers; one leads again, the heartbeat is back', async () => {
    const leader = await cluster.leader();
    await leader.kill();
    const s = await sample(6000);
    const after = await leaders();
    console.log(
      `# quorum lost: ${s.samples} samples, ${s.both} with two leaders; leader gauges after 6 s: ${after.join(', ')}`,
    );
    assert.equal(s.both, 0);
    // a leader that cannot renew its lease for a whole TTL stops leading
    assert.deepEqual(
      after.filter((v) => v === 1),
      [],
    );
    for (const m of [firstLeader, leader]) await cluster.restartMember(cluster.members.indexOf(m));
    await cluster.leader(30_000);
    const back = sample(6000);
    await waitFor('one scheduler leads after quorum is back', oneLeader, 30_000, { diag });
    const s2 = await back;
    assert.equal(s2.both, 0);
    await waitFor(
      'the scanner heartbeat after quorum is back',
      async () =>
        metricValue(await scrape(scanPort), 'hades_scanner_heartbeat_up') === 1 &&
        (await store.get(HEART)) !== undefined,
      30_000,
      { diag },
    );
  });
});
