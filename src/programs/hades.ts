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
import { Catalog } from '../catalog/catalog.js';
import { readSnapshot, SnapshotError, SnapshotWriter } from '../catalog/snapshot.js';
import { formatHostPort, type HostPort } from '../common/host-port.js';
import { assertNoLoop, ForwardConfigError, ForwardLoopError, fromResolvConf } from '../config/forward.js';
import { type HadesConfig, hadesCommandLine, PROGRAM } from '../config/hades.js';
import { ResponseCache } from '../dns/cache.js';
import { Forwarder, LATENCY_BUCKETS } from '../dns/forward/index.js';
import { DnsHandler } from '../dns/handler.js';
import { collectStartupGarbage } from '../dns/memory.js';
import { queryLogger } from '../dns/query-log.js';
import { DnsServer } from '../dns/server.js';
import { Notifier } from '../dns/transfer/notify.js';
import { Transfers } from '../dns/transfer/service.js';
import { TransferViews } from '../dns/transfer/views.js';
import { udpBatchNative, udpBatchUnavailable } from '../dns/udp-batch.js';
import { EXIT_FATAL, isWorker, notifyListening, runPrimary } from '../dns/workers.js';
import { answerPrimary, ClusterMetrics, localEndpoints } from '../metrics/cluster.js';
import { HadesMetrics } from '../metrics/hades-metrics.js';
import { type MetricsHttpServer, startMetricsServer } from '../metrics/http.js';
import type { Store } from '../store/types.js';
import { VERSION } from '../version.js';
import {
  exitUsage,
  fatal as fatalExit,
  loadConfig,
  onSignals,
  openStoreRetrying,
  programLogger,
} from './run.js';
import {
  type StandaloneApi,
  standaloneBanner,
  startStandaloneApi,
  type TokenSource,
  writeApiToken,
} from './standalone.js';

/**
 * With a snapshot installed, how long hades waits for the store's first list before answering
 * from the snapshot (a reachable etcd lists 100,000 records in about a second).
 */
const SNAPSHOT_GRACE_MS = 3000;

/** Runs hades (or `hades standalone`) with the process's command line and environment. */
export async function main(): Promise<void> {
  const cfg = loadConfig(hadesCommandLine);
  const log = programLogger(PROGRAM, cfg.log);

  // EXIT_FATAL: a worker's primary stops the group instead of restarting it
  function fatal(message: string): never {
    fatalExit(PROGRAM, log, message, EXIT_FATAL);
  }

  /**
   * The forwarder's upstreams: -nameservers, else /etc/resolv.conf (unreadable: a warning, and
   * non-local names get REFUSED). Exits 2 with one line when an upstream is our own -addr (a loop).
   */
  function upstreamsOf(c: HadesConfig): HostPort[] {
    let nameservers: HostPort[];
    let from = '-nameservers';
    if (!c.forwarding) nameservers = [];
    else if (c.nameservers.length > 0) nameservers = c.nameservers;
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
    // an upstream that is this server would loop: refuse to start, naming the flag
    const checkLoop = (list: readonly HostPort[], flag: string): void => {
      try {
        assertNoLoop(list, [c.listen]);
      } catch (err) {
        if (!(err instanceof ForwardLoopError)) throw err;
        exitUsage(
          PROGRAM,
          `${flag}: ${err.upstream} is this server's own address (-addr ${err.listen}): forwarding would loop`,
        );
      }
    };
    checkLoop(nameservers, from);
    for (const [zone, list] of c.stubs) checkLoop(list, `-stub ${zone}`);
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

  async function serve(c: HadesConfig): Promise<void> {
    let store: Store | undefined;
    let catalog: Catalog | undefined;
    let server: DnsServer | undefined;
    let forwarder: Forwarder | undefined;
    let api: StandaloneApi | undefined;
    let metricsHttp: MetricsHttpServer | undefined;
    let snapshots: SnapshotWriter | undefined;
    let views: TransferViews | undefined;
    let notifier: Notifier | undefined;
    // -metrics-port: the registry reads the parts as they come up; a worker answers its primary
    const metrics = c.metricsPort > 0 ? new HadesMetrics({ version: VERSION }) : undefined;
    if (metrics && isWorker()) answerPrimary(metrics);

    // in a worker the primary escalates a second signal; alone, a second Ctrl-C means "now"
    const stopped = onSignals(
      PROGRAM,
      log,
      async () => {
        await api?.close();
        await server?.close();
        views?.close();
        await notifier?.close();
        forwarder?.close();
        await snapshots?.stop();
        await catalog?.stop();
        await store?.close();
        await metricsHttp?.close();
      },
      !isWorker(),
    );

    if (servesApi && c.apiAddr) {
      try {
        api = await startStandaloneApi(c.apiAddr, {
          isReady: () => catalog?.ready === true && server?.listening === true,
          token: apiToken,
          domain: c.zones[0],
          prefix: c.prefix,
          monitorPath: c.ipMonitorPath,
          topologyPath: c.topologyPath,
          tls: c.apiTls,
          trustedProxies: c.apiTrustedProxies,
          metrics: c.metricsPort > 0 ? { host: c.metricsHost, port: c.metricsPort } : undefined,
          logger: log,
        });
      } catch (err) {
        fatal(`-api-addr ${formatHostPort(c.apiAddr)}: ${(err as Error).message}`);
      }
      log.info(
        {
          addr: formatHostPort({ ...c.apiAddr, port: api.port }),
          tls: c.apiTls ? (c.apiTls.clientCa ? 'https, client certificates' : 'https') : 'none',
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
      log.info(
        { addr: metricsAt(c, metricsHttp.port) },
        'hades: metrics on /metrics, /health, /ready, /explain',
      );
    }

    const cat = new Catalog({
      prefix: c.prefix,
      healthPrefix: c.ipMonitorPath,
      topologyPrefix: c.topologyPath,
      logger: log,
    });
    catalog = cat;
    metrics?.setCatalog(cat);
    if (c.snapshot !== '') await installSnapshot(cat, c.snapshot);

    // open the store and take the first list; with a snapshot installed, answer from it if that
    // does not happen soon (the store is unreachable), until it does
    const opening = (async (): Promise<boolean> => {
      store = await openStoreRetrying(PROGRAM, c, 'machines', log, stopped);
      if (!store) return false;
      log.info({ kind: store.kind, machines: c.machines, dataDir: c.dataDir }, 'hades: store open');
      api?.attach(store);
      await cat.start(store);
      return true;
    })();
    let listed: boolean;
    try {
      listed = cat.stale ? await listedWithin(opening, SNAPSHOT_GRACE_MS) : await opening;
    } catch (err) {
      if (stopped.aborted) return;
      throw err;
    }
    if (stopped.aborted) return;
    if (!listed) {
      log.warn(
        { file: c.snapshot, revision: cat.revision, written: new Date(cat.lastEventAt).toISOString() },
        'hades: the store is unreachable: answering from the snapshot (stale) until it lists',
      );
      opening.then(
        (ok) => {
          if (ok)
            log.info(
              { revision: cat.revision, records: cat.recordCount },
              'hades: store listed: the snapshot replaced',
            );
        },
        (err) => {
          if (!stopped.aborted)
            log.error({ err: (err as Error).message }, 'hades: following the store failed');
        },
      );
    }
    if (c.snapshot !== '') snapshots = new SnapshotWriter({ catalog: cat, file: c.snapshot, logger: log });
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
      catalog: cat,
      zones: c.zones,
      defaultTtl: c.defaultTtl,
      select: c.select,
      allDown: c.allDown,
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
    // the upstreams are parsed and loop-checked already (config, upstreamsOf)
    if (c.forwarding || c.stubs.size > 0)
      forwarder = new Forwarder({
        nameservers: upstreams,
        stubs: c.stubs,
        readTimeoutMs: Math.max(1, Math.round(c.readTimeoutMs)),
        logger: log,
        cache,
      });
    const fwd = forwarder;
    // -transfer-allow / -notify: the zones as secondaries get them (src/dns/transfer)
    let transfers: Transfers | undefined;
    if (c.transferAllow.length > 0 || c.notify.length > 0) {
      // NOTIFY once per change: from the only process, or worker 0 of -workers (each has the views)
      const n =
        c.notify.length > 0 && (!isWorker() || process.env.HADES_WORKER_INDEX === '0')
          ? new Notifier({ targets: c.notify, key: c.tsig, log })
          : undefined;
      notifier = n;
      views = new TransferViews({
        source: cat,
        zones: c.zones,
        defaultTtl: c.defaultTtl,
        minTtl: handler.minTtl,
        log,
        onZoneChange: n && ((zone, serial) => n.changed(zone, serial >>> 0)),
      });
      transfers = new Transfers({ views, allow: c.transferAllow, key: c.tsig, minTtl: handler.minTtl, log });
      const v = views;
      v.build().catch((err: unknown) => log.error({ err }, 'transfer: building the zones failed'));
    } else if (c.tsig !== undefined) {
      log.warn('hades: -tsig without -transfer-allow or -notify signs nothing');
    }
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
      transfers,
    });
    if (metrics) {
      const srv = server;
      const cat = catalog;
      metrics.setServer(srv);
      metrics.setHandler(handler);
      if (fwd) metrics.setForwarder(fwd, LATENCY_BUCKETS);
      metrics.setCacheSource(cache?.stats);
      const t = transfers;
      const v = views;
      if (t !== undefined && v !== undefined)
        metrics.setTransfers({
          counts: t.counts,
          tsigFailures: t.tsigFailures,
          get active() {
            return t.active;
          },
          get names() {
            return v.nameCount;
          },
          notify: notifier?.stats,
        });
      // a snapshot served while the store is unreachable is an answer: ready (and stale, a gauge)
      metrics.setReady(() => (cat.ready || cat.stale) && srv.listening);
    }
    try {
      await server.listen();
    } catch (err) {
      fatal(`-addr ${formatHostPort(c.listen)}: ${bindError(err)}`);
    }
    if (stopped.aborted) {
      await server.close();
      return;
    }
    log.info(
      {
        addr: formatHostPort({ ...c.listen, port: server.port }),
        zones: c.zones,
        select: c.select,
        allDown: c.allDown,
        trustEcs: c.trustEcs,
        nameservers: upstreams.map(formatHostPort),
        stubs: [...c.stubs.keys()],
      },
      'hades: answering',
    );
    if (isWorker()) notifyListening(server.port);
    else if (c.mode === 'standalone')
      process.stdout.write(standaloneBanner(c, server.port, api?.port, tokenSource));
  }

  /** Installs the snapshot in `file` into `cat` (a missing or unusable file: a warning, no snapshot). */
  async function installSnapshot(cat: Catalog, file: string): Promise<void> {
    try {
      const snap = await readSnapshot(file, cat.prefix);
      cat.installSnapshot(snap);
      log.info(
        {
          file,
          revision: snap.revision,
          records: snap.index.size,
          written: new Date(snap.written).toISOString(),
        },
        'hades: snapshot loaded',
      );
    } catch (err) {
      if (!(err instanceof SnapshotError)) throw err;
      log.warn({ err: err.message }, 'hades: -snapshot not used');
    }
  }

  /** True when `opening` lists within `ms`; false when it has not by then (it goes on). */
  async function listedWithin(opening: Promise<boolean>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([opening.catch(() => false), late]);
    } finally {
      clearTimeout(timer);
    }
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
