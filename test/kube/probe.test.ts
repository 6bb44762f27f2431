/**
 * The `hades.io/probe` Service annotation against a real etcd and the fake API server: the probe
 * lands in the status keys of the Service's ClusterIPs and load-balancer IPs, follows annotation
 * changes keeping every other field, goes away with the annotation or the Service (the key too
 * when kubeapi created it, only `probe` when it was someone else's), is not written when invalid
 * (one warning, counted), is not written for headless Services, never overwrites another
 * writer's probe, and a relist after 410 Gone reconciles it. Table-driven: each case is a
 * sequence of steps, each a change in the cluster or the store and the status keys it must give.
 * Loopback only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Logger } from '../../src/common/logger.js';
import { type KubeHandle, type SvcIpSource, startKube } from '../../src/kube/index.js';
import { nameToKey } from '../../src/records/index.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { waitFor } from '../dns/clients.js';
import { type EtcdProcess, startEtcd } from '../harness/etcd.js';
import { endpointSlice, FakeApiServer, type Obj, type SvcInput, service } from './fake-apiserver.js';

const DOMAIN = 'hades.local.';
const ANNOTATION = 'hades.io/probe';
let etcd: EtcdProcess;
let store: Store;
let seq = 0;

before(async () => {
  etcd = await startEtcd();
  store = await openEtcdStore({ endpoints: [etcd.endpoint] });
});
after(async () => {
  await store?.close();
  await etcd?.stop();
});

const P1 = { httpGet: { path: '/healthz', port: 80 }, periodSeconds: 5 };
const P2 = { httpGet: { path: '/ready', port: 8080, expectStatus: '200,204' }, timeoutSeconds: 2 };
const TCP = { tcpSocket: { port: 443 } };
const owner = (svc: string, ns = 'default') => `${svc}.${ns}.svc.${DOMAIN}`;

/** A Service with `probe` (an object: its JSON; a string: the annotation as is) as its annotation. */
function svc(s: SvcInput & { probe?: unknown }): Obj {
  const { probe, ...rest } = s;
  if (probe === undefined) return service(rest);
  return service({
    ...rest,
    annotations: { [ANNOTATION]: typeof probe === 'string' ? probe : JSON.stringify(probe) },
  });
}

interface Env {
  fake: FakeApiServer;
  kube: KubeHandle;
  monitor: string;
  prefix: string;
  warnings: { obj: { [k: string]: unknown }; msg?: string }[];
  /** The parsed status of `ip` (undefined: no key). */
  status(ip: string): Promise<{ [k: string]: unknown } | undefined>;
  /** Waits until the watcher has seen every change made before the call and a pass wrote them. */
  settle(): Promise<void>;
}

/** What a step's status keys must hold: ip → parsed value, or undefined for "no key". */
type Want = { [ip: string]: { [k: string]: unknown } | undefined };

interface Step {
  what: string;
  act?: (env: Env) => void | Promise<void>;
  want: Want;
  /** Further assertions once `want` holds. */
  check?: (env: Env) => void | Promise<void>;
}

interface Case {
  name: string;
  svcIpSource?: SvcIpSource;
  /** Status keys written before kubeapi starts (a person's, the API's, the scanner's). */
  before?: { [ip: string]: object };
  services: Obj[];
  steps: Step[];
}

async function run(c: Case): Promise<void> {
  const fake = new FakeApiServer();
  await fake.start();
  for (const s of c.services) fake.apply('Service', s);
  const n = ++seq;
  const prefix = `/p${n}`;
  const monitor = `/p${n}/monitor/status/`;
  for (const [ip, v] of Object.entries(c.before ?? {})) await store.put(`${monitor}${ip}`, JSON.stringify(v));
  const warnings: Env['warnings'] = [];
  const logger: Logger = {
    debug() {},
    info() {},
    warn(obj, msg) {
      warnings.push({ obj: obj as { [k: string]: unknown }, msg });
    },
    error() {},
  };
  const kube = startKube({
    store,
    domain: DOMAIN,
    prefix,
    ipMonitorPath: monitor,
    masterUrl: fake.url,
    svcIpSource: c.svcIpSource ?? 'clusterIP',
    logger,
    debounceMs: 20,
    backoffMs: 20,
    maxBackoffMs: 200,
  });
  let sentinel = 0;
  const env: Env = {
    fake,
    kube,
    monitor,
    prefix,
    warnings,
    async status(ip) {
      const v = (await store.get(`${monitor}${ip}`))?.value;
      return v === undefined ? undefined : (JSON.parse(v) as { [k: string]: unknown });
    },
    async settle() {
      // events of one kind arrive in order: once a Service applied after the others has its
      // record, the pass that wrote it had seen them all
      const name = `settle-${++sentinel}`;
      fake.apply('Service', service({ name, clusterIP: `10.99.${n}.${sentinel}` }));
      const key = `${nameToKey(`${name}.default.svc.${DOMAIN}`, prefix)}/`;
      await waitFor(`${c.name}: ${name} written`, async () => (await store.list(key)).kvs.length > 0);
      await kube.reconcileNow();
    },
  };
  try {
    await waitFor(`${c.name}: synced`, () => kube.state() === 'synced');
    for (const step of c.steps) {
      await step.act?.(env);
      await env.settle();
      const have: Want = {};
      const holds = async (): Promise<boolean> => {
        for (const ip of Object.keys(step.want)) have[ip] = await env.status(ip);
        return Object.entries(step.want).every(
          ([ip, w]) => JSON.stringify(sorted(have[ip])) === JSON.stringify(sorted(w)),
        );
      };
      await waitFor(`${c.name} / ${step.what}`, holds).catch(() => {});
      for (const [ip, w] of Object.entries(step.want))
        assert.deepEqual(have[ip], w, `${c.name} / ${step.what}: status of ${ip}`);
      await step.check?.(env);
    }
  } finally {
    await kube.stop();
    await fake.close();
  }
}

function sorted(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as { [k: string]: unknown };
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, sorted(o[k])]),
  );
}

/** A second and third pass write nothing and leave every status key's revision as it was. */
async function noChurn(env: Env, ips: string[]): Promise<void> {
  const revs = async () =>
    Promise.all(ips.map(async (ip) => (await store.get(`${env.monitor}${ip}`))?.modRevision));
  const before = await revs();
  for (let i = 0; i < 2; i++) {
    const r = await env.kube.reconcileNow();
    assert.equal(r?.probeSet, 0, 'no probe rewritten');
    assert.equal(r?.healthCreated, 0);
  }
  assert.deepEqual(await revs(), before, 'status keys not rewritten');
}

const drained = {
  status: 'DOWN',
  reason: 'HTTP 503',
  changed: '2026-12-06T06:00:00.000Z',
  admin: 'drain',
  note: 'kept',
};

const cases: Case[] = [
  {
    name: 'ClusterIP, dual-stack',
    services: [
      svc({ name: 'web', clusterIPs: ['10.96.10.1', 'fd00:10:96::a1'], ports: [{ port: 80 }], probe: P1 }),
    ],
    steps: [
      {
        what: 'the probe in both new status keys, with the ports of the record',
        want: {
          '10.96.10.1': { status: 'UP', ports: ['80'], probe: P1, probeService: owner('web'), source: 'svc' },
          'fd00:10:96::a1': {
            status: 'UP',
            ports: ['80'],
            probe: P1,
            probeService: owner('web'),
            source: 'svc',
          },
        },
        check: (env) => noChurn(env, ['10.96.10.1', 'fd00:10:96::a1']),
      },
    ],
  },
  {
    name: 'LoadBalancer',
    services: [
      svc({
        name: 'lb',
        type: 'LoadBalancer',
        clusterIP: '10.96.10.2',
        lbIngress: ['203.0.113.10'],
        ports: [{ port: 443 }],
        probe: TCP,
      }),
    ],
    steps: [
      {
        what: 'ClusterIP and ingress IP get the probe',
        want: {
          '10.96.10.2': {
            status: 'UP',
            ports: ['443'],
            probe: TCP,
            probeService: owner('lb'),
            source: 'svc',
          },
          '203.0.113.10': { status: 'UP', probe: TCP, probeService: owner('lb'), source: 'svc' },
        },
        check: (env) => noChurn(env, ['10.96.10.2', '203.0.113.10']),
      },
      {
        what: 'the ingress IP changes: the old address is released, the new one gets the probe',
        act: (env) => {
          env.fake.apply(
            'Service',
            svc({
              name: 'lb',
              type: 'LoadBalancer',
              clusterIP: '10.96.10.2',
              lbIngress: ['203.0.113.20'],
              ports: [{ port: 443 }],
              probe: TCP,
            }),
          );
        },
        want: {
          '10.96.10.2': {
            status: 'UP',
            ports: ['443'],
            probe: TCP,
            probeService: owner('lb'),
            source: 'svc',
          },
          '203.0.113.10': undefined,
          '203.0.113.20': { status: 'UP', probe: TCP, probeService: owner('lb'), source: 'svc' },
        },
      },
      {
        what: 'annotation removed: the key made for the probe goes, the record address keeps its key',
        act: (env) => {
          env.fake.apply(
            'Service',
            svc({
              name: 'lb',
              type: 'LoadBalancer',
              clusterIP: '10.96.10.2',
              lbIngress: ['203.0.113.20'],
              ports: [{ port: 443 }],
            }),
          );
        },
        want: {
          '10.96.10.2': { status: 'UP', ports: ['443'], source: 'svc' },
          '203.0.113.20': undefined,
        },
      },
    ],
  },
  {
    name: 'annotation changed after the scanner and a person wrote',
    services: [
      svc({
        name: 'web2',
        type: 'LoadBalancer',
        clusterIP: '10.96.10.3',
        lbIngress: ['203.0.113.11'],
        ports: [{ port: 80 }],
        probe: P1,
      }),
    ],
    steps: [
      {
        what: 'created',
        want: {
          '10.96.10.3': {
            status: 'UP',
            ports: ['80'],
            probe: P1,
            probeService: owner('web2'),
            source: 'svc',
          },
          '203.0.113.11': { status: 'UP', probe: P1, probeService: owner('web2'), source: 'svc' },
        },
      },
      {
        what: 'status DOWN with a reason, drained, an unknown field; then the probe changes: only probe moves',
        act: async (env) => {
          for (const ip of ['10.96.10.3', '203.0.113.11']) {
            const key = `${env.monitor}${ip}`;
            const kv = await store.get(key);
            assert.ok(kv);
            const r = await store.txn({
              compare: [{ key, op: 'modRevision', modRevision: kv.modRevision }],
              success: [{ op: 'put', key, value: JSON.stringify({ ...JSON.parse(kv.value), ...drained }) }],
            });
            assert.ok(r.succeeded);
          }
          env.fake.apply(
            'Service',
            svc({
              name: 'web2',
              type: 'LoadBalancer',
              clusterIP: '10.96.10.3',
              lbIngress: ['203.0.113.11'],
              ports: [{ port: 80 }],
              probe: P2,
            }),
          );
        },
        want: {
          '10.96.10.3': { ...drained, ports: ['80'], probe: P2, probeService: owner('web2'), source: 'svc' },
          '203.0.113.11': { ...drained, probe: P2, probeService: owner('web2'), source: 'svc' },
        },
        check: (env) => noChurn(env, ['10.96.10.3', '203.0.113.11']),
      },
      {
        what: 'annotation removed: probe goes, the rest stays (a drained key is not deleted)',
        act: (env) => {
          env.fake.apply(
            'Service',
            svc({
              name: 'web2',
              type: 'LoadBalancer',
              clusterIP: '10.96.10.3',
              lbIngress: ['203.0.113.11'],
              ports: [{ port: 80 }],
            }),
          );
        },
        want: {
          '10.96.10.3': { ...drained, ports: ['80'], source: 'svc' },
          '203.0.113.11': { ...drained, source: 'svc' },
        },
      },
    ],
  },
  {
    name: 'status keys that were there before (the API, a person)',
    before: {
      '10.96.10.4': { status: 'UP' },
      '203.0.113.12': { status: 'DOWN', ports: ['443'], reason: 'HTTP 503', admin: 'none' },
    },
    services: [
      svc({
        name: 'pre',
        type: 'LoadBalancer',
        clusterIP: '10.96.10.4',
        lbIngress: ['203.0.113.12'],
        ports: [{ port: 443 }],
        probe: P1,
      }),
    ],
    steps: [
      {
        what: 'probe set, nothing else changed',
        want: {
          '10.96.10.4': { status: 'UP', probe: P1, probeService: owner('pre') },
          '203.0.113.12': {
            status: 'DOWN',
            ports: ['443'],
            reason: 'HTTP 503',
            admin: 'none',
            probe: P1,
            probeService: owner('pre'),
          },
        },
      },
      {
        what: 'annotation removed: exactly what was there before',
        act: (env) => {
          env.fake.apply(
            'Service',
            svc({
              name: 'pre',
              type: 'LoadBalancer',
              clusterIP: '10.96.10.4',
              lbIngress: ['203.0.113.12'],
              ports: [{ port: 443 }],
            }),
          );
        },
        want: {
          '10.96.10.4': { status: 'UP' },
          '203.0.113.12': { status: 'DOWN', ports: ['443'], reason: 'HTTP 503', admin: 'none' },
        },
      },
      {
        what: 'annotated again',
        act: (env) => {
          env.fake.apply(
            'Service',
            svc({
              name: 'pre',
              type: 'LoadBalancer',
              clusterIP: '10.96.10.4',
              lbIngress: ['203.0.113.12'],
              ports: [{ port: 443 }],
              probe: TCP,
            }),
          );
        },
        want: {
          '10.96.10.4': { status: 'UP', probe: TCP, probeService: owner('pre') },
          '203.0.113.12': {
            status: 'DOWN',
            ports: ['443'],
            reason: 'HTTP 503',
            admin: 'none',
            probe: TCP,
            probeService: owner('pre'),
          },
        },
      },
      {
        what: 'Service deleted: the keys stay as they were before',
        act: (env) => env.fake.remove('Service', 'default', 'pre'),
        want: {
          '10.96.10.4': { status: 'UP' },
          '203.0.113.12': { status: 'DOWN', ports: ['443'], reason: 'HTTP 503', admin: 'none' },
        },
      },
    ],
  },
  {
    name: 'Service deleted',
    services: [
      svc({
        name: 'gone',
        type: 'LoadBalancer',
        clusterIP: '10.96.10.5',
        lbIngress: ['203.0.113.13'],
        ports: [{ port: 80 }],
        probe: P1,
      }),
    ],
    steps: [
      {
        what: 'created',
        want: {
          '10.96.10.5': {
            status: 'UP',
            ports: ['80'],
            probe: P1,
            probeService: owner('gone'),
            source: 'svc',
          },
          '203.0.113.13': { status: 'UP', probe: P1, probeService: owner('gone'), source: 'svc' },
        },
      },
      {
        what: 'the keys kubeapi created go',
        act: (env) => env.fake.remove('Service', 'default', 'gone'),
        want: { '10.96.10.5': undefined, '203.0.113.13': undefined },
      },
    ],
  },
  {
    name: 'invalid annotations',
    services: [
      svc({ name: 'notjson', clusterIP: '10.96.10.6', ports: [{ port: 80 }], probe: '{"httpGet":' }),
      svc({
        name: 'badport',
        clusterIP: '10.96.10.7',
        ports: [{ port: 80 }],
        probe: { httpGet: { path: '/', port: 0 } },
      }),
      svc({
        name: 'good',
        type: 'LoadBalancer',
        clusterIP: '10.96.10.8',
        lbIngress: ['203.0.113.14'],
        ports: [{ port: 80 }],
        probe: P1,
      }),
    ],
    steps: [
      {
        what: 'no probe written, one warning each naming the Service and the field',
        want: {
          '10.96.10.6': { status: 'UP', ports: ['80'], source: 'svc' },
          '10.96.10.7': { status: 'UP', ports: ['80'], source: 'svc' },
          '10.96.10.8': {
            status: 'UP',
            ports: ['80'],
            probe: P1,
            probeService: owner('good'),
            source: 'svc',
          },
        },
        check: async (env) => {
          await env.kube.reconcileNow();
          await env.kube.reconcileNow();
          const w = env.warnings.filter((x) => x.msg === 'kube: invalid probe annotation ignored');
          assert.deepEqual(w.map((x) => [x.obj.service, x.obj.field]).sort(), [
            ['default/badport', 'probe.httpGet.port'],
            ['default/notjson', 'probe'],
          ]);
          assert.equal(env.kube.stats.invalidProbes, 2);
        },
      },
      {
        what: 'a valid annotation made invalid: the last good probe stays, nothing written',
        act: (env) => {
          env.fake.apply(
            'Service',
            svc({
              name: 'good',
              type: 'LoadBalancer',
              clusterIP: '10.96.10.8',
              lbIngress: ['203.0.113.14'],
              ports: [{ port: 80 }],
              probe: { httpGet: { port: 80 }, tcpSocket: { port: 80 } },
            }),
          );
        },
        want: {
          '10.96.10.8': {
            status: 'UP',
            ports: ['80'],
            probe: P1,
            probeService: owner('good'),
            source: 'svc',
          },
          '203.0.113.14': { status: 'UP', probe: P1, probeService: owner('good'), source: 'svc' },
        },
        check: async (env) => {
          const w = env.warnings.filter((x) => x.obj.service === 'default/good');
          assert.equal(w.length, 1);
          assert.equal(w[0].obj.field, 'probe');
          assert.match(String(w[0].obj.err), /exactly one of/);
          assert.equal(env.kube.stats.invalidProbes, 3);
          await noChurn(env, ['10.96.10.8', '203.0.113.14']);
        },
      },
      {
        what: 'fixed: the new probe is written',
        act: (env) => {
          env.fake.apply(
            'Service',
            svc({
              name: 'good',
              type: 'LoadBalancer',
              clusterIP: '10.96.10.8',
              lbIngress: ['203.0.113.14'],
              ports: [{ port: 80 }],
              probe: P2,
            }),
          );
        },
        want: {
          '10.96.10.8': {
            status: 'UP',
            ports: ['80'],
            probe: P2,
            probeService: owner('good'),
            source: 'svc',
          },
          '203.0.113.14': { status: 'UP', probe: P2, probeService: owner('good'), source: 'svc' },
        },
      },
    ],
  },
  {
    name: 'headless and ExternalName',
    services: [
      svc({ name: 'hl', clusterIP: 'None', ports: [{ port: 5432 }], probe: P1 }),
      svc({ name: 'ext', externalName: 'www.example.com', probe: P1 }),
    ],
    steps: [
      {
        what: 'endpoints keep their plain status; nothing carries a probe',
        act: (env) => {
          env.fake.apply(
            'EndpointSlice',
            endpointSlice('hl', [{ ip: '172.20.0.2' }], { ports: [{ port: 5432 }] }),
          );
        },
        want: { '172.20.0.2': { status: 'UP', ports: ['5432'], source: 'svc' } },
        check: async (env) => {
          const all = await store.list(env.monitor);
          assert.deepEqual(
            all.kvs.filter((kv) => kv.value.includes('"probe"')).map((kv) => kv.key),
            [],
          );
          assert.equal(env.kube.stats.invalidProbes, 0);
        },
      },
    ],
  },
  {
    name: "another writer's probe",
    before: { '10.96.10.9': { status: 'UP', probe: TCP } },
    services: [svc({ name: 'other', clusterIP: '10.96.10.9', ports: [{ port: 80 }], probe: P1 })],
    steps: [
      {
        what: 'left alone',
        want: { '10.96.10.9': { status: 'UP', probe: TCP } },
        check: async (env) => {
          const r = await env.kube.reconcileNow();
          assert.equal(r?.probeSkipped, 1);
        },
      },
      {
        what: 'Service deleted: still left alone',
        act: (env) => env.fake.remove('Service', 'default', 'other'),
        want: { '10.96.10.9': { status: 'UP', probe: TCP } },
      },
    ],
  },
  {
    name: '410 Gone relist',
    services: [
      svc({
        name: 'rl',
        type: 'LoadBalancer',
        clusterIP: '10.96.10.10',
        lbIngress: ['203.0.113.15'],
        ports: [{ port: 80 }],
        probe: P1,
      }),
      svc({ name: 'rl2', clusterIP: '10.96.10.11', ports: [{ port: 80 }], probe: P1 }),
    ],
    steps: [
      {
        what: 'created',
        want: {
          '203.0.113.15': { status: 'UP', probe: P1, probeService: owner('rl'), source: 'svc' },
          '10.96.10.11': {
            status: 'UP',
            ports: ['80'],
            probe: P1,
            probeService: owner('rl2'),
            source: 'svc',
          },
        },
      },
      {
        what: 'changes made while nobody watches, history compacted: the relist applies them',
        act: async (env) => {
          await waitFor('both watching', () => env.fake.watcherCount === 2);
          const gone = env.kube.stats.services.gone;
          env.fake.dropStreams();
          env.fake.apply(
            'Service',
            svc({
              name: 'rl',
              type: 'LoadBalancer',
              clusterIP: '10.96.10.10',
              lbIngress: ['203.0.113.15'],
              ports: [{ port: 80 }],
              probe: P2,
            }),
          );
          env.fake.apply('Service', svc({ name: 'rl2', clusterIP: '10.96.10.11', ports: [{ port: 80 }] }));
          env.fake.apply(
            'Service',
            svc({ name: 'rl3', clusterIP: '10.96.10.12', ports: [{ port: 80 }], probe: TCP }),
          );
          env.fake.compact();
          await waitFor('relisted', () => env.kube.stats.services.gone > gone);
        },
        want: {
          '203.0.113.15': { status: 'UP', probe: P2, probeService: owner('rl'), source: 'svc' },
          '10.96.10.11': { status: 'UP', ports: ['80'], source: 'svc' },
          '10.96.10.12': {
            status: 'UP',
            ports: ['80'],
            probe: TCP,
            probeService: owner('rl3'),
            source: 'svc',
          },
        },
      },
    ],
  },
];

describe('hades.io/probe → status keys', () => {
  for (const c of cases) test(c.name, () => run(c));
});
