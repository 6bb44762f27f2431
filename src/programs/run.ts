/**
 * What every program does the same way around its own assembly: the command line → a typed
 * config (one line and exit 2 for a bad flag, an unknown flag or a stray argument; usage for -h;
 * -version), the logger, signals, the store opened with retries, fatal start-up errors.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { CommandLine } from '../config/cli.js';
import { FlagError, HelpRequested } from '../config/flags.js';
import { IniError } from '../config/ini.js';
import { createLogger, type PinoLogger } from '../config/logger.js';
import { openStore, type StoreConfig } from '../store/open.js';
import { type Store, StoreError } from '../store/types.js';
import { VERSION } from '../version.js';

/** A command line or configuration that cannot work: one line on stderr, exit status 2. */
export function exitUsage(program: string, message: string): never {
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(2);
}

/** The config from the process's command line and environment; exits for -h, -version and errors. */
export function loadConfig<C>(
  cl: CommandLine<C>,
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): C {
  let config: C | 'version';
  try {
    config = cl.parse(argv, env);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(cl.usage(argv));
      process.exit(0);
    }
    if (err instanceof FlagError || err instanceof IniError) exitUsage(cl.program, err.message);
    throw err;
  }
  if (config === 'version') {
    process.stdout.write(`${cl.program} ${VERSION} (node ${process.version})\n`);
    process.exit(0);
  }
  return config;
}

/** The seed's logging flags (-logtostderr, -log_dir / log-dir, -v / log-level). */
export interface LogConfig {
  logtostderr: boolean;
  logDir: string;
  verbosity: number;
}

export function programLogger(program: string, log: LogConfig): PinoLogger {
  return createLogger({ program, ...log });
}

/** One line on stderr (and the log), then exit: a start-up error a restart cannot fix. */
export function fatal(program: string, log: PinoLogger, message: string, code = 2): never {
  log.fatal({ code }, message);
  log.flush();
  process.stderr.write(`${program}: ${message}\n`);
  process.exit(code);
}

/**
 * SIGINT/SIGTERM/SIGHUP abort the returned signal and run `shutdown` once, then exit 0 (1 when it
 * takes over 10 s). A second signal exits 130 at once, unless `secondSignalExits` is false (a
 * worker: its primary escalates).
 */
export function onSignals(
  program: string,
  log: PinoLogger,
  shutdown: () => Promise<void>,
  secondSignalExits = true,
): AbortSignal {
  const stopper = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (stopper.signal.aborted) {
        if (!secondSignalExits) return;
        process.stderr.write(`${program}: second signal; exiting now\n`);
        process.exit(130);
      }
      stopper.abort();
      log.info({ sig }, `${program}: shutting down`);
      const force = setTimeout(() => {
        log.error({}, `${program}: shutdown took too long; exiting`);
        log.flush();
        process.exit(1);
      }, 10_000);
      force.unref();
      shutdown()
        .catch((err: Error) => log.warn({ err: err.message }, `${program}: error while shutting down`))
        .finally(() => {
          log.info({}, `${program}: stopped`);
          log.flush();
          process.exit(0);
        });
    });
  }
  return stopper.signal;
}

/**
 * Opens the store, retrying (200 ms doubling to 5 s) while it is unreachable (etcd not up yet);
 * undefined when `stopped` aborts first. A configuration the store refuses is fatal (exit 2),
 * e.g. a TLS file that is missing, unreadable, expired or not the key of its certificate.
 *
 * A TLS handshake etcd refuses, or whose server certificate our CA does not verify, is retried
 * too (the files are read again on each attempt, so a renewed Secret is picked up; a server
 * certificate being rotated is transient): its line names the file and the cause, on stderr once
 * per distinct cause and in the log at each attempt. Nothing is read from such a peer.
 */
export async function openStoreRetrying(
  program: string,
  cfg: Omit<StoreConfig, 'logger'>,
  /** The flag that gives `machines`, for the error line (-machines, -etcd-server…). */
  machinesFlag: string,
  log: PinoLogger,
  stopped: AbortSignal,
): Promise<Store | undefined> {
  let wait = 200;
  let lastTlsLine = '';
  for (let attempt = 1; !stopped.aborted; attempt++) {
    try {
      return await openStore({ ...cfg, logger: log });
    } catch (err) {
      const message = (err as Error).message;
      const tls = err instanceof StoreError && message.startsWith('etcd TLS: ');
      if (err instanceof StoreError && err.code === 'ESTORE_INVALID')
        fatal(
          program,
          log,
          tls ? message : `${cfg.machines.length > 0 ? `-${machinesFlag}` : '-data-dir'}: ${message}`,
        );
      const fields = { err: message, attempt, retryInMs: wait, machines: cfg.machines, dataDir: cfg.dataDir };
      if (tls) {
        log.error(fields, `${program}: ${message}; retrying`);
        if (message !== lastTlsLine) process.stderr.write(`${program}: ${message}; retrying\n`);
        lastTlsLine = message;
      } else log.warn(fields, `${program}: store unavailable; retrying`);
      await delay(wait, undefined, { signal: stopped }).catch(() => {
        // aborted: shutting down
      });
      wait = Math.min(wait * 2, 5000);
    }
  }
  return undefined;
}
