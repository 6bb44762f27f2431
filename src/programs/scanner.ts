/**
 * hades-scanner: probes the addresses assigned to its hostname under report-path and writes UP/DOWN
 * to status-path (src/health/README.md). Settings from `-config-file` (default
 * /etc/hades/hades-scanner.conf, the seed's INI layout), flags and HADES_* variables.
 */
import { flagsCommandLine } from '../config/cli.js';
import { buildScannerConfig, scannerFlagSpecs } from '../config/scanner.js';
import { ScannerMetrics } from '../health/metrics.js';
import { Scanner } from '../health/scanner.js';
import type { MetricsHttpServer } from '../metrics/http.js';
import { serveProgramMetrics } from '../metrics/program.js';
import type { Store } from '../store/types.js';
import { loadConfig, onSignals, openStoreRetrying, programLogger } from './run.js';

const PROGRAM = 'hades-scanner';

export async function main(): Promise<void> {
  const cfg = loadConfig(flagsCommandLine(PROGRAM, scannerFlagSpecs(), buildScannerConfig, 'config-file'));
  const log = programLogger(PROGRAM, cfg.log);

  let store: Store | undefined;
  let scanner: Scanner | undefined;
  let http: MetricsHttpServer | undefined;
  const stopped = onSignals(PROGRAM, log, async () => {
    await scanner?.stop();
    await store?.close();
    await http?.close();
  });

  const metrics = cfg.metricsPort > 0 ? new ScannerMetrics() : undefined;
  if (metrics)
    http = await serveProgramMetrics(
      PROGRAM,
      cfg,
      metrics.endpoints(() => scanner?.heartbeatOk === true),
      log,
    );

  if (!cfg.enableCheck) {
    log.info({}, `${PROGRAM}: enable-check is false: idle (no heartbeat, nothing assigned)`);
    return;
  }
  store = await openStoreRetrying(PROGRAM, cfg, 'etcd-machine', log, stopped);
  if (!store) return;
  scanner = new Scanner({ ...cfg, store, logger: log, metrics });
  log.info(
    { hostname: cfg.hostname, store: store.kind, statusPath: cfg.statusPath, reportPath: cfg.reportPath },
    `${PROGRAM}: started`,
  );
  await scanner.start();
}
