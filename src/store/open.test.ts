import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { type EtcdProcess, startEtcd } from '../../test/harness/etcd.js';
import { openStore } from './open.js';

let etcd: EtcdProcess;
let dir: string;
before(async () => {
  etcd = await startEtcd();
  dir = await mkdtemp(join(tmpdir(), 'hades-open-'));
});
after(async () => {
  await etcd.stop();
  await rm(dir, { recursive: true, force: true });
});

const cases = [
  { name: 'machines given → etcd', machines: () => [etcd.endpoint], kind: 'etcd' },
  { name: 'no machines → embedded store in the data dir', machines: () => [], kind: 'embedded' },
] as const;
for (const c of cases) {
  it(c.name, async () => {
    const store = await openStore({ machines: c.machines(), dataDir: dir });
    try {
      assert.equal(store.kind, c.kind);
      await store.put('/hades/local/hades/x', '{"host":"127.0.0.1"}');
      assert.equal((await store.get('/hades/local/hades/x'))?.value, '{"host":"127.0.0.1"}');
    } finally {
      await store.close();
    }
  });
}
