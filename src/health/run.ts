/**
 * What the two binaries share: configuration and logger, opening the store (retrying while etcd
 * is down), signals, fatal exits.
 */
import { parseCommandLine } from '../config/cli.js';
import { FlagError, type FlagSpec, type FlagValues } from '../config/flags.js';
import { createLogger, type PinoLogger as Logger } from '../config/logger.js';
import type { HealthLogConfig, HealthStoreConfig } from '../config/scanner.js';
import { openStore } from '../store/open.js';
import { type Store, StoreError } from '../store/types.js';

/**
 * Flags and the `-config-file` INI → a typed config (a bad value: one line, exit 2) and the
 * program's logger.
 */
export function loadProgram<C extends { log: HealthLogConfig }>(
  program: string,
  specs: readonly FlagSpec[],
  build: (values: FlagValues) => C,
): { cfg: C; log: Logger } {
  const parsed = parseCommandLine({ program, specs, configFileFlag: 'config-file' });
  let cfg: C;
  try {
    cfg = build(parsed.values);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`${program}: ${err.message}\n`);
    process.exit(2);
  }
  const log = createLogger({
    program,
    logtostderr: cfg.log.logtostderr || cfg.log.logDir === '',
    logDir: cfg.log.logDir,
    verbosity: cfg.log.verbosity,
  });
  return { cfg, log };
}

export async function openStoreRetrying(
  program: string,
  cfg: HealthStoreConfig,
  log: Logger,
  stopped: () => boolean,
): Promise<Store | undefined> {
  let wait = 200;
  for (let attempt = 1; !stopped(); attempt++) {
    try {
      return await openStore({ machines: cfg.machines, dataDir: cfg.dataDir, tls: cfg.tls, logger: log });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'ESTORE_INVALID') {
        process.stderr.write(
          `${program}: ${cfg.machines.length > 0 ? '-etcd-machine' : '-data-dir'}: ${err.message}\n`,
        );
        process.exit(2);
      }
      log.warn(
        { err: (err as Error).message, attempt, retryInMs: wait },
        `${program}: store unavailable; retrying`,
      );
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 5000);
    }
  }
  return undefined;
}

/** SIGINT/SIGTERM/SIGHUP run `shutdown` once, then exit 0; a second signal exits at once. */
export function onSignals(program: string, log: Logger, shutdown: () => Promise<void>): () => boolean {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (stopping) {
        process.stderr.write(`${program}: second signal; exiting now\n`);
        process.exit(130);
      }
      stopping = true;
      log.info({ sig }, `${program}: shutting down`);
      const force = setTimeout(() => process.exit(1), 10_000);
      force.unref();
      shutdown()
        .catch((err: Error) => log.warn({ err: err.message }, `${program}: error while shutting down`))
        .finally(() => {
          log.flush();
          process.exit(0);
        });
    });
  }
  return () => stopping;
}
