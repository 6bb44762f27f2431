/**
 * hades: the DNS server. Parse flags → logger → store (etcd or embedded) → catalog (first list)
 * → handler → DNS server; SIGINT/SIGTERM close everything and exit 0. `hades standalone` adds
 * the REST API (src/api) with /health and /ready on -api-addr, on the same store, and prints what
 * to type next. `-workers N` runs N of these in worker processes sharing the sockets
 * (src/dns/workers.ts); standalone's API then runs in worker 0 only (restarted with it).
 *
 * Names outside -domain go to the forwarder (-nameservers, else /etc/resolv.conf; -stub per
 * zone), which also completes out-of-zone CNAME targets. -metrics-port serves /metrics, /health
 * and /ready (src/metrics); with -workers the primary serves it for the whole group.
 */
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { Catalog } from '../catalog/catalog.js';
import { formatHostPort, type HadesConfig, loadHadesConfig } from '../config/hades.js';
import { createLogger } from '../config/logger.js';
import { answerPrimary, ClusterMetrics, localEndpoints } from '../metrics/cluster.js';
import { HadesMetrics } from '../metrics/hades-metrics.js';
import { type MetricsHttpServer, startMetricsServer } from '../metrics/http.js';
import { openStore } from '../store/open.js';
import { type Store, StoreError } from '../store/types.js';
import { VERSION } from '../version.js';
import { ResponseCache } from './cache.js';
import {
  assertNoLoop,
  ForwardConfigError,
  Forwarder,
  ForwardLoopError,
  fromResolvConf,
  LATENCY_BUCKETS,
} from './forward/index.js';
import { DnsHandler } from './handler.js';
import { collectStartupGarbage } from './memory.js';
import { queryLogger } from './query-log.js';
import { DnsServer } from './server.js';
import {
  type StandaloneApi,
  standaloneBanner,
  startStandaloneApi,
  type TokenSource,
  writeApiToken,
} from './standalone.js';
import { udpBatchNative, udpBatchUnavailable } from './udp-batch.js';
import { EXIT_FATAL, isWorker, notifyListening, runPrimary } from './workers.js';
/** Runs hades (or `hades standalone`) with the process's command line and environment. */
export async function main(): Promise<void> {
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

  /** One line on stderr and exit 2, before anything else is logged: a configuration that cannot work. */
  function configError(message: string): never {
    process.stderr.write(`hades: ${message}\n`);
    process.exit(EXIT_FATAL);
  }

  /**
   * The forwarder's upstreams: -nameservers, else /etc/resolv.conf (unreadable: a warning, and
   * non-local names get REFUSED). Exits 2 with one line when an upstream is our own -addr (a loop).
   */
  function upstreamsOf(c: HadesConfig): string[] {
    let nameservers: string[];
    let from = '-nameservers';
    if (!c.forwarding) nameservers = [];
    else if (c.nameservers.length > 0) nameservers = c.nameservers.map(formatHostPort);
    else {
      from = '-nameservers (not given, so /etc/resolv.conf)';
      try {
        nameservers = fromResolvConf();
      } catch (err) {
        if (!(err instanceof ForwardConfigError)) throw err;
        log.warn(
          { err: err.message },
          'hades: no -nameservers and no /etc/resolv.conf: names outside -domain get REFUSED',
        );
        nameservers = [];
      }
    }
    try {
      assertNoLoop(nameservers, [c.listen]);
    } catch (err) {
      if (err instanceof ForwardLoopError)
        configError(
          `${from}: ${err.upstream} is this server's own address (-addr ${err.listen}): forwarding would loop`,
        );
      throw err;
    }
    for (const [zone, list] of c.stubs) {
      try {
        assertNoLoop(list, [c.listen]);
      } catch (err) {
        if (err instanceof ForwardLoopError)
          configError(
            `-stub ${zone}: ${err.upstream} is this server's own address (-addr ${err.listen}): forwarding would loop`,
          );
        throw err;
      }
    }
    return nameservers;
  }

  const upstreams = upstreamsOf(cfg);

  /**
   * Standalone's API token: -hades-auth, else a new random one in <data-dir>/api-token, made once by
   * the first process and handed to -workers through the environment (HADES_HADES_AUTH), so a
   * restarted worker keeps it. Never logged.
   */
  let apiToken = cfg.hadesAuth;
  let tokenSource: TokenSource = 'flag';
  if (cfg.mode === 'standalone' && cfg.apiAddr && apiToken === '' && !isWorker()) {
    try {
      const t = writeApiToken(cfg.dataDir);
      apiToken = t.token;
      tokenSource = { file: t.file };
      process.env.HADES_HADES_AUTH = t.token;
    } catch (err) {
      fatal(`-data-dir ${cfg.dataDir}: cannot write the API token: ${(err as Error).message}`);
    }
  }
  /** This process serves standalone's API: the only process, or worker 0 of -workers. */
  const servesApi = cfg.mode === 'standalone' && !(isWorker() && process.env.HADES_WORKER_INDEX !== '0');

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
    let forwarder: Forwarder | undefined;
    let api: StandaloneApi | undefined;
    let metricsHttp: MetricsHttpServer | undefined;
    // -metrics-port: the registry reads the parts as they come up; a worker answers its primary
    const metrics = c.metricsPort > 0 ? new HadesMetrics({ version: VERSION }) : undefined;
    if (metrics && isWorker()) answerPrimary(metrics);

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
        await api?.close();
        await server?.close();
        forwarder?.close();
        await catalog?.stop();
        await store?.close();
        await metricsHttp?.close();
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

    if (servesApi && c.apiAddr) {
      try {
        api = await startStandaloneApi(c.apiAddr, {
          isReady: () => catalog?.ready === true && server?.listening === true,
          token: apiToken,
          domain: c.zones[0],
          prefix: c.prefix,
          monitorPath: c.ipMonitorPath,
          metrics: c.metricsPort > 0 ? { host: c.metricsHost, port: c.metricsPort } : undefined,
          logger: log,
        });
      } catch (err) {
        fatal(`-api-addr ${formatHostPort(c.apiAddr)}: ${(err as Error).message}`);
      }
      log.info(
        {
          addr: formatHostPort({ ...c.apiAddr, port: api.port }),
          tokenFrom: tokenSource === 'flag' ? 'from -hades-auth or the primary' : 'generated into -data-dir',
        },
        'hades: REST API on /hades, /v1; /health, /ready',
      );
    }

    if (metrics && !isWorker()) {
      try {
        metricsHttp = await startMetricsServer(c.metricsHost, c.metricsPort, localEndpoints(metrics), log);
      } catch (err) {
        fatal(`-metrics-port ${metricsAt(c, c.metricsPort)}: ${bindError(err)}`);
      }
      log.info({ addr: metricsAt(c, metricsHttp.port) }, 'hades: metrics on /metrics, /health, /ready');
    }

    store = await openStoreRetrying(c, stopper.signal);
    if (!store) return;
    log.info({ kind: store.kind, machines: c.machines, dataDir: c.dataDir }, 'hades: store open');
    api?.attach(store);

    catalog = new Catalog({ store, prefix: c.prefix, healthPrefix: c.ipMonitorPath, logger: log });
    metrics?.setCatalog(catalog);
    try {
      await catalog.start();
    } catch (err) {
      if (stop.stopping) return;
      throw err;
    }
    if (stop.stopping) return;
    // the first list's garbage goes before hades listens (src/dns/memory.ts)
    const gcMs = collectStartupGarbage();
    log.info(
      {
        revision: catalog.revision,
        records: catalog.recordCount,
        gcMs: gcMs === undefined ? undefined : Math.round(gcMs),
      },
      'hades: catalog ready',
    );

    const handler = new DnsHandler({
      catalog,
      zones: c.zones,
      defaultTtl: c.defaultTtl,
      select: c.select,
      trustEcs: c.trustEcs,
      hostname: hostname(),
      version: `hades ${VERSION}`,
    });
    // -rcache: upstream answers for names outside -domain (ours come from the catalog, always current)
    const cache =
      c.rcache > 0 && (c.forwarding || c.stubs.size > 0)
        ? new ResponseCache({ capacity: c.rcache, maxTtl: c.rcacheTtl, udpSize: handler.maxUdpSize })
        : undefined;
    // names outside -domain, and out-of-zone CNAME targets of ours, go upstream (-nameservers none:
    // no forwarder, such names get REFUSED; -stub zones alone still make one)
    try {
      if (c.forwarding || c.stubs.size > 0)
        forwarder = new Forwarder({
          nameservers: upstreams,
          stubs: c.stubs,
          readTimeoutMs: Math.max(1, Math.round(c.readTimeoutMs)),
          listen: [c.listen],
          logger: log,
          cache,
        });
    } catch (err) {
      fatal(`-nameservers: ${(err as Error).message}`);
    }
    const fwd = forwarder;
    if (c.udpBatch && udpBatchNative() === null)
      log.warn({ reason: udpBatchUnavailable() }, 'dns: batched UDP unavailable; using node:dgram (slower)');
    server = new DnsServer({
      handler,
      host: c.listen.host,
      port: c.listen.port,
      udpSize: handler.maxUdpSize,
      forwarder: fwd,
      tcpIdleTimeoutMs: c.readTimeoutMs,
      maxTcpConnections: c.maxTcpConnections,
      // the addon missing: node:dgram (said once at start, below)
      udpBatch: c.udpBatch && udpBatchNative() !== null,
      // each worker binds its own batched socket on the port; the kernel spreads datagrams
      udpReusePort: isWorker(),
      logger: log,
      // the query lines carry fixed fields, no secrets: skip redaction (4x cheaper per line)
      onQuery: c.logQueries ? queryLogger(log.child({}, { redact: [] })) : undefined,
      cache,
    });
    if (metrics) {
      const srv = server;
      const cat = catalog;
      metrics.setServer(srv);
      metrics.setHandler(handler);
      if (fwd) metrics.setForwarder(fwd, LATENCY_BUCKETS);
      metrics.setCacheSource(cache?.stats);
      metrics.setReady(() => cat.ready && srv.listening);
    }
    try {
      await server.listen();
    } catch (err) {
      fatal(`-addr ${formatHostPort(c.listen)}: ${bindError(err)}`);
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
        nameservers: upstreams,
        stubs: [...c.stubs.keys()],
      },
      'hades: answering',
    );
    if (isWorker()) notifyListening(server.port);
    else if (c.mode === 'standalone')
      process.stdout.write(standaloneBanner(c, server.port, api?.port, tokenSource));
  }

  /** `host:port` of the metrics port. */
  function metricsAt(c: HadesConfig, port: number): string {
    return formatHostPort({ host: c.metricsHost, port, family: c.metricsHost.includes(':') ? 6 : 4 });
  }

  /** The one-line reason a listen failed. */
  function bindError(err: unknown): string {
    const e = err as NodeJS.ErrnoException;
    return e.code === 'EADDRINUSE'
      ? 'address already in use'
      : e.code === 'EACCES'
        ? 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
        : e.code === 'EADDRNOTAVAIL'
          ? 'no such local address'
          : e.message;
  }

  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.stack ?? err.message }, 'hades: uncaught exception');
    log.flush();
    process.stderr.write(`hades: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });

  if (cfg.workers > 1 && !isWorker()) {
    // one metrics port for the group: the primary asks the workers at each scrape
    let metricsHttp: MetricsHttpServer | undefined;
    if (cfg.metricsPort > 0) {
      const at = metricsAt(cfg, cfg.metricsPort);
      try {
        metricsHttp = await startMetricsServer(
          cfg.metricsHost,
          cfg.metricsPort,
          new ClusterMetrics(cfg.workers),
          log,
        );
      } catch (err) {
        fatal(`-metrics-port ${at}: ${bindError(err)}`);
      }
      log.info(
        { addr: at, workers: cfg.workers },
        'hades: metrics of every worker on /metrics, /health, /ready',
      );
    }
    const code = await runPrimary({
      workers: cfg.workers,
      log,
      onFirstListening: (port) => {
        if (cfg.mode === 'standalone')
          process.stdout.write(standaloneBanner(cfg, port, cfg.apiAddr?.port, tokenSource));
      },
    });
    await metricsHttp?.close();
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
}
