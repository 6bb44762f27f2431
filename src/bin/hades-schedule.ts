#!/usr/bin/env node
/**
 * hades-schedule: one active instance (lease election on lock-path) assigns the addresses under
 * status-path to the live scanners under heart-path, writing report-path (src/health/README.md).
 * Settings from `-config-file` (default /etc/hades/hades-schedule.conf), flags and HADES_*.
 */
import { parseCommandLine } from '../config/cli.js';
import { FlagError } from '../config/flags.js';
import { createLogger } from '../config/logger.js';
import { buildScheduleConfig, type ScheduleConfig, scheduleFlagSpecs } from '../config/schedule.js';
import { onSignals, openStoreRetrying } from '../health/run.js';
import { Scheduler } from '../health/scheduler.js';
import type { Store } from '../store/types.js';

const PROGRAM = 'hades-schedule';
const parsed = parseCommandLine({
  program: PROGRAM,
  specs: scheduleFlagSpecs(),
  configFileFlag: 'config-file',
});
let cfg: ScheduleConfig;
try {
  cfg = buildScheduleConfig(parsed.values);
} catch (err) {
  if (!(err instanceof FlagError)) throw err;
  process.stderr.write(`${PROGRAM}: ${err.message}\n`);
  process.exit(2);
}
const log = createLogger({
  program: PROGRAM,
  logtostderr: cfg.log.logtostderr || cfg.log.logDir === '',
  logDir: cfg.log.logDir,
  verbosity: cfg.log.verbosity,
});

let store: Store | undefined;
let scheduler: Scheduler | undefined;
const stopping = onSignals(PROGRAM, log, async () => {
  await scheduler?.stop();
  await store?.close();
});

store = await openStoreRetrying(PROGRAM, cfg, log, stopping);
if (store) {
  scheduler = new Scheduler({ ...cfg, store, id: `${cfg.hostname}#${process.pid}`, logger: log });
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
