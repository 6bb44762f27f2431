#!/usr/bin/env node
/**
 * hades: the DNS server. Parse flags → logger → store (etcd or embedded) → catalog (first list)
 * → handler → DNS server; SIGINT/SIGTERM close everything and exit 0. `hades standalone` adds
 * /health and /ready on the API's address and prints what to type next. `-workers N` runs N of
 * these in worker processes sharing the sockets (src/dns/workers.ts).
 */
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { Catalog } from '../catalog/catalog.js';
import { formatHostPort, type HadesConfig, loadHadesConfig } from '../config/hades.js';
import { createLogger } from '../config/logger.js';
import { DnsHandler } from '../dns/handler.js';
import { DnsServer } from '../dns/server.js';
import { type HealthServer, standaloneBanner, startHealthServer } from '../dns/standalone.js';
import { EXIT_FATAL, isWorker, notifyListening, runPrimary } from '../dns/workers.js';
import { openStore } from '../store/open.js';
import { type Store, StoreError } from '../store/types.js';
import { VERSION } from '../version.js';

const cfg = loadHadesConfig();
const log = createLogger({
  program: 'hades',
  logtostderr: cfg.log.logtostderr,
  logDir: cfg.log.logDir,
  verbosity: cfg.log.verbosity,
});

/** One line on stderr (and the log), then exit: for start-up errors a restart cannot fix. */
function fatal(message: string, code = EXIT_FATAL): never {
  log.fatal({ code }, message);
  log.flush();
  process.stderr.write(`hades: ${message}\n`);
  process.exit(code);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // aborted: shutting down
  }
}

/** Opens the store, retrying while it is unreachable (etcd not up yet); undefined if stopped first. */
async function openStoreRetrying(c: HadesConfig, stopped: AbortSignal): Promise<Store | undefined> {
  let wait = 200;
  for (let attempt = 1; !stopped.aborted; attempt++) {
    try {
      return await openStore({ machines: c.machines, dataDir: c.dataDir, tls: c.tls, logger: log });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'ESTORE_INVALID') {
        fatal(`${c.machines.length > 0 ? '-machines' : '-data-dir'}: ${err.message}`);
      }
      log.warn(
        { err: (err as Error).message, attempt, retryInMs: wait, machines: c.machines, dataDir: c.dataDir },
        'hades: store unavailable; retrying',
      );
      await pause(wait, stopped);
      wait = Math.min(wait * 2, 5000);
    }
  }
  return undefined;
}

async function serve(c: HadesConfig): Promise<void> {
  const stopper = new AbortController();
  const stop = { stopping: false };
  let store: Store | undefined;
  let catalog: Catalog | undefined;
  let server: DnsServer | undefined;
  let health: HealthServer | undefined;

  const shutdown = async (why: string, code: number): Promise<void> => {
    if (stop.stopping) return;
    stop.stopping = true;
    stopper.abort();
    log.info({ why }, 'hades: shutting down');
    const force = setTimeout(() => {
      log.error({}, 'hades: shutdown took too long; exiting');
      log.flush();
      process.exit(1);
    }, 10_000);
    force.unref();
    try {
      await server?.close();
      await catalog?.stop();
      await store?.close();
      await health?.close();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'hades: error while shutting down');
    }
    log.info({}, 'hades: stopped');
    log.flush();
    process.exit(code);
  };
  let signals = 0;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      signals++;
      // in a worker the primary escalates; alone, a second Ctrl-C means "now"
      if (signals > 1 && !isWorker()) {
        process.stderr.write('hades: second signal; exiting now\n');
        process.exit(130);
      }
      void shutdown(sig, 0);
    });
  }

  if (c.mode === 'standalone' && c.apiAddr) {
    try {
      health = await startHealthServer(
        c.apiAddr,
        () => catalog?.ready === true && server?.listening === true,
      );
    } catch (err) {
      fatal(`-api-addr ${formatHostPort(c.apiAddr)}: ${(err as Error).message}`);
    }
  }

  store = await openStoreRetrying(c, stopper.signal);
  if (!store) return;
  log.info({ kind: store.kind, machines: c.machines, dataDir: c.dataDir }, 'hades: store open');

  catalog = new Catalog({ store, prefix: c.prefix, healthPrefix: c.ipMonitorPath, logger: log });
  try {
    await catalog.start();
  } catch (err) {
    if (stop.stopping) return;
    throw err;
  }
  if (stop.stopping) return;
  log.info({ revision: catalog.revision, records: catalog.recordCount }, 'hades: catalog ready');

  const handler = new DnsHandler({
    catalog,
    zones: c.zones,
    defaultTtl: c.defaultTtl,
    select: c.select,
    trustEcs: c.trustEcs,
    hostname: hostname(),
    version: `hades ${VERSION}`,
  });
  // issue 4 plugs in here: `forwarder` (from -nameservers), the response cache and the metrics
  // port (DnsServer.stats, DnsHandler.stats and Catalog.stats are their counters)
  server = new DnsServer({
    handler,
    host: c.listen.host,
    port: c.listen.port,
    tcpIdleTimeoutMs: c.readTimeoutMs,
    maxTcpConnections: c.maxTcpConnections,
    logger: log,
  });
  try {
    await server.listen();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'EADDRINUSE'
        ? 'address already in use'
        : e.code === 'EACCES'
          ? 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
          : e.code === 'EADDRNOTAVAIL'
            ? 'no such local address'
            : e.message;
    fatal(`-addr ${formatHostPort(c.listen)}: ${why}`);
  }
  if (stop.stopping) {
    await server.close();
    return;
  }
  log.info(
    {
      addr: formatHostPort({ ...c.listen, port: server.port }),
      zones: c.zones,
      select: c.select,
      trustEcs: c.trustEcs,
    },
    'hades: answering',
  );
  if (isWorker()) notifyListening(server.port);
  else if (c.mode === 'standalone') process.stdout.write(standaloneBanner(c, server.port, health?.port));
}

process.on('uncaughtException', (err) => {
  log.fatal({ err: err.stack ?? err.message }, 'hades: uncaught exception');
  log.flush();
  process.stderr.write(`hades: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

if (cfg.workers > 1 && !isWorker()) {
  const code = await runPrimary({
    workers: cfg.workers,
    log,
    onFirstListening: (port) => {
      if (cfg.mode === 'standalone') process.stdout.write(standaloneBanner(cfg, port, cfg.apiAddr?.port));
    },
  });
  log.flush();
  process.exit(code);
} else {
  try {
    await serve(cfg);
  } catch (err) {
    log.fatal({ err: (err as Error).stack ?? String(err) }, 'hades: failed');
    log.flush();
    process.stderr.write(`hades: ${(err as Error).message ?? err}\n`);
    process.exit(1);
  }
}
