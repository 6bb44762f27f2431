/**
 * Unit tests of probe-keys.ts: which addresses a Service's probe applies to, the annotation's
 * validation, and the one write `statusOp` decides for a status key in every ownership case.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Service } from './mapping.js';
import { desiredProbes, PROBE_ANNOTATION, probeAddresses, type StatusInput, statusOp } from './probe-keys.js';

const ZONE = 'svc.hades.local.';
const P = { tcpSocket: { port: 80 } };
const OWNER = 'web.default.svc.hades.local.';

function svc(name: string, spec: Service['spec'], probe?: string, lb?: string[]): Service {
  return {
    metadata: {
      name,
      namespace: 'default',
      ...(probe !== undefined ? { annotations: { [PROBE_ANNOTATION]: probe } } : {}),
    },
    spec,
    status: lb ? { loadBalancer: { ingress: lb.map((ip) => ({ ip })) } } : {},
  };
}

describe('probe addresses and annotations', () => {
  test('ClusterIPs of both families and LB ingress IPs; not None, not hostnames, not ExternalName', () => {
    assert.deepEqual(
      probeAddresses(
        svc('a', { clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1', 'FD00::0001'] }, undefined, [
          '203.0.113.1',
          '10.0.0.1',
        ]),
      ),
      ['10.0.0.1', 'fd00::1', '203.0.113.1'],
    );
    assert.deepEqual(probeAddresses(svc('h', { clusterIP: 'None', clusterIPs: ['None'] })), []);
    assert.deepEqual(probeAddresses(svc('e', { type: 'ExternalName', externalName: 'x.example' })), []);
    assert.deepEqual(
      probeAddresses({
        metadata: { name: 'l' },
        status: { loadBalancer: { ingress: [{ hostname: 'lb.example' }] } },
      }),
      [],
    );
  });

  test('invalid values name the field; shared addresses keep the first Service by namespace/name', () => {
    const d = desiredProbes(
      [
        svc('z', { clusterIP: '10.0.0.9' }, JSON.stringify({ tcpSocket: { port: 1 } }), ['203.0.113.5']),
        svc('a', { clusterIP: '10.0.0.8' }, JSON.stringify(P), ['203.0.113.5']),
        svc('bad', { clusterIP: '10.0.0.7' }, '{"grpc":{"port":"x"}}'),
        svc('junk', { clusterIP: '10.0.0.6' }, 'yes'),
        svc('none', { clusterIP: 'None' }, 'not even looked at'),
      ],
      'hades.local.',
    );
    assert.deepEqual(d.probes.get('203.0.113.5'), { probe: P, service: 'a.default.svc.hades.local.' });
    assert.deepEqual(d.conflicts, [{ ip: '203.0.113.5', kept: 'default/a', ignored: 'default/z' }]);
    assert.deepEqual(
      d.invalid.map((i) => [i.service, i.field]),
      [
        ['default/bad', 'probe.grpc.port'],
        ['default/junk', 'probe'],
      ],
    );
    assert.deepEqual([...d.hold].sort(), ['10.0.0.6', '10.0.0.7']);
  });
});

describe('statusOp', () => {
  const want = { probe: P, service: OWNER };
  const ours = { probe: P, probeService: OWNER };
  const cases: {
    name: string;
    current?: object | string;
    input: Partial<StatusInput>;
    op?: string;
    value?: object;
  }[] = [
    { name: 'absent, nothing wanted', input: {}, op: undefined },
    {
      name: 'absent, record address',
      input: { create: ['80'] },
      op: 'healthCreated',
      value: { status: 'UP', ports: ['80'], source: 'svc' },
    },
    {
      name: 'absent, probe',
      input: { probe: want },
      op: 'healthCreated',
      value: { status: 'UP', ...ours, source: 'svc' },
    },
    {
      name: 'present, probe set keeping every field',
      current: { status: 'DOWN', reason: 'HTTP 503', admin: 'drain', x: 1 },
      input: { probe: want },
      op: 'probeSet',
      value: { status: 'DOWN', reason: 'HTTP 503', admin: 'drain', x: 1, ...ours },
    },
    {
      name: 'same probe, keys in another order: no write',
      current: { status: 'UP', probe: { periodSeconds: 5, tcpSocket: { port: 80 } }, probeService: OWNER },
      input: { probe: { probe: { tcpSocket: { port: 80 }, periodSeconds: 5 }, service: OWNER } },
      op: undefined,
    },
    {
      name: "someone else's probe",
      current: { status: 'UP', probe: { icmp: {} } },
      input: { probe: want },
      op: 'probeSkipped',
    },
    {
      name: "another zone's probe is someone else's",
      current: { status: 'UP', probe: P, probeService: 'web.default.svc.other.' },
      input: { probe: want },
      op: 'probeSkipped',
    },
    { name: 'not a JSON object', current: '"UP"', input: { probe: want }, op: 'probeSkipped' },
    {
      name: 'not a JSON object, released: left alone',
      current: 'garbage',
      input: { released: true },
      op: undefined,
    },
    {
      name: 'held (invalid annotation): nothing',
      current: { status: 'UP', ...ours, source: 'svc' },
      input: { hold: true },
      op: undefined,
    },
    {
      name: 'ours on our key, unused: deleted',
      current: { status: 'UP', ...ours, source: 'svc' },
      input: {},
      op: 'healthDeleted',
    },
    {
      name: 'ours on our key, still used by a record: probe removed',
      current: { status: 'UP', ports: ['80'], ...ours, source: 'svc' },
      input: { used: true },
      op: 'probeRemoved',
      value: { status: 'UP', ports: ['80'], source: 'svc' },
    },
    {
      name: 'ours on our key, drained: probe removed, key kept',
      current: { status: 'UP', ...ours, source: 'svc', admin: 'drain' },
      input: {},
      op: 'probeRemoved',
      value: { status: 'UP', source: 'svc', admin: 'drain' },
    },
    {
      name: "ours on someone's key: probe removed",
      current: { status: 'UP', ...ours },
      input: { released: true },
      op: 'probeRemoved',
      value: { status: 'UP' },
    },
    {
      name: 'released record address, our key: deleted',
      current: { status: 'DOWN', ports: ['80'], source: 'svc', reason: 'x' },
      input: { released: true },
      op: 'healthDeleted',
    },
    {
      name: 'released record address, older kubeapi shape: deleted',
      current: { status: 'DOWN', ports: ['80'], reason: 'x', changed: 't' },
      input: { released: true },
      op: 'healthDeleted',
    },
    {
      name: "released record address, the API's key: kept",
      current: { status: 'UP' },
      input: { released: true },
      op: undefined,
    },
    {
      name: 'released record address, our key with a foreign probe: kept',
      current: { status: 'UP', source: 'svc', probe: P },
      input: { released: true },
      op: undefined,
    },
    {
      name: 'not ours, not released: nothing',
      current: { status: 'UP', source: 'svc' },
      input: {},
      op: undefined,
    },
  ];
  for (const c of cases)
    test(c.name, () => {
      const cur =
        c.current === undefined
          ? undefined
          : typeof c.current === 'string'
            ? c.current
            : JSON.stringify(c.current);
      const op = statusOp(cur, { zone: ZONE, ...c.input });
      assert.equal(op?.kind, c.op);
      if (c.value !== undefined)
        assert.deepEqual(op && 'value' in op ? JSON.parse(op.value) : undefined, c.value);
    });
});
