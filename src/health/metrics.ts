/** Prometheus metrics of hades-scanner and hades-schedule (served by src/metrics/http.ts). */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { MetricsEndpoints } from '../metrics/http.js';
import { ProgramMetrics } from '../metrics/program.js';

export class ScannerMetrics extends ProgramMetrics {
  readonly probes = new Counter({
    name: 'hades_scanner_probes_total',
    help: 'Checks run, by type (httpGet, tcpSocket, grpc, icmp; the ports check is tcpSocket) and result (pass, fail)',
    labelNames: ['type', 'result'] as const,
    registers: [this.registry],
  });
  readonly probeDuration = new Histogram({
    name: 'hades_scanner_probe_duration_seconds',
    help: 'Duration of one check, by type',
    labelNames: ['type'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly lateness = new Histogram({
    name: 'hades_scanner_probe_lateness_seconds',
    help: 'How long after its scheduled time a round started probing (waiting for the pool included)',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly lateProbes = new Counter({
    name: 'hades_scanner_late_probes_total',
    help: 'Rounds that started probing 1 s or more after their scheduled time',
    registers: [this.registry],
  });
  readonly invalidProbes = new Counter({
    name: 'hades_scanner_invalid_probes_total',
    help: 'Status values with a probe that does not validate (counted once per value; the status is left as it is)',
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
    help: 'Status changes written, by new state (UP, DOWN) and reason class (ok, http_status, body, connect, timeout, tls, grpc, icmp, error)',
    labelNames: ['to', 'reason'] as const,
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

  observeProbe(type: string, ok: boolean, seconds: number): void {
    this.probes.inc({ type, result: ok ? 'pass' : 'fail' });
    this.probeDuration.observe({ type }, seconds);
  }

  observeLateness(seconds: number): void {
    this.lateness.observe(seconds);
    if (seconds >= 1) this.lateProbes.inc();
  }

  override endpoints(ready: () => boolean, why = 'no heartbeat yet'): MetricsEndpoints {
    return super.endpoints(ready, why);
  }
}

/** What ScheduleMetrics reads at scrape time (the Scheduler). */
export interface ScheduleSource {
  /** True while this process holds the lock. */
  readonly active: boolean;
  /** The last reconcile's counts (undefined before the first). */
  readonly lastReconcile: { readonly addresses: number; readonly live: readonly string[] } | undefined;
}

export type AssignmentOp = 'assign' | 'move' | 'unassign';

export class ScheduleMetrics extends ProgramMetrics {
  #source: ScheduleSource | undefined;
  readonly leader = new Gauge({
    name: 'hades_schedule_leader',
    help: '1 while this process holds the lock (the active scheduler), 0 while it stands by',
    registers: [this.registry],
    collect: () => {
      this.leader.set(this.#source?.active ? 1 : 0);
    },
  });
  readonly reconciles = new Counter({
    name: 'hades_schedule_reconciles_total',
    help: 'Reconcile passes of the active scheduler, by outcome (ok, error: a store error or the lock lost)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly assignments = new Counter({
    name: 'hades_schedule_assignments_total',
    help: 'Report keys written, by op (assign: an address got its first scanner, move: to another scanner, unassign: its status key went)',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });
  readonly scanners = new Gauge({
    name: 'hades_schedule_scanners',
    help: 'Live scanners (heartbeat keys) seen by the last reconcile; 0 while standing by',
    registers: [this.registry],
    collect: () => {
      const s = this.#source;
      this.scanners.set(s?.active ? (s.lastReconcile?.live.length ?? 0) : 0);
    },
  });
  readonly addresses = new Gauge({
    name: 'hades_schedule_addresses',
    help: 'Monitored addresses (status keys) seen by the last reconcile; 0 while standing by',
    registers: [this.registry],
    collect: () => {
      const s = this.#source;
      this.addresses.set(s?.active ? (s.lastReconcile?.addresses ?? 0) : 0);
    },
  });

  /** The scheduler whose state the gauges read (set once it exists). */
  setSource(source: ScheduleSource): void {
    this.#source = source;
  }
}
