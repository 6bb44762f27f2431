/** What the two binaries share: open the store (retrying while etcd is down), signals, fatal exits. */
import type { Logger } from '../config/logger.js';
import type { HealthStoreConfig } from '../config/scanner.js';
import { openStore } from '../store/open.js';
import { type Store, StoreError } from '../store/types.js';

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
