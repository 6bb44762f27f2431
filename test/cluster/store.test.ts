/**
 * The etcd Store on a real three-member cluster (test/harness/etcd.ts startEtcdCluster), the
 * endpoints listed with the leader first:
 * - back-to-back puts while the leader is killed, three times: the time from the kill to the
 *   first successful put is printed (a put pending at the kill is failed by the store once a new
 *   leader is elected, rather than after etcd's own 5 s request timeout);
 * - without quorum a put, a get and a lease grant each fail with ESTORE_UNAVAILABLE and
 *   `noQuorum` set (the time is printed); quorum() says so, and says ok again once a member is back.
 * Timings are printed, never asserted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import { type Store, StoreError } from '../../src/store/types.js';
import { type EtcdCluster, startEtcdCluster } from '../harness/etcd.js';
import { waitFor } from '../lib/wait.js';

describe('etcd store on a three-member cluster', { timeout: 180_000 }, () => {
  let cluster: EtcdCluster;
  let store: Store;

  before(async () => {
    cluster = await startEtcdCluster(3);
    const leader = await cluster.leader();
    store = await openEtcdStore({
      endpoints: [leader.endpoint, ...cluster.endpoints.filter((e) => e !== leader.endpoint)],
    });
  });

  after(async () => {
    await store?.close();
    await cluster?.stop();
  });

  it('writes come back after each leader kill', async () => {
    assert.equal((await store.quorum?.())?.ok, true);
    for (let round = 0; round < 3; round++) {
      const leader = await cluster.leader();
      let stop = false;
      let killedAt = 0;
      let firstOk = 0;
      const errors: string[] = [];
      const writer = (async () => {
        for (let i = 0; !stop; i++) {
          const start = Date.now();
          try {
            await store.put(`/cluster/r${round}`, String(i));
            if (killedAt > 0 && start >= killedAt && firstOk === 0) firstOk = Date.now();
          } catch (err) {
            assert.ok(err instanceof StoreError && err.code === 'ESTORE_UNAVAILABLE', String(err));
            errors.push(`${(err as Error).message} after ${Date.now() - start} ms`);
          }
        }
      })();
      await waitFor('a few puts', async () => (await store.get(`/cluster/r${round}`)) !== undefined);
      killedAt = Date.now();
      await leader.kill();
      await waitFor('a put after the kill', () => firstOk > 0, 30_000);
      stop = true;
      await writer;
      console.log(
        `# round ${round}: first put ${firstOk - killedAt} ms after the leader kill; failed: ${errors.join(' | ') || 'none'}`,
      );
      await cluster.restartMember(cluster.members.indexOf(leader));
      await cluster.leader(30_000);
    }
  });

  it('no quorum: put, get and grantLease fail fast, saying so; quorum() follows', async () => {
    const leader = await cluster.leader();
    const [other] = cluster.members.filter((m) => m !== leader);
    await leader.kill();
    await other.kill();
    await waitFor('quorum() says no quorum', async () => (await store.quorum?.())?.ok === false, 20_000);
    for (const [what, call] of [
      ['put', () => store.put('/cluster/nq', 'x')],
      ['get', () => store.get('/cluster/nq')],
      ['grantLease', () => store.grantLease(5)],
    ] as const) {
      const t = Date.now();
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.code, 'ESTORE_UNAVAILABLE');
        assert.match(err.noQuorum ?? '', /^1 of 3 members answer, none sees a leader$/);
        assert.match(err.message, /etcd has no quorum/);
        return true;
      });
      console.log(`# no quorum: ${what} failed in ${Date.now() - t} ms`);
    }
    await cluster.restartMember(cluster.members.indexOf(other));
    await waitFor('quorum() says ok again', async () => (await store.quorum?.())?.ok === true, 30_000);
    await store.put('/cluster/nq', 'y');
    assert.equal((await store.get('/cluster/nq'))?.value, 'y');
  });
});
