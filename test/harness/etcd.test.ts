import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { type EtcdProcess, memberStatus, startEtcd, startEtcdCluster } from './etcd.js';

async function health(endpoint: string): Promise<unknown> {
  const res = await fetch(`${endpoint}/health`);
  return res.json();
}

describe('etcd test harness', () => {
  let etcd: EtcdProcess | undefined;
  after(async () => {
    await etcd?.stop();
  });

  it('starts, survives kill -9 + restart with its data, and stops cleanly', async () => {
    process.env.ETCD_NAME = 'must-be-ignored';
    etcd = await startEtcd();
    delete process.env.ETCD_NAME;
    assert.match(etcd.endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await health(etcd.endpoint), { health: 'true' });
    // Write through the v3 JSON gateway so the restart can be checked for data.
    const put = await fetch(`${etcd.endpoint}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({
        key: Buffer.from('k').toString('base64'),
        value: Buffer.from('v').toString('base64'),
      }),
    });
    assert.equal(put.status, 200);
    const pid = etcd.pid;
    assert.ok(pid);
    await etcd.kill();
    assert.equal(etcd.pid, undefined);
    await assert.rejects(fetch(`${etcd.endpoint}/health`));
    await etcd.restart();
    assert.notEqual(etcd.pid, pid);
    const range = await fetch(`${etcd.endpoint}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('k').toString('base64') }),
    });
    const body = (await range.json()) as { kvs: { value: string }[] };
    assert.equal(Buffer.from(body.kvs[0].value, 'base64').toString(), 'v');
    const dir = etcd.dataDir;
    await etcd.stop();
    await etcd.stop();
    assert.equal(existsSync(dir), false);
    await assert.rejects(fetch(`${etcd.endpoint}/health`));
  });

  it('two instances run side by side on different ports', async () => {
    const [a, b] = await Promise.all([startEtcd(), startEtcd()]);
    try {
      assert.notEqual(a.endpoint, b.endpoint);
      assert.deepEqual(await health(a.endpoint), { health: 'true' });
      assert.deepEqual(await health(b.endpoint), { health: 'true' });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('a three-member cluster: one leader, a new one after its kill, the member back, all removed on stop', async () => {
    const c = await startEtcdCluster(3);
    try {
      assert.equal(new Set(c.endpoints).size, 3);
      for (const e of c.endpoints) assert.deepEqual(await health(e), { health: 'true' });
      const leader = await c.leader();
      await leader.kill();
      const next = await c.leader();
      assert.notEqual(next, leader);
      await c.restartMember(c.members.indexOf(leader));
      const back = await memberStatus(leader.endpoint);
      assert.ok(back);
      await c.leader(); // all three agree again
    } finally {
      await c.stop();
    }
    for (const m of c.members) assert.equal(existsSync(m.dataDir), false);
  });
});
