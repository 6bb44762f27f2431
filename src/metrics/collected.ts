/**
 * Metrics whose values are read at scrape time from plain counters elsewhere (the DNS server's
 * arrays, the forwarder's and catalog's stats). prom-client's Registry only needs an object with
 * `name`, `help`, `type`, `aggregator` and an async `get()` returning the samples; that is all a
 * Collected is, so nothing on the query path ever calls into prom-client.
 */
import type { Aggregator, Metric } from 'prom-client';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One sample: `metricName` for a histogram's `_bucket` / `_sum` / `_count` lines. */
export interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

export interface MetricSnapshot {
  name: string;
  help: string;
  type: MetricType;
  aggregator: Aggregator;
  values: Sample[];
}

export class Collected {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly read: () => Sample[],
    /** How `-workers` aggregation combines the processes' values (prom-client's aggregators). */
    readonly aggregator: Aggregator = 'sum',
  ) {}

  async get(): Promise<MetricSnapshot> {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.read(),
    };
  }

  /** Registry.resetMetrics() calls it; the values live elsewhere. */
  reset(): void {}

  /** As prom-client's Registry.registerMetric wants it. */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}

/**
 * The samples of a Prometheus histogram from non-cumulative bucket counts (`counts[i]` for
 * `bounds[i]`, then +Inf at `counts[bounds.length]`): cumulative `_bucket` lines, `_sum`, `_count`.
 */
export function histogramSamples(
  name: string,
  bounds: readonly number[],
  counts: ArrayLike<number>,
  sum: number,
  labels: Record<string, string | number> = {},
): Sample[] {
  const out: Sample[] = [];
  let acc = 0;
  for (let i = 0; i < bounds.length; i++) {
    acc += counts[i] ?? 0;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bounds[i] }, value: acc });
  }
  acc += counts[bounds.length] ?? 0;
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: acc });
  out.push({ metricName: `${name}_sum`, labels: { ...labels }, value: sum });
  out.push({ metricName: `${name}_count`, labels: { ...labels }, value: acc });
  return out;
}
