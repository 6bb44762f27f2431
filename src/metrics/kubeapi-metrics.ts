/**
 * The Prometheus registry of hades-kubeapi: the REST API's requests and the Kubernetes watcher,
 * every value read at scrape time from plain counters the parts keep (src/api/api-counters.ts,
 * src/kube's ListWatcher and KubeHandle stats). A part not set (api-enable or kube-enable NO)
 * reads as zero, or its labelled series are absent.
 */
import type { Metric } from 'prom-client';
import { Collected, histogramSamples, type MetricType, type Sample } from './collected.js';
import { ProgramMetrics } from './program.js';

/** ApiCounters (src/api/api-counters.ts). */
export interface ApiCountersSource {
  readonly requests: ReadonlyMap<string, ReadonlyMap<number, number>>;
  readonly durationBounds: readonly number[];
  readonly durationBuckets: ArrayLike<number>;
  readonly durationSum: number;
  readonly authFailures: Readonly<Record<string, number>>;
  readonly rateLimited: number;
}

/** One ListWatcher's stats (src/kube/client.ts). */
export interface ListWatchSource {
  readonly watches: number;
  readonly gone: number;
  readonly errors: number;
  readonly bookmarks: number;
  readonly byType: Readonly<Record<string, number>>;
}

/** The KubeHandle (src/kube/index.ts). */
export interface KubeSource {
  writer(): boolean;
  readonly stats: {
    readonly reconciles: number;
    readonly conflicted: number;
    readonly failures: number;
    readonly written: {
      readonly put: number;
      readonly deleted: number;
      readonly healthCreated: number;
      readonly healthDeleted: number;
      readonly probeSet: number;
      readonly probeRemoved: number;
    };
    readonly invalidProbes: number;
    readonly invalidZones: number;
    readonly services: ListWatchSource;
    readonly slices: ListWatchSource;
  };
}

/** Labels of the collected metrics (they declare none to prom-client; docs generation reads these). */
export const KUBEAPI_METRIC_LABELS: Record<string, string[]> = {
  hades_api_requests_total: ['method', 'code'],
  hades_api_auth_failures_total: ['reason'],
  hades_kube_watch_events_total: ['kind', 'type'],
  hades_kube_watches_total: ['kind'],
  hades_kube_relists_total: ['kind', 'reason'],
  hades_kube_errors_total: ['kind'],
  hades_kube_reconciles_total: ['outcome'],
  hades_kube_records_written_total: ['op'],
};

export class KubeapiMetrics extends ProgramMetrics {
  #api: ApiCountersSource | undefined;
  #kube: KubeSource | undefined;

  constructor(opts: { processMetrics?: boolean } = {}) {
    super(opts);
    const api = () => this.#api;
    const kube = () => this.#kube;
    this.#add(
      'hades_api_requests_total',
      'REST API requests answered, by method and HTTP status code',
      'counter',
      () => {
        const out: Sample[] = [];
        for (const [method, byCode] of api()?.requests ?? [])
          for (const [code, n] of byCode) out.push({ labels: { method, code }, value: n });
        return out;
      },
    );
    this.#add(
      'hades_api_request_duration_seconds',
      'Time from a REST API request to its response',
      'histogram',
      () => {
        const a = api();
        if (!a) return histogramSamples('hades_api_request_duration_seconds', [], [], 0);
        return histogramSamples(
          'hades_api_request_duration_seconds',
          a.durationBounds,
          a.durationBuckets,
          a.durationSum,
        );
      },
    );
    this.#add(
      'hades_api_auth_failures_total',
      'REST API requests refused by authentication, by reason (missing: 401 no token, rejected: 401 unknown token, scope: 403 the token lacks read or write)',
      'counter',
      () =>
        Object.entries(api()?.authFailures ?? {}).map(([reason, value]) => ({ labels: { reason }, value })),
    );
    this.#add(
      'hades_api_rate_limited_total',
      'REST API requests refused with 429 by the per-client rate limit (-api-rate, -api-burst)',
      'counter',
      () => [{ labels: {}, value: api()?.rateLimited ?? 0 }],
    );
    const perKind =
      (read: (s: ListWatchSource) => Sample[]): (() => Sample[]) =>
      () => {
        const k = kube();
        if (!k) return [];
        return [
          ...read(k.stats.services).map((s) => ({ ...s, labels: { kind: 'services', ...s.labels } })),
          ...read(k.stats.slices).map((s) => ({ ...s, labels: { kind: 'endpointslices', ...s.labels } })),
        ];
      };
    this.#add(
      'hades_kube_watch_events_total',
      'Kubernetes watch events received, by resource kind (services, endpointslices) and type (ADDED, MODIFIED, DELETED, BOOKMARK)',
      'counter',
      perKind((s) => [
        ...Object.entries(s.byType).map(([type, value]) => ({ labels: { type }, value })),
        { labels: { type: 'BOOKMARK' }, value: s.bookmarks },
      ]),
    );
    this.#add(
      'hades_kube_watches_total',
      'Watch requests opened, by kind: the first, then one per resume after a stream ended (server timeout, dropped connection) or an error',
      'counter',
      perKind((s) => [{ labels: {}, value: s.watches }]),
    );
    this.#add(
      'hades_kube_relists_total',
      'Full lists after the first, by kind and reason (gone: the resourceVersion expired, HTTP 410 or an ERROR event 410)',
      'counter',
      perKind((s) => [{ labels: { reason: 'gone' }, value: s.gone }]),
    );
    this.#add(
      'hades_kube_errors_total',
      'Kubernetes list or watch requests that failed (then retried with backoff), by kind',
      'counter',
      perKind((s) => [{ labels: {}, value: s.errors }]),
    );
    this.#add(
      'hades_kube_leader',
      '1 while this replica is the writer (holds the kubeapi writer election); 0 otherwise or without kube-enable',
      'gauge',
      () => [{ labels: {}, value: kube()?.writer() ? 1 : 0 }],
    );
    this.#add(
      'hades_kube_reconciles_total',
      'Reconcile passes of the writer, by outcome (ok, conflict: a batch met a concurrent change and is retried, error: a store error)',
      'counter',
      () => {
        const k = kube();
        if (!k) return [];
        const s = k.stats;
        return [
          { labels: { outcome: 'ok' }, value: s.reconciles - s.conflicted },
          { labels: { outcome: 'conflict' }, value: s.conflicted },
          { labels: { outcome: 'error' }, value: s.failures },
        ];
      },
    );
    this.#add(
      'hades_kube_records_written_total',
      'Store operations committed by the reconciler, by op (put, delete: svc records; health_create, health_delete: health status keys; probe_set, probe_remove: the probe of a hades.io/probe annotation set on or removed from an existing status key)',
      'counter',
      () => {
        const w = kube()?.stats.written;
        if (!w) return [];
        return [
          { labels: { op: 'put' }, value: w.put },
          { labels: { op: 'delete' }, value: w.deleted },
          { labels: { op: 'health_create' }, value: w.healthCreated },
          { labels: { op: 'health_delete' }, value: w.healthDeleted },
          { labels: { op: 'probe_set' }, value: w.probeSet },
          { labels: { op: 'probe_remove' }, value: w.probeRemoved },
        ];
      },
    );
    this.#add(
      'hades_kube_invalid_probes_total',
      'hades.io/probe Service annotations that are not JSON or not a valid probe (each Service and value counted once; nothing is written for them)',
      'counter',
      () => {
        const k = kube();
        return k ? [{ labels: {}, value: k.stats.invalidProbes }] : [];
      },
    );
    this.#add(
      'hades_kube_invalid_zones_total',
      "EndpointSlice endpoints[].zone values that are not zone names (each value counted once; the endpoint's records get no zone)",
      'counter',
      () => {
        const k = kube();
        return k ? [{ labels: {}, value: k.stats.invalidZones }] : [];
      },
    );
  }

  /** The API server's counters (api-enable YES). */
  setApi(counters: ApiCountersSource): void {
    this.#api = counters;
  }

  /** The Kubernetes watcher (kube-enable YES), once started. */
  setKube(handle: KubeSource): void {
    this.#kube = handle;
  }

  #add(name: string, help: string, type: MetricType, read: () => Sample[]): void {
    this.registry.registerMetric(new Collected(name, help, type, read).asMetric() as Metric);
  }
}
