/**
 * Unit tests: the mapping's edge cases, and the reconciler's
 * batching and compare guards on a small in-memory Store.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KeyValue, Store, Txn, TxnResult } from '../store/types.js';
import { dashedIP, desiredState, type EndpointSlice, endpointZone, type Service } from './mapping.js';
import { reconcileOnce } from './reconcile.js';

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

type Endpoint = NonNullable<EndpointSlice['endpoints']>[number];

/** One EndpointSlice of service `svcName` in `default` (IPv4 unless told), port `pg` 5432. */
const slice = (
  svcName: string,
  endpoints: Endpoint[],
  addressType = 'IPv4',
  name = `${svcName}-x`,
): EndpointSlice => ({
  metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': svcName } },
  addressType,
  endpoints,
  ports: [{ name: 'pg', protocol: 'TCP', port: 5432 }],
});

/** `TYPE host zone` of every record but dns-version, sorted ('-': no zone). */
function zonesOf(d: ReturnType<typeof desiredState>): string[] {
  return [...d.records.values()]
    .map((v) => JSON.parse(v) as { type: string; host?: string; port?: number; zone?: string })
    .filter((v) => v.type !== 'TXT')
    .map((v) => `${v.type} ${v.host}${v.port !== undefined ? `:${v.port}` : ''} ${v.zone ?? '-'}`)
    .sort();
}

describe('mapping: endpoint zones', () => {
  const Z63 = `z${'a'.repeat(61)}z`;
  const cases: {
    name: string;
    spec?: Service['spec'];
    slices: EndpointSlice[];
    want: string[];
    invalid?: unknown[];
  }[] = [
    {
      name: 'a zone goes on the endpoint A, its PTR and the SRV naming it',
      slices: [slice('db', [{ addresses: ['10.1.0.1'], zone: 'eu-west-1a' }])],
      want: [
        'A 10.1.0.1 eu-west-1a',
        'PTR 10-1-0-1.db.default.svc.hades.local eu-west-1a',
        'SRV 10-1-0-1.db.default.svc.hades.local:5432 eu-west-1a',
      ],
    },
    {
      name: 'IPv6 and a hostname, two endpoints in two zones',
      slices: [
        slice(
          'db',
          [
            { addresses: ['fd00::1'], hostname: 'db-0', zone: 'zone.a_1' },
            { addresses: ['fd00::2'], zone: 'B' },
          ],
          'IPv6',
        ),
      ],
      want: [
        'AAAA fd00::1 zone.a_1',
        'AAAA fd00::2 B',
        'PTR db-0.db.default.svc.hades.local zone.a_1',
        'PTR fd00--2.db.default.svc.hades.local B',
        'SRV db-0.db.default.svc.hades.local:5432 zone.a_1',
        'SRV fd00--2.db.default.svc.hades.local:5432 B',
      ],
    },
    {
      name: 'absent, null and empty: no zone, nothing reported',
      slices: [
        slice('db', [
          { addresses: ['10.1.0.1'] },
          { addresses: ['10.1.0.2'], zone: null },
          { addresses: ['10.1.0.3'], zone: '' },
        ]),
      ],
      want: [
        'A 10.1.0.1 -',
        'A 10.1.0.2 -',
        'A 10.1.0.3 -',
        'PTR 10-1-0-1.db.default.svc.hades.local -',
        'PTR 10-1-0-2.db.default.svc.hades.local -',
        'PTR 10-1-0-3.db.default.svc.hades.local -',
        'SRV 10-1-0-1.db.default.svc.hades.local:5432 -',
        'SRV 10-1-0-2.db.default.svc.hades.local:5432 -',
        'SRV 10-1-0-3.db.default.svc.hades.local:5432 -',
      ],
    },
    {
      name: '63 characters is a zone; 64, a space, a leading dash or a number are not (reported once each)',
      slices: [
        slice('db', [
          { addresses: ['10.1.0.1'], zone: Z63 },
          { addresses: ['10.1.0.2'], zone: `${Z63}a` },
          { addresses: ['10.1.0.3'], zone: 'a b' },
          { addresses: ['10.1.0.4'], zone: 'a b' },
          { addresses: ['10.1.0.5'], zone: '-a' },
          { addresses: ['10.1.0.6'], zone: 5 as unknown as string },
        ]),
      ],
      want: [
        `A 10.1.0.1 ${Z63}`,
        'A 10.1.0.2 -',
        'A 10.1.0.3 -',
        'A 10.1.0.4 -',
        'A 10.1.0.5 -',
        'A 10.1.0.6 -',
        `PTR 10-1-0-1.db.default.svc.hades.local ${Z63}`,
        'PTR 10-1-0-2.db.default.svc.hades.local -',
        'PTR 10-1-0-3.db.default.svc.hades.local -',
        'PTR 10-1-0-4.db.default.svc.hades.local -',
        'PTR 10-1-0-5.db.default.svc.hades.local -',
        'PTR 10-1-0-6.db.default.svc.hades.local -',
        `SRV 10-1-0-1.db.default.svc.hades.local:5432 ${Z63}`,
        'SRV 10-1-0-2.db.default.svc.hades.local:5432 -',
        'SRV 10-1-0-3.db.default.svc.hades.local:5432 -',
        'SRV 10-1-0-4.db.default.svc.hades.local:5432 -',
        'SRV 10-1-0-5.db.default.svc.hades.local:5432 -',
        'SRV 10-1-0-6.db.default.svc.hades.local:5432 -',
      ],
      invalid: [`${Z63}a`, 'a b', '-a', 5],
    },
    {
      name: 'a not-ready endpoint gives nothing, zone or not',
      slices: [slice('db', [{ addresses: ['10.1.0.1'], zone: 'z1', conditions: { ready: false } }])],
      want: [],
    },
    {
      name: 'a ClusterIP service: its records get no zone, whatever its endpoints say',
      spec: { clusterIP: '10.96.0.9', ports: [{ name: 'pg', port: 5432 }] },
      slices: [slice('db', [{ addresses: ['10.1.0.1'], zone: 'z1' }])],
      want: ['A 10.96.0.9 -', 'PTR db.default.svc.hades.local -', 'SRV db.default.svc.hades.local:5432 -'],
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const d = desiredState([svc('db', c.spec ?? { clusterIP: 'None' })], c.slices, opts);
      assert.deepEqual(zonesOf(d), c.want);
      assert.deepEqual(
        d.invalidZones.map((z) => z.zone),
        c.invalid ?? [],
      );
      for (const z of d.invalidZones) {
        assert.equal(z.slice, 'default/db-x');
        assert.match(z.message, /^must be/);
      }
    });

  test('endpointZone', () => {
    const bad: string[] = [];
    assert.equal(endpointZone('us-east-1c'), 'us-east-1c');
    assert.equal(endpointZone(undefined), undefined);
    assert.equal(endpointZone(''), undefined);
    assert.equal(
      endpointZone('Ünïcode', (m) => bad.push(m)),
      undefined,
    );
    assert.equal(bad.length, 1);
  });

  test('changing only the zone changes the leaf key: one txn puts the new records and deletes the old', async () => {
    const st = memStore();
    const ranges = ['/hades/local/hades/svc/', '/hades/arpa/', '/hades/local/hades/dns-version/'];
    const at = (zone: string) =>
      desiredState(
        [svc('db', { clusterIP: 'None' })],
        [slice('db', [{ addresses: ['10.1.0.1'], zone }])],
        opts,
      );
    await reconcileOnce(st, at('z1'), ranges, '/hades/monitor/status/');
    const before = new Set(st.data.keys());
    st.txns.length = 0;
    const r = await reconcileOnce(st, at('z2'), ranges, '/hades/monitor/status/');
    assert.equal(r.put, 3); // A, PTR, SRV
    assert.equal(r.deleted, 3);
    assert.equal(r.healthCreated + r.healthDeleted, 0, 'the address keeps its health key');
    assert.deepEqual(st.txns, [6], 'one transaction');
    const values = [...st.data.values()].filter((kv) => !kv.key.includes('/monitor/'));
    assert.deepEqual(
      values.filter((kv) => kv.value.includes('"zone"')).map((kv) => JSON.parse(kv.value).zone),
      ['z2', 'z2', 'z2'],
    );
    assert.ok(values.every((kv) => !before.has(kv.key) || kv.key.includes('dns-version')));
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
