/**
 * hades-kubeapi: the REST API (api-enable) and the Kubernetes watcher (kube-enable) on one store.
 * Flags and the INI file: src/config/kubeapi.ts. SIGINT/SIGTERM stop both and exit 0.
 *
 * The watcher is `startKube(ctx)` of `src/kube/index.ts` (ctx: its `KubeContextLike`), loaded
 * only when kube-enable is YES.
 */
import { ApiCounters } from '../api/api-counters.js';
import { Authenticator, RateLimiter, TokenError } from '../api/auth.js';
import { DnsMetrics } from '../api/dns-metrics.js';
import { TrustedProxies } from '../api/forwarded.js';
import { type ApiServer, startApiServer } from '../api/server.js';
import { RecordService } from '../api/service.js';
import { formatHostPort } from '../common/host-port.js';
import { flagsCommandLine } from '../config/cli.js';
import { buildKubeapiConfig, KUBEAPI_PROGRAM, kubeapiFlagSpecs } from '../config/kubeapi.js';
import type { MetricsHttpServer } from '../metrics/http.js';
import { KubeapiMetrics } from '../metrics/kubeapi-metrics.js';
import { serveProgramMetrics } from '../metrics/program.js';
import type { Store } from '../store/types.js';
import { exitUsage, loadConfig, onSignals, openStoreRetrying, programLogger } from './run.js';

function exit2(message: string): never {
  exitUsage(KUBEAPI_PROGRAM, message);
}

export async function main(): Promise<void> {
  const cfg = loadConfig(
    flagsCommandLine(KUBEAPI_PROGRAM, kubeapiFlagSpecs(), buildKubeapiConfig, 'config-file'),
  );

  let auth: Authenticator | undefined;
  if (cfg.api.enable) {
    try {
      auth = Authenticator.fromConfig(cfg.api.hadesAuth, cfg.api.tokensFile);
    } catch (err) {
      if (err instanceof TokenError) exit2(`-tokens-file: ${err.message}`);
      exit2(`-tokens-file: cannot read ${cfg.api.tokensFile}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }

  // loaded only when asked: without the watcher the process does not carry it
  const kubeMod = cfg.kube.enable ? await import('../kube/index.js') : undefined;
  const startKube = kubeMod?.startKube;
  // the Kubernetes credentials are read now: a missing kubeconfig, an unknown context, an
  // unreadable certificate exit 2 before anything starts (an exec plugin runs per request)
  let kubeAuth: import('../kube/index.js').KubeAuth | undefined;
  if (kubeMod) {
    try {
      kubeAuth = kubeMod.KubeAuth.load({
        masterUrl: cfg.kube.masterUrl,
        token: cfg.kube.token,
        caFile: cfg.kube.caFile,
        kubeconfig: cfg.kube.kubeconfig,
        context: cfg.kube.context,
      });
    } catch (err) {
      if (err instanceof kubeMod.KubeConfigError) exit2(err.message);
      throw err;
    }
  }

  const log = programLogger(KUBEAPI_PROGRAM, cfg.log);

  let store: Store | undefined;
  let api: ApiServer | undefined;
  let stopKube: (() => Promise<void>) | undefined;
  let metricsHttp: MetricsHttpServer | undefined;

  const stopped = onSignals(KUBEAPI_PROGRAM, log, async () => {
    await api?.close();
    await stopKube?.();
    await store?.close();
    await metricsHttp?.close();
  });

  // -metrics-port: up before the store, so /health answers while etcd is retried; ready once the
  // store is reached and (api-enable) the API listens
  const metrics = cfg.metricsPort > 0 ? new KubeapiMetrics() : undefined;
  const apiCounters = metrics ? new ApiCounters() : undefined;
  if (metrics && apiCounters) {
    metrics.setApi(apiCounters);
    metricsHttp = await serveProgramMetrics(
      KUBEAPI_PROGRAM,
      cfg,
      metrics.endpoints(
        () => store !== undefined && (!cfg.api.enable || api !== undefined),
        'the store is not reached yet or the API is not listening',
      ),
      log,
    );
  }

  store = await openStoreRetrying(KUBEAPI_PROGRAM, cfg, 'etcd-server', log, stopped);
  if (!store) return;
  const st = store;

  if (cfg.api.enable && cfg.api.address && auth) {
    const proxies = TrustedProxies.parse(cfg.api.trustedProxies);
    if (typeof proxies === 'string') exit2(`-api-trusted-proxies: ${proxies}`);
    const service = new RecordService({
      store: st,
      prefix: cfg.prefix,
      monitorPath: cfg.ipMonitorPath,
      topologyPath: cfg.topologyPath,
      logger: log,
    });
    try {
      api = await startApiServer(cfg.api.address, {
        service,
        domain: cfg.domain,
        topologyPath: cfg.topologyPath,
        auth,
        limiter: new RateLimiter(cfg.api.rate, cfg.api.burst),
        tls: cfg.api.tls,
        trustedProxies: proxies,
        logger: log,
        monitor: cfg.monitor,
        dnsMetrics:
          cfg.api.dnsMetrics.length > 0 ? new DnsMetrics({ targets: cfg.api.dnsMetrics }) : undefined,
        counters: apiCounters,
        ready: async () => {
          await st.get(`${cfg.prefix}/`);
          return true;
        },
      });
    } catch (err) {
      exit2(`-api-address ${formatHostPort(cfg.api.address)}: ${(err as Error).message}`);
    }
    log.info(
      {
        addr: formatHostPort({ ...cfg.api.address, port: api.port }),
        domain: cfg.domain,
        tokens: auth.size,
        tls: cfg.api.tls ? (cfg.api.tls.clientCa ? 'https, client certificates' : 'https') : 'none',
        trustedProxies: proxies.list,
      },
      'hades-kubeapi: API listening',
    );
    process.stdout.write(
      `hades-kubeapi: API on ${cfg.api.tls ? 'https' : 'http'}://${formatHostPort({ ...cfg.api.address, port: api.port })}\n`,
    );
  }

  if (startKube) {
    stopKube = await startKube({
      store: st,
      config: cfg,
      logger: log,
      signal: stopped,
      onHandle: (h) => metrics?.setKube(h),
      auth: kubeAuth,
    });
    log.info(
      { server: kubeAuth?.server.origin, from: kubeAuth?.source },
      'hades-kubeapi: Kubernetes watcher started',
    );
  }
}
