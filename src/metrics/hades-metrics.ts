/**
 * The Prometheus registry of one hades process: every `hades_` metric (and prom-client's
 * `process_*` / `nodejs_*`), the `hades_` ones read at scrape time from
 * the live counters of the parts (`set*` hands them in as they come up; until then a part's
 * metrics read zero or are absent). The query path never touches this module.
 *
 * Sources are structural: anything with the fields below will do (programs/hades.ts passes DnsServer,
 * DnsHandler, Forwarder, Catalog and, once it exists, the response cache).
 */
import { type Aggregator, type Metric, Registry } from 'prom-client';
import { Collected, histogramSamples, type MetricType, type Sample } from './collected.js';
import { registerProcessMetrics } from './program.js';

/** DnsServer.counters (src/dns/query-counters.ts). */
export interface QueryCountersSource {
  readonly requests: ArrayLike<number>;
  readonly responses: ArrayLike<number>;
  readonly durationBuckets: ArrayLike<number>;
  readonly durationSum: number;
  readonly durationCount: number;
  readonly qtypeLabels: readonly string[];
  readonly rcodeLabels: readonly string[];
  readonly transportLabels: readonly string[];
  readonly durationBounds: readonly number[];
}

/** DnsServer. */
export interface ServerSource {
  readonly counters: QueryCountersSource;
  readonly stats: {
    readonly dropped: number;
    readonly udpBusyDrops: number;
    readonly truncated: number;
    readonly handlerErrors: number;
    readonly tcpConnections: number;
    readonly tcpRejected: number;
    readonly tcpIdleTimeouts: number;
  };
  readonly tcpOpen: number;
}

/** DnsHandler. */
export interface HandlerSource {
  readonly stats: { readonly failOpen: number; readonly allDownClosed: number; readonly errors: number };
  /** `/explain` (DnsHandler.explain): throws an error carrying `field` for a bad parameter. */
  explain?(params: ExplainQuery): unknown;
}

/** `/explain`'s query parameters. */
export interface ExplainQuery {
  name?: string;
  type?: string;
  client?: string;
  ecs?: string;
}

/** What `/explain` answers: a status and a JSON body. */
export interface ExplainReply {
  status: number;
  body: unknown;
}

/** One upstream of the Forwarder. */
export interface UpstreamSource {
  readonly address: string;
  readonly down: boolean;
  readonly stats: {
    readonly requests: number;
    readonly failures: number;
    readonly timeouts: number;
    readonly rcodeErrors: number;
    readonly tcpRetries: number;
    readonly spoofed: number;
    readonly latencySum: number;
    readonly latencyBuckets: ArrayLike<number>;
  };
}

/** Forwarder (src/dns/forward). */
export interface ForwarderSource {
  readonly stats: {
    readonly queries: number;
    readonly external: number;
    readonly answered: number;
    readonly servfail: number;
    readonly refusedInflight: number;
    readonly noUpstream: number;
    readonly refusedTransfers: number;
    readonly failOpen: number;
  };
  readonly inflight: number;
  upstreams(): readonly UpstreamSource[];
}

/** Catalog (src/catalog). */
export interface CatalogSource {
  readonly ready: boolean;
  /** Answering from a snapshot (`-snapshot`) because the store has not been listed yet. */
  readonly stale?: boolean;
  readonly revision: number;
  readonly recordCount: number;
  readonly watchState: string;
  /** False while the store cannot commit (etcd without quorum); absent: always true. */
  readonly storeQuorum?: boolean;
  /** ms since the epoch; 0 before the first list. */
  readonly lastEventAt: number;
  readonly stats: {
    readonly invalidRecords: number;
    readonly invalidHealth: number;
    readonly invalidTopology: number;
    readonly lists: number;
    readonly compactions: number;
    readonly failures: number;
  };
}

/**
 * The response cache's counters (the cache hands in a live object, or one with getters): read at
 * scrape time, never per query.
 */
export interface CacheSource {
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
  /** Entries removed to make room (capacity reached). */
  readonly evictions?: number;
}

/** Zone transfers out and NOTIFY (src/dns/transfer), read at scrape time. */
export interface TransferSource {
  /** `${type} ${result}` → requests (type axfr|ixfr). */
  readonly counts: ReadonlyMap<string, number>;
  /** TSIG error name (BADSIG, BADKEY, BADTIME) → signed requests refused. */
  readonly tsigFailures: ReadonlyMap<string, number>;
  /** Transfers streaming now. */
  readonly active: number;
  /** Names in the zones' transfer views. */
  readonly names: number;
  readonly notify:
    | {
        readonly sent: number;
        readonly acknowledged: number;
        readonly retries: number;
        readonly failed: number;
      }
    | undefined;
}

/**
 * A counter read from a part's `stats`: its name, help, and the field it reads, or (labelled
 * `reason`) one field for each reason. Reads 0 while the part is absent.
 */
type StatCounter<K extends string> = readonly [
  name: string,
  help: string,
  field: K | { readonly [reason: string]: K },
];

/** The fields of `T` that hold a number. */
type NumberField<T> = { [K in keyof T]: T[K] extends number ? K : never }[keyof T] & string;

/** Per-upstream counters: name, help, the field of `UpstreamSource.stats`. */
const UPSTREAM_COUNTERS: readonly (readonly [string, string, NumberField<UpstreamSource['stats']>])[] = [
  [
    'hades_forward_requests_total',
    'Tries sent to an upstream (UDP or TCP; probes not included).',
    'requests',
  ],
  [
    'hades_forward_failures_total',
    'Tries that got no usable answer: timeouts, network errors, malformed replies.',
    'failures',
  ],
  ['hades_forward_timeouts_total', 'The timeouts among hades_forward_failures_total.', 'timeouts'],
  [
    'hades_forward_rcode_errors_total',
    'SERVFAIL/REFUSED answers from an upstream (the next one was tried).',
    'rcodeErrors',
  ],
  ['hades_forward_tcp_retries_total', 'Truncated UDP answers retried over TCP.', 'tcpRetries'],
  [
    'hades_forward_spoofed_total',
    'Datagrams ignored on a query socket: wrong source, ID or question.',
    'spoofed',
  ],
];

/**
 * A transport × `label` table (`values`: one row of `cols.length` per transport, in order) as
 * samples labelled `protocol` and `label`: a cell is left out when it is 0, unless its column is
 * `always(column)`.
 */
function perTransport(
  values: ArrayLike<number>,
  transports: readonly string[],
  label: string,
  cols: readonly string[],
  always: (col: number) => boolean,
): Sample[] {
  const out: Sample[] = [];
  const n = cols.length;
  for (let t = 0; t < transports.length; t++)
    for (let i = 0; i < n; i++) {
      const v = values[t * n + i];
      if (v > 0 || always(i)) out.push({ labels: { protocol: transports[t], [label]: cols[i] }, value: v });
    }
  return out;
}

export const WATCH_STATES: readonly string[] = Object.freeze(['connected', 'disconnected', 'listing']);

export interface HadesMetricsOptions {
  /** `hades_build_info{version}`. */
  version: string;
  /** prom-client's process metrics (CPU, memory, event-loop lag, GC): `process_*`, `nodejs_*`. Default true. */
  processMetrics?: boolean;
}

export class HadesMetrics {
  readonly registry = new Registry();
  private server: ServerSource | undefined;
  private handler: HandlerSource | undefined;
  private forwarder: ForwarderSource | undefined;
  private forwardBounds: readonly number[] = [];
  private catalog: CatalogSource | undefined;
  private cache: CacheSource | undefined;
  private transfers: TransferSource | undefined;
  private readyFn: () => boolean = () => this.catalog?.ready === true;

  constructor(opts: HadesMetricsOptions) {
    const version = opts.version;
    this.add(
      'hades_build_info',
      'Always 1; the hades version as a label.',
      'gauge',
      () => [{ labels: { version }, value: 1 }],
      'max',
    );
    this.add('hades_workers', 'Processes answering DNS whose metrics this scrape includes.', 'gauge', () => [
      { labels: {}, value: 1 },
    ]);
    this.add(
      'hades_ready',
      '1 when every process has its catalog loaded and serves DNS, else 0.',
      'gauge',
      () => [{ labels: {}, value: this.ready() ? 1 : 0 }],
      'min',
    );
    this.serverMetrics();
    this.add(
      'hades_selection_all_down_total',
      'A/AAAA/SRV answers where every address not drained was DOWN and those were served (fail-open).',
      'counter',
      () =>
        this.handler ? [{ labels: {}, value: this.handler.stats.failOpen }] : [{ labels: {}, value: 0 }],
    );
    this.counter(
      'hades_selection_all_down_closed_total',
      "A/AAAA/SRV/MX answers where every address not drained was DOWN and the name's all-down policy is closed: none served (SERVFAIL when nothing else was left).",
      () => this.handler?.stats.allDownClosed ?? 0,
    );
    this.cacheMetrics();
    this.transferMetrics();
    this.forwardMetrics();
    this.catalogMetrics();
    if (opts.processMetrics !== false) registerProcessMetrics(this.registry);
  }

  // ---- sources --------------------------------------------------------------------------------

  setServer(s: ServerSource | undefined): void {
    this.server = s;
  }
  setHandler(h: HandlerSource | undefined): void {
    this.handler = h;
  }

  /** `/explain` from this process's handler: 200 and the explanation, 400 naming a bad parameter. */
  explain(params: ExplainQuery): ExplainReply {
    const h = this.handler;
    if (h?.explain === undefined) return { status: 503, body: { error: 'not ready: no DNS handler yet' } };
    try {
      return { status: 200, body: h.explain(params) };
    } catch (err) {
      const field = (err as { field?: unknown }).field;
      if (typeof field === 'string') return { status: 400, body: { error: (err as Error).message, field } };
      return { status: 500, body: { error: `explain failed: ${(err as Error).message}` } };
    }
  }
  /** `latencyBounds`: the upper bounds of the upstreams' `latencyBuckets` (forward's LATENCY_BUCKETS). */
  setForwarder(f: ForwarderSource | undefined, latencyBounds: readonly number[]): void {
    this.forwarder = f;
    this.forwardBounds = latencyBounds;
  }
  setCatalog(c: CatalogSource | undefined): void {
    this.catalog = c;
  }
  /** For the response cache: its hits, misses and entries, read at scrape time. */
  setCacheSource(c: CacheSource | undefined): void {
    this.cache = c;
  }
  /** For zone transfers and NOTIFY (-transfer-allow, -notify). */
  setTransfers(t: TransferSource | undefined): void {
    this.transfers = t;
  }
  /** What `/ready` and `hades_ready` report; default: the catalog is ready. */
  setReady(fn: () => boolean): void {
    this.readyFn = fn;
  }

  ready(): boolean {
    try {
      return this.readyFn();
    } catch {
      return false;
    }
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The metrics as JSON, for a `-workers` primary to aggregate. */
  json(): Promise<unknown[]> {
    return this.registry.getMetricsAsJSON();
  }

  // ---- definitions ----------------------------------------------------------------------------

  private add(
    name: string,
    help: string,
    type: MetricType,
    read: () => Sample[],
    aggregator: Aggregator = 'sum',
  ): void {
    this.registry.registerMetric(new Collected(name, help, type, read, aggregator).asMetric() as Metric);
  }

  private counter(name: string, help: string, value: () => number, aggregator: Aggregator = 'sum'): void {
    this.add(name, help, 'counter', () => [{ labels: {}, value: value() }], aggregator);
  }

  private gauge(name: string, help: string, value: () => number, aggregator: Aggregator = 'sum'): void {
    this.add(name, help, 'gauge', () => [{ labels: {}, value: value() }], aggregator);
  }

  /** One counter per row, read from the fields of `stats()` (0 while it is undefined). */
  private statCounters<K extends string>(
    stats: () => { readonly [k in K]: number } | undefined,
    rows: readonly StatCounter<K>[],
  ): void {
    for (const [name, help, field] of rows) {
      if (typeof field === 'string') this.counter(name, help, () => stats()?.[field] ?? 0);
      else
        this.add(name, help, 'counter', () => {
          const s = stats();
          return Object.entries(field).map(([reason, f]) => ({ labels: { reason }, value: s?.[f] ?? 0 }));
        });
    }
  }

  private transferMetrics(): void {
    this.add(
      'hades_transfer_requests_total',
      'Zone transfer requests (type axfr|ixfr) by result: ok, full (IXFR answered with the whole zone), uptodate, refused, notauth, servfail, formerr, truncated (UDP: TC), aborted (the connection went away).',
      'counter',
      () =>
        [...(this.transfers?.counts ?? [])].map(([k, value]) => {
          const [type, result] = k.split(' ');
          return { labels: { type, result }, value };
        }),
    );
    this.add(
      'hades_transfer_tsig_failures_total',
      'Signed requests refused (NOTAUTH) by TSIG error: BADKEY, BADSIG, BADTIME.',
      'counter',
      () => [...(this.transfers?.tsigFailures ?? [])].map(([error, value]) => ({ labels: { error }, value })),
    );
    this.gauge('hades_transfer_active', 'Zone transfers streaming now.', () => this.transfers?.active ?? 0);
    this.gauge(
      'hades_transfer_names',
      'Names in the zones as a transfer carries them (0 without -transfer-allow and -notify).',
      () => this.transfers?.names ?? 0,
      'max',
    );
    this.counter(
      'hades_transfer_notify_sent_total',
      'NOTIFY messages sent (retries included).',
      () => this.transfers?.notify?.sent ?? 0,
    );
    this.counter(
      'hades_transfer_notify_acknowledged_total',
      'NOTIFY messages a secondary acknowledged.',
      () => this.transfers?.notify?.acknowledged ?? 0,
    );
    this.counter(
      'hades_transfer_notify_retries_total',
      'NOTIFY messages sent again for want of an acknowledgement.',
      () => this.transfers?.notify?.retries ?? 0,
    );
    this.counter(
      'hades_transfer_notify_failed_total',
      'NOTIFY replies with an error (REFUSED, NOTAUTH, a bad TSIG).',
      () => this.transfers?.notify?.failed ?? 0,
    );
  }

  private serverMetrics(): void {
    this.add(
      'hades_requests_total',
      'DNS requests received, by transport and query type (other: any type not listed, or no readable question).',
      'counter',
      () => {
        const c = this.server?.counters;
        return c
          ? perTransport(
              c.requests,
              c.transportLabels,
              'type',
              c.qtypeLabels,
              (i) => c.qtypeLabels[i] === 'A',
            )
          : [];
      },
    );
    this.add(
      'hades_responses_total',
      'DNS responses sent, by transport and rcode (the header rcode: BADVERS reads as NOERROR).',
      'counter',
      () => {
        const c = this.server?.counters;
        return c ? perTransport(c.responses, c.transportLabels, 'rcode', c.rcodeLabels, (r) => r === 0) : [];
      },
    );
    this.add(
      'hades_request_duration_seconds',
      'Time from receiving a request to sending its reply (forwarded ones included).',
      'histogram',
      () => {
        const s = this.server;
        if (!s) return [];
        const c = s.counters;
        return histogramSamples(
          'hades_request_duration_seconds',
          c.durationBounds,
          c.durationBuckets,
          c.durationSum,
        );
      },
    );
    const stats = () => this.server?.stats;
    this.statCounters(stats, [
      [
        'hades_requests_dropped_total',
        'Requests answered with nothing: unreadable (no header, a response), or UDP replies the kernel could not take (busy).',
        { unanswerable: 'dropped', busy: 'udpBusyDrops' },
      ],
      [
        'hades_responses_truncated_total',
        'Responses sent with TC set (the client retries over TCP).',
        'truncated',
      ],
    ]);
    this.counter(
      'hades_internal_errors_total',
      'Requests answered SERVFAIL because of an internal error (a bug: look at the log).',
      () => (this.server?.stats.handlerErrors ?? 0) + (this.handler?.stats.errors ?? 0),
    );
    this.gauge('hades_tcp_connections', 'Open DNS TCP connections.', () => this.server?.tcpOpen ?? 0);
    this.statCounters(stats, [
      ['hades_tcp_connections_total', 'DNS TCP connections accepted.', 'tcpConnections'],
      [
        'hades_tcp_connections_rejected_total',
        'DNS TCP connections closed at once because -max-tcp-connections were open.',
        'tcpRejected',
      ],
      [
        'hades_tcp_idle_timeouts_total',
        'DNS TCP connections closed after -read_timeout without traffic.',
        'tcpIdleTimeouts',
      ],
    ]);
  }

  private cacheMetrics(): void {
    this.counter(
      'hades_cache_hits_total',
      'Response cache hits (0 while -rcache is 0).',
      () => this.cache?.hits ?? 0,
    );
    this.counter(
      'hades_cache_misses_total',
      'Response cache misses (0 while -rcache is 0).',
      () => this.cache?.misses ?? 0,
    );
    this.gauge('hades_cache_entries', 'Messages in the response cache.', () => this.cache?.entries ?? 0);
    this.counter(
      'hades_cache_evictions_total',
      'Response cache entries evicted to make room (-rcache reached).',
      () => this.cache?.evictions ?? 0,
    );
  }

  private forwardMetrics(): void {
    this.statCounters(
      () => this.forwarder?.stats,
      [
        [
          'hades_forward_queries_total',
          'Client queries for names outside our zones handed to the forwarder.',
          'queries',
        ],
        [
          'hades_forward_external_total',
          'Out-of-zone CNAME targets of our records resolved through the forwarder.',
          'external',
        ],
        ['hades_forward_answered_total', 'Forwarded queries answered from an upstream.', 'answered'],
        [
          'hades_forward_servfail_total',
          'Forwarded queries given up (deadline, every try failed): SERVFAIL.',
          'servfail',
        ],
        [
          'hades_forward_refused_total',
          'Forwarded queries refused without trying: in-flight cap, no upstream for the name, zone transfer.',
          { inflight: 'refusedInflight', no_upstream: 'noUpstream', transfer: 'refusedTransfers' },
        ],
        [
          'hades_forward_fail_open_total',
          'Tries sent to a down upstream because every upstream of its list was down.',
          'failOpen',
        ],
      ],
    );
    this.gauge('hades_forward_inflight', 'Forwarded queries in flight.', () => this.forwarder?.inflight ?? 0);
    const perUpstream = (
      name: string,
      help: string,
      pick: (u: UpstreamSource) => number,
      type: MetricType = 'counter',
      aggregator: Aggregator = 'sum',
    ): void => {
      this.add(
        name,
        help,
        type,
        () =>
          (this.forwarder?.upstreams() ?? []).map((u) => ({
            labels: { to: u.address },
            value: pick(u),
          })),
        aggregator,
      );
    };
    for (const [name, help, field] of UPSTREAM_COUNTERS) perUpstream(name, help, (u) => u.stats[field]);
    perUpstream(
      'hades_forward_upstream_up',
      '1 while an upstream is in use, 0 while it is marked down and probed.',
      (u) => (u.down ? 0 : 1),
      'gauge',
      'min',
    );
    this.add(
      'hades_forward_duration_seconds',
      'Time from sending a try to an upstream to its accepted answer.',
      'histogram',
      () => {
        const out: Sample[] = [];
        for (const u of this.forwarder?.upstreams() ?? [])
          out.push(
            ...histogramSamples(
              'hades_forward_duration_seconds',
              this.forwardBounds,
              u.stats.latencyBuckets,
              u.stats.latencySum,
              {
                to: u.address,
              },
            ),
          );
        return out;
      },
    );
  }

  private catalogMetrics(): void {
    const c = () => this.catalog;
    this.gauge(
      'hades_catalog_ready',
      '1 once the catalog has its first full list of the store (in every process), else 0.',
      () => (c()?.ready ? 1 : 0),
      'min',
    );
    this.gauge(
      'hades_catalog_records',
      'Records in the in-memory index (each process holds them all: the largest count).',
      () => c()?.recordCount ?? 0,
      'max',
    );
    this.gauge(
      'hades_catalog_stale',
      '1 while answering from the -snapshot file because the store has not been listed yet (across processes: the highest).',
      () => (c()?.stale === true ? 1 : 0),
      'max',
    );
    this.gauge(
      'hades_catalog_store_quorum',
      '0 while the store cannot commit (etcd: no reachable member sees a leader) and answers come from memory, else 1 (across processes: the lowest).',
      () => (c()?.storeQuorum === false ? 0 : 1),
      'min',
    );
    this.gauge(
      'hades_catalog_revision',
      'Store revision the index reflects (across processes: the lowest).',
      () => c()?.revision ?? 0,
      'min',
    );
    this.add(
      'hades_catalog_watch_state',
      'Processes whose store feed is in each state (1 for the current state of one process).',
      'gauge',
      () => {
        const state = c()?.watchState;
        return WATCH_STATES.map((s) => ({ labels: { state: s }, value: s === state ? 1 : 0 }));
      },
    );
    this.add(
      'hades_catalog_seconds_since_last_event',
      'Seconds since the last applied watch batch or list (across processes: the largest).',
      'gauge',
      () => {
        const at = c()?.lastEventAt ?? 0;
        return at > 0 ? [{ labels: {}, value: Math.max(0, (Date.now() - at) / 1000) }] : [];
      },
      'max',
    );
    this.gauge(
      'hades_catalog_invalid_records',
      'Record, health and topology keys whose value is unusable (skipped).',
      () => {
        const s = c()?.stats;
        return s ? s.invalidRecords + s.invalidHealth + s.invalidTopology : 0;
      },
      'max',
    );
    this.statCounters(
      () => c()?.stats,
      [
        ['hades_catalog_lists_total', 'Full lists of the store (the first one and every relist).', 'lists'],
        [
          'hades_catalog_compactions_total',
          'Watches that ended because the store compacted past them (then a relist).',
          'compactions',
        ],
        [
          'hades_catalog_failures_total',
          'Failed lists and watches that could not be opened (retried with backoff).',
          'failures',
        ],
      ],
    );
  }
}
