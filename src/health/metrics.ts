/** Prometheus metrics of hades-scanner and hades-schedule (served by src/metrics/http.ts). */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { MetricsEndpoints } from '../metrics/http.js';

export class ScannerMetrics {
  readonly registry = new Registry();
  readonly probes = new Counter({
    name: 'hades_scanner_probes_total',
    help: 'Probes run, by kind (tcp, icmp)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly probeFailures = new Counter({
    name: 'hades_scanner_probe_failures_total',
    help: 'Probes that failed, by kind (tcp, icmp)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly rounds = new Counter({
    name: 'hades_scanner_rounds_total',
    help: 'Rounds of checks of one address, by outcome (pass, fail)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly stateChanges = new Counter({
    name: 'hades_scanner_state_changes_total',
    help: 'Status changes written, by new state (UP, DOWN)',
    labelNames: ['to'] as const,
    registers: [this.registry],
  });
  readonly writeConflicts = new Counter({
    name: 'hades_scanner_write_conflicts_total',
    help: 'Status writes whose compare-and-swap failed (the value changed since it was read)',
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'hades_scanner_store_errors_total',
    help: 'Store reads or writes that failed',
    registers: [this.registry],
  });
  readonly roundDuration = new Histogram({
    name: 'hades_scanner_round_duration_seconds',
    help: 'Duration of one round of checks of one address',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });
  readonly targets = new Gauge({
    name: 'hades_scanner_targets',
    help: 'Addresses assigned to this scanner',
    registers: [this.registry],
  });
  readonly heartbeatUp = new Gauge({
    name: 'hades_scanner_heartbeat_up',
    help: '1 while the heartbeat key is held under a live lease',
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'hades_' });
  }

  endpoints(ready: () => boolean): MetricsEndpoints {
    return {
      metrics: async () => ({ contentType: this.registry.contentType, body: await this.registry.metrics() }),
      ready: async () => (ready() ? { ready: true } : { ready: false, why: 'no heartbeat yet' }),
    };
  }
}
