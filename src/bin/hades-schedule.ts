#!/usr/bin/env node
/**
 * hades-schedule: one active instance (lease election on lock-path) assigns the addresses under
 * status-path to the live scanners under heart-path, writing report-path (src/health/README.md).
 * Settings from `-config-file` (default /etc/hades/hades-schedule.conf), flags and HADES_*.
 */
import { buildScheduleConfig, scheduleFlagSpecs } from '../config/schedule.js';
import { loadProgram, onSignals, openStoreRetrying } from '../health/run.js';
import { Scheduler } from '../health/scheduler.js';
import type { Store } from '../store/types.js';

const PROGRAM = 'hades-schedule';
const { cfg, log } = loadProgram(PROGRAM, scheduleFlagSpecs(), buildScheduleConfig);

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
