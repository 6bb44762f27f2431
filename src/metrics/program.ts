/**
 * What hades-scanner, hades-schedule and hades-kubeapi share for their `-metrics-port`: a registry
 * with prom-client's process metrics (`process_*`, `nodejs_*`, unprefixed), its /metrics and /ready
 * endpoints, and starting the port (a port that cannot be bound: one line naming `-metrics-port`,
 * exit 2).
 */

import { collectDefaultMetrics, type Gauge, Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { type MetricsEndpoints, type MetricsHttpServer, startMetricsServer } from './http.js';

/**
 * prom-client's process metrics under their standard names (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `nodejs_eventloop_lag_seconds`, …: no prefix, as every Node
 * exporter names them, so stock dashboards work). Their `-workers` aggregation is prom-client's
 * (most are sums; the event-loop lag an average, `nodejs_version_info` the first) but for
 * `process_start_time_seconds`, which prom-client omits from an aggregate: the latest start of the
 * group (a restarted worker shows as a restart).
 */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  const start = registry.getSingleMetric('process_start_time_seconds') as Gauge | undefined;
  if (start) (start as unknown as { aggregator: string }).aggregator = 'max';
}

export class ProgramMetrics {
  readonly registry = new Registry();

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) registerProcessMetrics(this.registry);
  }

  /** `/metrics` from the registry; `/ready` is 200 while `ready()` is true, else 503 with `why`. */
  endpoints(ready: () => boolean, why = 'starting'): MetricsEndpoints {
    return {
      metrics: async () => ({ contentType: this.registry.contentType, body: await this.registry.metrics() }),
      ready: async () => (ready() ? { ready: true } : { ready: false, why }),
    };
  }
}

/**
 * Starts the metrics port when `metricsPort` > 0 (else undefined). A port that cannot be bound
 * writes `<program>: -metrics-port N: <why>` and exits 2 (a bad setting: restarting will not help).
 */
export async function serveProgramMetrics(
  program: string,
  cfg: { metricsPort: number; metricsHost: string },
  endpoints: MetricsEndpoints,
  log?: Logger,
): Promise<MetricsHttpServer | undefined> {
  if (cfg.metricsPort <= 0) return undefined;
  try {
    return await startMetricsServer(cfg.metricsHost, cfg.metricsPort, endpoints, log);
  } catch (err) {
    process.stderr.write(`${program}: -metrics-port ${cfg.metricsPort}: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
