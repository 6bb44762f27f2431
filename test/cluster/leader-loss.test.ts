/**
 * Issue 15 item 1 on a real three-member etcd cluster (test/harness/etcd.ts startEtcdCluster):
 * two hades replicas and hades-kubeapi's API, each given the endpoints with the leader FIRST,
 * a stream of UDP queries to both replicas and of API writes the whole time.
 *
 *   (a) kill the leader: no query fails, writes succeed again (the time to the first success
 *       is printed), both replicas converge on the store's revision;
 *   (b) kill a second member (no quorum): queries still answered, /ready 200, both replicas
 *       report hades_catalog_store_quorum 0 and watch state "disconnected"; an API write
 *       answers 503 {"error":"etcd has no quorum: …"} (the time is printed), and is not
 *       half-written;
 *   (c) restart both: writes succeed, the watches resume without a relist
 *       (hades_catalog_lists_total unchanged) and both replicas converge again.
 *
 * Timings are printed for the closing note, never asserted (beyond generous timeouts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../../src/dns/wire/constants.js';
import { decode } from '../../src/dns/wire/decode.js';
import { encodeQuery } from '../../src/dns/wire/encode.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { type Kubeapi, startKubeapi, TOKEN } from '../api/helpers.js';
import { udpQuery } from '../dns/clients.js';
import { type HadesProc, startHades } from '../dns/hades-proc.js';
import { type EtcdCluster, type EtcdProcess, startEtcdCluster } from '../harness/etcd.js';
import { freePort } from '../harness/ports.js';
import { scrape, metricValue as value } from '../lib/scrape.js';
import { sleep, waitFor } from '../lib/wait.js';

const DOMAIN = 'hades.local.';
const AUTH = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };

interface Replica {
  proc: HadesProc;
  dns: number;
  metrics: number;
}

/** UDP queries for `name` A, round robin over the replicas, one at a time, until stopped. */
class QueryLoad {
  sent = 0;
  failed: string[] = [];
  private stopped = false;
  private readonly done: Promise<void>;
  constructor(replicas: Replica[], name: string) {
    this.done = (async () => {
      for (let id = 1; !this.stopped; id++) {
        const r = replicas[id % replicas.length];
        this.sent++;
        try {
          const m = decode(
            await udpQuery(r.dns, encodeQuery({ id: id & 0xffff, name, type: RRType.A }), '127.0.0.1', 2000),
          );
          if (m.rcode !== Rcode.NOERROR || m.answers.length !== 1)
            this.failed.push(`#${id} to :${r.dns}: rcode ${m.rcode}, ${m.answers.length} answers`);
        } catch (err) {
          this.failed.push(`#${id} to :${r.dns}: ${(err as Error).message}`);
        }
        await sleep(5);
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** API writes (POST /v1/records, a new name each), one at a time, recording each outcome. */
class WriteLoad {
  results: { start: number; end: number; status: number; name: string; body: string }[] = [];
  private stopped = false;
  private readonly done: Promise<void>;
  constructor(base: string, tag: string) {
    this.done = (async () => {
      for (let i = 0; !this.stopped; i++) {
        const name = `${tag}${i}.w.${DOMAIN.slice(0, -1)}`;
        const start = Date.now();
        let status = 0;
        let body = '';
        try {
          const res = await fetch(`${base}/v1/records`, {
            method: 'POST',
            headers: AUTH,
            body: JSON.stringify({ name, type: 'A', address: `10.9.${(i >> 8) & 255}.${i & 255}` }),
            signal: AbortSignal.timeout(30_000),
          });
          status = res.status;
          body = await res.text();
        } catch (err) {
          body = (err as Error).message;
        }
        this.results.push({ start, end: Date.now(), status, name, body });
        await sleep(20);
      }
    })();
  }
  /** ms from `t` to the end of the first successful write that started after `t`. */
  firstSuccessAfter(t: number): number | undefined {
    const ok = this.results.find((r) => r.start >= t && r.status === 201);
    return ok === undefined ? undefined : ok.end - t;
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

describe('an etcd cluster losing its leader, then its quorum, then coming back', { timeout: 240_000 }, () => {
  let cluster: EtcdCluster;
  let store: Store;
  let kubeapi: Kubeapi;
  let base: string;
  const replicas: Replica[] = [];
  let queries: QueryLoad | undefined;
  let writes: WriteLoad | undefined;
  let endpoints: string[];
  let firstLeader: EtcdProcess;
  let listsBefore: number[] = [];

  const metrics = async (r: Replica) => scrape(r.metrics);
  const revision = async (): Promise<number> =>
    (await store.list('/hades/local/hades/nothing-here')).revision;
  const converged = async (): Promise<boolean> => {
    const rev = await revision();
    for (const r of replicas) if (value(await metrics(r), 'hades_catalog_revision') !== rev) return false;
    return true;
  };
  const diag = (): string =>
    replicas.map((r, i) => `--- hades ${i} ---\n${r.proc.stderr().slice(-3000)}`).join('\n') +
    `\n--- kubeapi ---\n${kubeapi?.stderr().slice(-3000)}`;

  before(async () => {
    cluster = await startEtcdCluster(3);
    firstLeader = await cluster.leader();
    // The leader first: after (a) every program's first endpoint is a dead one.
    endpoints = [firstLeader.endpoint, ...cluster.endpoints.filter((e) => e !== firstLeader.endpoint)];
    store = await openEtcdStore({ endpoints });
    await store.put('/hades/local/hades/web', JSON.stringify({ host: '10.0.0.1' }));
    for (let i = 0; i < 2; i++) {
      const dns = await freePort();
      const metricsPort = await freePort();
      const proc = await startHades(
        [
          '-addr',
          `127.0.0.1:${dns}`,
          '-machines',
          endpoints.join(','),
          '-domain',
          DOMAIN,
          '-metrics-port',
          String(metricsPort),
        ],
        dns,
      );
      replicas.push({ proc, dns, metrics: metricsPort });
    }
    const apiPort = await freePort();
    base = `http://127.0.0.1:${apiPort}`;
    kubeapi = await startKubeapi([
      '-config-file',
      '',
      '-etcd-server',
      endpoints.join(','),
      '-api-address',
      `127.0.0.1:${apiPort}`,
      '-hades-auth',
      TOKEN,
      '-api-rate',
      '0',
      '-logtostderr',
    ]);
    queries = new QueryLoad(replicas, 'web.hades.local.');
    writes = new WriteLoad(base, 'a');
    await waitFor('a first API write', () => writes?.results.some((r) => r.status === 201) ?? false, 20_000, {
      diag,
    });
  });

  after(async () => {
    await queries?.stop();
    await writes?.stop();
    for (const r of replicas) await r.proc.stop();
    await kubeapi?.stop();
    await store?.close();
    await cluster?.stop();
  });

  it('(a) the leader dies: no failed query, writes come back, both replicas converge', async () => {
    await waitFor('both replicas on the store revision', converged, 20_000, { diag });
    listsBefore = await Promise.all(
      replicas.map(async (r) => value(await metrics(r), 'hades_catalog_lists_total')),
    );
    const killedAt = Date.now();
    await firstLeader.kill();
    await waitFor(
      'an API write after the leader kill',
      () => writes?.firstSuccessAfter(killedAt) !== undefined,
      30_000,
      {
        diag,
      },
    );
    const ms = writes?.firstSuccessAfter(killedAt) ?? -1;
    const failedWrites = writes?.results.filter((r) => r.end >= killedAt && r.status !== 201) ?? [];
    console.log(
      `# leader killed: first successful API write ${ms} ms after the kill (${failedWrites.length} failed after the kill: ${failedWrites
        .map((r) => `${r.status} in ${r.end - r.start} ms`)
        .join(', ')})`,
    );
    const newLeader = await cluster.leader();
    assert.notEqual(newLeader, firstLeader);
    // keep writing a little under the new leader, then compare
    const n = writes?.results.length ?? 0;
    await waitFor('more writes', () => (writes?.results.length ?? 0) >= n + 5, 20_000);
    await waitFor('both replicas on the store revision after the leader kill', converged, 20_000, { diag });
    // a third replica started now, its first endpoint the dead one, lists and follows the rest
    const dns = await freePort();
    const metricsPort = await freePort();
    const late = await startHades(
      [
        '-addr',
        `127.0.0.1:${dns}`,
        '-machines',
        endpoints.join(','),
        '-domain',
        DOMAIN,
        '-metrics-port',
        String(metricsPort),
      ],
      dns,
    );
    replicas.push({ proc: late, dns, metrics: metricsPort });
    await waitFor('all three replicas on the store revision after the leader kill', converged, 20_000, {
      diag,
    });
    replicas.pop();
    await late.stop();
    for (const r of replicas) {
      const m = await metrics(r);
      assert.equal(value(m, 'hades_catalog_store_quorum'), 1);
      assert.equal(value(m, 'hades_catalog_watch_state', { state: 'connected' }), 1);
    }
    // every write the API confirmed is answered by both replicas
    const confirmed = (writes?.results ?? []).filter((r) => r.status === 201).slice(-3);
    for (const w of confirmed)
      for (const r of replicas) {
        const m = decode(await udpQuery(r.dns, encodeQuery({ id: 7, name: `${w.name}.`, type: RRType.A })));
        assert.equal(m.answers.length, 1, `${w.name} on :${r.dns}`);
      }
    assert.deepEqual(queries?.failed, []);
  });

  let lone: EtcdProcess;
  let lost: EtcdProcess[] = [];
  let noQuorumWrite = '';

  it('(b) quorum lost: answers from memory, marked stale, an API write is 503 "no quorum" fast', async () => {
    await writes?.stop();
    writes = undefined;
    const leader = await cluster.leader();
    const running = cluster.members.filter((m) => m.pid !== undefined);
    lone = running.find((m) => m !== leader) as EtcdProcess;
    lost = [firstLeader, leader];
    await leader.kill();
    for (const r of replicas) {
      await waitFor(
        `replica :${r.dns} reports no quorum`,
        async () => {
          const m = await metrics(r);
          return (
            value(m, 'hades_catalog_store_quorum') === 0 &&
            value(m, 'hades_catalog_watch_state', { state: 'disconnected' }) === 1
          );
        },
        20_000,
        { diag },
      );
      const ready = await fetch(`http://127.0.0.1:${r.metrics}/ready`);
      assert.equal(ready.status, 200);
    }
    for (let i = 0; i < 2; i++) {
      noQuorumWrite = `nq${i}.w.hades.local`;
      const t = Date.now();
      const res = await fetch(`${base}/v1/records`, {
        method: 'POST',
        headers: AUTH,
        body: JSON.stringify({ name: noQuorumWrite, type: 'A', address: '10.8.0.1' }),
        signal: AbortSignal.timeout(60_000),
      });
      const body = await res.text();
      console.log(`# no quorum: API write answered ${res.status} in ${Date.now() - t} ms: ${body.trim()}`);
      assert.equal(res.status, 503);
      assert.match(JSON.parse(body).error, /^etcd has no quorum: /);
    }
    assert.deepEqual(queries?.failed, []);
  });

  it('(c) members back: writes resume, watches resume without a relist, replicas converge', async () => {
    for (const m of lost) await cluster.restartMember(cluster.members.indexOf(m));
    await cluster.leader(30_000);
    assert.ok(lone.pid);
    writes = new WriteLoad(base, 'c');
    await waitFor(
      'an API write after quorum is back',
      () => writes?.results.some((r) => r.status === 201) ?? false,
      30_000,
      {
        diag,
      },
    );
    await store.put('/hades/local/hades/back', JSON.stringify({ host: '10.0.0.2' }));
    for (const r of replicas) {
      await waitFor(
        `replica :${r.dns} has quorum again`,
        async () => value(await metrics(r), 'hades_catalog_store_quorum') === 1,
        20_000,
        { diag },
      );
    }
    await waitFor('both replicas on the store revision after the members came back', converged, 20_000, {
      diag,
    });
    for (const r of replicas) {
      const m = decode(
        await udpQuery(r.dns, encodeQuery({ id: 8, name: 'back.hades.local.', type: RRType.A })),
      );
      assert.equal(m.answers.length, 1);
    }
    const listsAfter = await Promise.all(
      replicas.map(async (r) => value(await metrics(r), 'hades_catalog_lists_total')),
    );
    assert.deepEqual(listsAfter, listsBefore, 'no replica listed the store again');
    // the 503'd writes: all or nothing (the record and its health key together), here nothing
    const rec = await store.list('/hades/local/hades/w/nq');
    const health = await store.get('/hades/monitor/status/10.8.0.1');
    assert.equal(rec.kvs.length, 0, `no-quorum write applied: ${noQuorumWrite}`);
    assert.equal(health, undefined);
    await queries?.stop();
    console.log(`# ${queries?.sent} UDP queries during the test, ${queries?.failed.length} failed`);
    assert.deepEqual(queries?.failed, []);
  });
});
