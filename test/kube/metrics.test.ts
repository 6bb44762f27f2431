/**
 * hades-kubeapi's kube metrics (src/metrics/kubeapi-metrics.ts) read from a real watcher
 * (startKube on real etcd and the fake API server): table-driven steps, each a thing the cluster
 * or the API server does (a probe annotation set, broken, removed), and the series it must move
 * (or leave alone). The text passes `strictErrors`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type KubeHandle, startKube } from '../../src/kube/index.js';
import { KubeapiMetrics } from '../../src/metrics/kubeapi-metrics.js';
import { parsePromText, strictErrors } from '../../src/metrics/prom-text.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { waitFor } from '../dns/clients.js';
import { type EtcdProcess, startEtcd } from '../harness/etcd.js';
import { endpointSlice, FakeApiServer, service } from './fake-apiserver.js';

let etcd: EtcdProcess;
let store: Store;

before(async () => {
  etcd = await startEtcd();
  store = await openEtcdStore({ endpoints: [etcd.endpoint] });
});
after(async () => {
  await store?.close();
  await etcd?.stop();
});

/** `name{a="x"}` → value, for every sample of the families we look at. */
async function scrape(m: KubeapiMetrics): Promise<Map<string, number>> {
  const p = parsePromText(await m.registry.metrics());
  assert.deepEqual(strictErrors(p), []);
  const out = new Map<string, number>();
  for (const s of p.samples) {
    if (!s.name.startsWith('hades_kube_')) continue;
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(',');
    out.set(labels ? `${s.name}{${labels}}` : s.name, s.value);
  }
  return out;
}

const ev = (kind: string, type: string) => `hades_kube_watch_events_total{kind=${kind},type=${type}}`;
const written = (op: string) => `hades_kube_records_written_total{op=${op}}`;
const watches = (kind: string) => `hades_kube_watches_total{kind=${kind}}`;
const relists = (kind: string) => `hades_kube_relists_total{kind=${kind},reason=gone}`;
const errors = (kind: string) => `hades_kube_errors_total{kind=${kind}}`;
const OK = 'hades_kube_reconciles_total{outcome=ok}';
const INVALID = 'hades_kube_invalid_probes_total';
const INVALID_ZONES = 'hades_kube_invalid_zones_total';
const PROBE = 'hades.io/probe';
const TCP = '{"tcpSocket":{"port":80}}';

describe('hades_kube_* metrics follow the watcher', () => {
  it('is absent or zero without a watcher', async () => {
    const m = new KubeapiMetrics({ processMetrics: false });
    const s = await scrape(m);
    assert.deepEqual([...s], [['hades_kube_leader', 0]]);
  });

  it('events, writes, resumes, relists, errors and the writer', async () => {
    const fake = new FakeApiServer();
    await fake.start();
    fake.apply('Service', service({ name: 'a', clusterIP: '10.96.7.1' }));
    const m = new KubeapiMetrics({ processMetrics: false });
    let kube: KubeHandle | undefined;
    try {
      kube = startKube({
        store,
        domain: 'hades.local.',
        prefix: '/km',
        ipMonitorPath: '/km/monitor/status/',
        masterUrl: fake.url,
        debounceMs: 20,
        backoffMs: 20,
        maxBackoffMs: 200,
        election: true,
        electionKey: '/km/monitor/kubeapi-lock',
      });
      m.setKube(kube);
      const k = kube;
      await waitFor('elected and a written', async () => {
        const s = await scrape(m);
        return k.writer() && (s.get(OK) ?? 0) >= 1 && s.get(written('health_create')) === 1;
      });
      await waitFor('both watching', () => fake.watcherCount === 2);
      // > 0: at least one; 0: unchanged; a number: exactly that many
      type Want = Record<string, number | '>0'>;
      const steps: { name: string; act: () => Promise<void> | void; until: string; want: Want }[] = [
        {
          name: 'a service is added',
          act: () => {
            fake.apply('Service', service({ name: 'b', clusterIP: '10.96.7.2' }));
          },
          until: written('health_create'),
          want: {
            [ev('services', 'ADDED')]: 1,
            [ev('services', 'MODIFIED')]: 0,
            [written('put')]: '>0',
            [written('health_create')]: 1,
            [written('delete')]: 0,
            [OK]: '>0',
          },
        },
        {
          name: 'its address changes',
          act: () => {
            fake.apply('Service', service({ name: 'b', clusterIP: '10.96.7.3' }));
          },
          until: written('delete'),
          want: {
            [ev('services', 'MODIFIED')]: 1,
            [written('put')]: '>0',
            [written('delete')]: '>0',
            [written('health_create')]: 1,
            [written('health_delete')]: 1,
          },
        },
        {
          name: 'it is deleted',
          act: () => fake.remove('Service', 'default', 'b'),
          until: ev('services', 'DELETED'),
          want: { [ev('services', 'DELETED')]: 1, [written('put')]: 0 },
        },
        {
          name: 'a hades.io/probe annotation on a service with a status key',
          act: () => {
            fake.apply(
              'Service',
              service({ name: 'a', clusterIP: '10.96.7.1', annotations: { [PROBE]: TCP } }),
            );
          },
          until: written('probe_set'),
          want: { [written('probe_set')]: 1, [written('health_create')]: 0, [INVALID]: 0 },
        },
        {
          name: 'the annotation made invalid: counted, nothing written',
          act: () => {
            fake.apply(
              'Service',
              service({ name: 'a', clusterIP: '10.96.7.1', annotations: { [PROBE]: '{' } }),
            );
          },
          until: INVALID,
          want: { [INVALID]: 1, [written('probe_set')]: 0, [written('probe_remove')]: 0 },
        },
        {
          name: 'the annotation removed',
          act: () => {
            fake.apply('Service', service({ name: 'a', clusterIP: '10.96.7.1' }));
          },
          until: written('probe_remove'),
          want: { [written('probe_remove')]: 1, [written('health_delete')]: 0, [INVALID]: 0 },
        },
        {
          name: 'a headless service whose endpoint has an invalid zone: counted, the record written without it',
          act: () => {
            fake.apply('Service', service({ name: 'h', clusterIP: 'None' }));
            fake.apply('EndpointSlice', endpointSlice('h', [{ ip: '10.97.7.1', zone: 'bad zone' }]));
          },
          until: INVALID_ZONES,
          want: {
            [INVALID_ZONES]: 1,
            [ev('endpointslices', 'ADDED')]: 1,
            [written('put')]: '>0',
            [written('health_create')]: 1,
          },
        },
        {
          name: 'the zone made valid: the records replaced, nothing counted',
          act: () => {
            fake.apply('EndpointSlice', endpointSlice('h', [{ ip: '10.97.7.1', zone: 'z1' }]));
          },
          until: written('delete'),
          want: {
            [INVALID_ZONES]: 0,
            [ev('endpointslices', 'MODIFIED')]: 1,
            [written('put')]: 2, // its A and PTR, now with the zone
            [written('delete')]: 2,
            [written('health_create')]: 0,
            [written('health_delete')]: 0,
          },
        },
        {
          name: 'a bookmark',
          act: () => fake.bookmark(),
          until: ev('services', 'BOOKMARK'),
          want: {
            [ev('services', 'BOOKMARK')]: 1,
            [ev('endpointslices', 'BOOKMARK')]: '>0',
            [written('put')]: 0,
          },
        },
        {
          name: 'streams dropped: resumed, not relisted',
          act: () => {
            fake.dropStreams();
          },
          until: watches('endpointslices'),
          want: { [watches('services')]: '>0', [relists('services')]: 0, [relists('endpointslices')]: 0 },
        },
        {
          name: 'history compacted while not watching: 410 Gone, relisted',
          act: () => {
            fake.dropStreams();
            fake.apply('Service', service({ name: 'c', clusterIP: '10.96.7.4' }));
            fake.compact();
          },
          until: relists('services'),
          want: { [relists('services')]: 1, [relists('endpointslices')]: '>0' },
        },
        {
          name: 'the API server goes away: errors',
          act: () => fake.close(),
          until: errors('services'),
          want: { [errors('services')]: '>0', [relists('services')]: 0 },
        },
      ];
      for (const step of steps) {
        const before = await scrape(m);
        await step.act();
        await waitFor(`${step.name}: ${step.until} moves`, async () => {
          const now = await scrape(m);
          return (now.get(step.until) ?? 0) > (before.get(step.until) ?? 0);
        });
        // the other series move a little later (the debounced reconcile): wait until all of
        // `want` holds, then assert it (the zeros are checked at that moment)
        const holds = (now: Map<string, number>): boolean =>
          Object.entries(step.want).every(([series, want]) => {
            const d = (now.get(series) ?? 0) - (before.get(series) ?? 0);
            return want === '>0' ? d > 0 : d === want;
          });
        await waitFor(`${step.name}: the wanted moves`, async () => holds(await scrape(m))).catch(() => {});
        const now = await scrape(m);
        for (const [series, want] of Object.entries(step.want)) {
          const d = (now.get(series) ?? 0) - (before.get(series) ?? 0);
          if (want === '>0') assert.ok(d > 0, `${step.name}: ${series} moved by ${d}`);
          else assert.equal(d, want, `${step.name}: ${series}`);
        }
        assert.equal(now.get('hades_kube_leader'), 1, `${step.name}: the writer`);
      }
      await kube.stop();
      assert.equal((await scrape(m)).get('hades_kube_leader'), 0, 'resigned on stop');
    } finally {
      await kube?.stop();
      await fake.close();
    }
  });
});
