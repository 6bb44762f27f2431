/**
 * Unit tests: kubeconfig / in-cluster options, the mapping's edge cases, and the reconciler's
 * batching and compare guards on a small in-memory Store.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { KeyValue, Store, Txn, TxnResult } from '../store/types.js';
import { inClusterOptions, kubeconfigOptions, parseSimpleYaml } from './client.js';
import { dashedIP, desiredState, type EndpointSlice, type Service } from './mapping.js';
import { reconcileOnce } from './reconcile.js';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: ${Buffer.from('PEM').toString('base64')}
    server: https://10.0.0.1:6443
  name: prod
- cluster:
    server: http://127.0.0.1:8080
    insecure-skip-tls-verify: true
  name: dev
contexts:
- context:
    cluster: prod
    user: admin
  name: prod-admin
- context:
    cluster: dev
    user: dev
  name: dev
current-context: "dev"
users:
- name: admin
  user:
    token: abc
- name: dev
  user:
    token: 'dev-token' # comment
`;

describe('client options', () => {
  test('kubeconfig: the current context picks cluster and user', () => {
    assert.deepEqual(kubeconfigOptions(KUBECONFIG), {
      server: 'http://127.0.0.1:8080',
      insecure: true,
      token: 'dev-token',
    });
    const prod = kubeconfigOptions(
      KUBECONFIG.replace('current-context: "dev"', 'current-context: prod-admin'),
    );
    assert.equal(prod.server, 'https://10.0.0.1:6443');
    assert.equal(prod.token, 'abc');
    assert.equal(String(prod.ca), 'PEM');
    assert.throws(() => kubeconfigOptions('apiVersion: v1\nclusters: []\n'), /no cluster server/);
    // JSON works too
    assert.equal(
      kubeconfigOptions(JSON.stringify(parseSimpleYaml(KUBECONFIG))).server,
      'http://127.0.0.1:8080',
    );
  });

  test('in-cluster: service host/port and the service-account files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hades-sa-'));
    writeFileSync(join(dir, 'token'), 'tok\n');
    writeFileSync(join(dir, 'ca.crt'), 'CA');
    assert.equal(inClusterOptions({}, dir), undefined);
    const o = inClusterOptions({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, dir);
    assert.equal(o?.server, 'https://[fd00::1]:443');
    assert.equal(o?.token, 'tok');
    assert.equal(String(o?.ca), 'CA');
  });
});

const opts = { domain: 'hades.local.', prefix: '/hades' };
const svc = (name: string, spec: Service['spec'], ns = 'default'): Service => ({
  metadata: { name, namespace: ns },
  spec,
});

describe('mapping', () => {
  test('dashed IPs', () => {
    assert.equal(dashedIP('172.0.0.2'), '172-0-0-2');
    assert.equal(dashedIP('5678:ABCD:0:0::1'), '5678-abcd--1');
  });

  test('services without an address, bad names and FQDN slices give nothing but dns-version', () => {
    const slices: EndpointSlice[] = [
      {
        metadata: { name: 's', namespace: 'default', labels: { 'kubernetes.io/service-name': 'h' } },
        addressType: 'FQDN',
        endpoints: [{ addresses: ['example.com'] }],
      },
    ];
    const d = desiredState(
      [
        svc('pending', { type: 'ClusterIP', clusterIP: '' }),
        svc('Bad_Name', { clusterIP: '10.0.0.1' }),
        svc('h', { clusterIP: 'None' }),
        svc('noext', { type: 'ExternalName' }),
        svc('lb', { type: 'LoadBalancer', clusterIP: '10.0.0.2' }),
      ],
      slices,
      { ...opts, svcIpSource: 'loadBalancer' },
    );
    assert.deepEqual([...d.records.values()], ['{"text":"1.1.0","ttl":30,"type":"TXT","source":"svc"}']);
    assert.equal(d.addresses.size, 0);
  });

  test('ready: null and absent count as ready; terminating not-ready endpoints are left out', () => {
    const d = desiredState(
      [svc('h', { clusterIP: 'None' })],
      [
        {
          metadata: { name: 's', namespace: 'default', labels: { 'kubernetes.io/service-name': 'h' } },
          addressType: 'IPv4',
          endpoints: [
            { addresses: ['10.1.0.1'], conditions: { ready: null } },
            { addresses: ['10.1.0.2'] },
            { addresses: ['10.1.0.3'], conditions: { ready: false, terminating: true } },
          ],
          ports: null,
        },
      ],
      opts,
    );
    assert.deepEqual([...d.addresses.keys()].sort(), ['10.1.0.1', '10.1.0.2']);
  });
});

/** A minimal in-memory Store: list, txn with modRevision compares, get. */
function memStore(): Store & { txns: number[]; data: Map<string, KeyValue>; beforeTxn?: () => void } {
  const data = new Map<string, KeyValue>();
  let rev = 1;
  const s = {
    data,
    txns: [] as number[],
    beforeTxn: undefined as (() => void) | undefined,
    kind: 'embedded' as const,
    async get(k: string) {
      return data.get(k);
    },
    async list(p: string) {
      return { revision: rev, kvs: [...data.values()].filter((kv) => kv.key.startsWith(p)) };
    },
    async txn(t: Txn): Promise<TxnResult> {
      s.beforeTxn?.();
      s.txns.push(t.success.length);
      const ok = t.compare.every(
        (c) => c.op === 'modRevision' && (data.get(c.key)?.modRevision ?? 0) === c.modRevision,
      );
      if (!ok) return { succeeded: false, revision: rev };
      rev++;
      for (const o of t.success) {
        if (o.op === 'put')
          data.set(o.key, {
            key: o.key,
            value: o.value,
            createRevision: rev,
            modRevision: rev,
            version: 1,
            lease: '0',
          });
        else if (o.op === 'delete') data.delete(o.key);
      }
      return { succeeded: true, revision: rev };
    },
    async put(k: string, v: string) {
      rev++;
      data.set(k, { key: k, value: v, createRevision: rev, modRevision: rev, version: 1, lease: '0' });
      return rev;
    },
  };
  return s as unknown as Store & { txns: number[]; data: Map<string, KeyValue>; beforeTxn?: () => void };
}

describe('reconciler', () => {
  const ranges = ['/hades/local/hades/svc/', '/hades/arpa/', '/hades/local/hades/dns-version/'];
  const many = (n: number) =>
    desiredState(
      Array.from({ length: n }, (_, i) => svc(`s${i}`, { clusterIP: `10.2.${i >> 8}.${i & 255}` })),
      [],
      opts,
    );

  test('batches of at most 100 operations; a second pass writes nothing', async () => {
    const st = memStore();
    const r = await reconcileOnce(st, many(120), ranges, '/hades/monitor/status/');
    assert.equal(r.put, 241); // 120 A + 120 PTR + dns-version
    assert.equal(r.healthCreated, 120);
    assert.ok(st.txns.every((n) => n <= 100));
    assert.equal(st.txns.length, Math.ceil(361 / 100));
    const again = await reconcileOnce(st, many(120), ranges, '/hades/monitor/status/');
    assert.deepEqual(again, {
      put: 0,
      deleted: 0,
      healthCreated: 0,
      healthDeleted: 0,
      probeSet: 0,
      probeRemoved: 0,
      probeSkipped: 0,
      skipped: 0,
      conflicts: 0,
    });
    const shrink = await reconcileOnce(st, many(10), ranges, '/hades/monitor/status/');
    assert.equal(shrink.deleted, 220);
    assert.equal(shrink.healthDeleted, 110);
  });

  test('a concurrent write between read and txn fails the batch instead of being clobbered', async () => {
    const st = memStore();
    await reconcileOnce(st, many(1), ranges, '/hades/monitor/status/');
    const key = [...st.data.keys()].find((k) => k.includes('/svc/default/s0/'))!;
    // someone replaces our record with a user's after we listed
    st.beforeTxn = () => {
      st.beforeTxn = undefined;
      void st.put(key, '{"host":"10.9.9.9","source":"api"}');
    };
    const r = await reconcileOnce(st, many(0), ranges, '/hades/monitor/status/');
    assert.equal(r.conflicts, 1);
    assert.equal(st.data.get(key)?.value, '{"host":"10.9.9.9","source":"api"}');
    // the next pass reads again: the user's record stays, ours go
    const r2 = await reconcileOnce(st, many(0), ranges, '/hades/monitor/status/');
    assert.equal(r2.conflicts, 0);
    assert.equal(st.data.get(key)?.value, '{"host":"10.9.9.9","source":"api"}');
  });
});
