/**
 * hades-schedule: one active instance (lease election on lock-path) assigns the addresses under
 * status-path to the live scanners under heart-path, writing report-path (src/health/README.md).
 * Settings from `-config-file` (default /etc/hades/hades-schedule.conf), flags and HADES_*.
 */
import { flagsCommandLine } from '../config/cli.js';
import { buildScheduleConfig, scheduleFlagSpecs } from '../config/schedule.js';
import { ScheduleMetrics } from '../health/metrics.js';
import { Scheduler } from '../health/scheduler.js';
import type { MetricsHttpServer } from '../metrics/http.js';
import { serveProgramMetrics } from '../metrics/program.js';
import type { Store } from '../store/types.js';
import { loadConfig, onSignals, openStoreRetrying, programLogger } from './run.js';

const PROGRAM = 'hades-schedule';

export async function main(): Promise<void> {
  const cfg = loadConfig(flagsCommandLine(PROGRAM, scheduleFlagSpecs(), buildScheduleConfig, 'config-file'));
  const log = programLogger(PROGRAM, cfg.log);

  let store: Store | undefined;
  let scheduler: Scheduler | undefined;
  let http: MetricsHttpServer | undefined;
  const stopped = onSignals(PROGRAM, log, async () => {
    await scheduler?.stop();
    await store?.close();
    await http?.close();
  });

  // ready once the store is reached: a standby (not holding the lock) is ready too
  const metrics = cfg.metricsPort > 0 ? new ScheduleMetrics() : undefined;
  if (metrics)
    http = await serveProgramMetrics(
      PROGRAM,
      cfg,
      metrics.endpoints(() => store !== undefined, 'the store is not reached yet'),
      log,
    );

  store = await openStoreRetrying(PROGRAM, cfg, 'etcd-machine', log, stopped);
  if (!store) return;
  scheduler = new Scheduler({ ...cfg, store, id: `${cfg.hostname}#${process.pid}`, logger: log, metrics });
  metrics?.setSource(scheduler);
  log.info(
    {
      hostname: cfg.hostname,
      store: store.kind,
      lock: cfg.lockPath,
      forceLockTime: cfg.forceLockTimeSeconds,
    },
    `${PROGRAM}: started; campaigning for the lock (force-lock-time is replaced by the lock's lease)`,
  );
  scheduler.start();
}
