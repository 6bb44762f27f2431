#!/usr/bin/env node
/**
 * hades-kubeapi: the REST API (api-enable) and the Kubernetes watcher (kube-enable) on one store.
 * Flags and the INI file: src/config/kubeapi.ts. SIGINT/SIGTERM stop both and exit 0.
 *
 * The watcher plugs in through `src/kube/index.ts`, which exports
 *   startKube(ctx: KubeContext): Promise<() => Promise<void>>
 * (ctx below); it is loaded only when kube-enable is YES.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ApiCounters } from '../api/api-counters.js';
import { Authenticator, RateLimiter, TokenError } from '../api/auth.js';
import { DnsMetrics } from '../api/dns-metrics.js';
import { type ApiServer, startApiServer } from '../api/server.js';
import { RecordService } from '../api/service.js';
import { formatHostPort } from '../common/host-port.js';
import type { Logger } from '../common/logger.js';
import { parseCommandLine } from '../config/cli.js';
import { FlagError } from '../config/flags.js';
import {
  buildKubeapiConfig,
  KUBEAPI_PROGRAM,
  type KubeapiConfig,
  kubeapiFlagSpecs,
} from '../config/kubeapi.js';
import { createLogger } from '../config/logger.js';
import type { KubeContextLike } from '../kube/index.js';
import type { MetricsHttpServer } from '../metrics/http.js';
import { KubeapiMetrics, type KubeSource } from '../metrics/kubeapi-metrics.js';
import { serveProgramMetrics } from '../metrics/program.js';
import { openStore } from '../store/open.js';
import { type Store, StoreError } from '../store/types.js';

/** What the Kubernetes watcher gets. */
export interface KubeContext {
  store: Store;
  config: KubeapiConfig;
  logger: Logger;
  signal: AbortSignal;
  /** Handed the running watcher (its stats feed -metrics-port). */
  onHandle?: (handle: KubeSource) => void;
}

function exit2(message: string): never {
  process.stderr.write(`${KUBEAPI_PROGRAM}: ${message}\n`);
  process.exit(2);
}

const parsed = parseCommandLine({
  program: KUBEAPI_PROGRAM,
  specs: kubeapiFlagSpecs(),
  configFileFlag: 'config-file',
});
if (parsed.positionals.length > 0) exit2(`unexpected argument "${parsed.positionals[0]}"`);
let cfg: KubeapiConfig;
try {
  cfg = buildKubeapiConfig(parsed.values);
} catch (err) {
  if (err instanceof FlagError) exit2(err.message);
  throw err;
}

let auth: Authenticator | undefined;
if (cfg.api.enable) {
  try {
    auth = Authenticator.fromConfig(cfg.api.hadesAuth, cfg.api.tokensFile);
  } catch (err) {
    if (err instanceof TokenError) exit2(`-tokens-file: ${err.message}`);
    exit2(`-tokens-file: cannot read ${cfg.api.tokensFile}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

type StartKube = (ctx: KubeContext) => Promise<() => Promise<void>>;
// the watcher's side of the hook takes what this program hands over
const _contextFits = (c: KubeContext): KubeContextLike => c;
void _contextFits;
let startKube: StartKube | undefined;
if (cfg.kube.enable) {
  try {
    const mod = (await import(new URL('../kube/index.js', import.meta.url).href)) as {
      startKube?: StartKube;
    };
    startKube = mod.startKube;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
  }
  if (!startKube)
    exit2('-kube-enable YES: the Kubernetes watcher is not in this build (src/kube); set kube-enable = NO');
}

const log = createLogger({
  program: KUBEAPI_PROGRAM,
  logtostderr: cfg.log.logtostderr,
  logDir: cfg.log.logDir,
  verbosity: cfg.log.verbosity,
});

const stopper = new AbortController();
let store: Store | undefined;
let api: ApiServer | undefined;
let stopKube: (() => Promise<void>) | undefined;
let metricsHttp: MetricsHttpServer | undefined;
let stopping = false;

async function shutdown(why: string, code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  stopper.abort();
  log.info({ why }, 'hades-kubeapi: shutting down');
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  try {
    await api?.close();
    await stopKube?.();
    await store?.close();
    await metricsHttp?.close();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'hades-kubeapi: error while shutting down');
  }
  log.flush();
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown(sig, 0));

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

for (let wait = 200; !stopper.signal.aborted; wait = Math.min(wait * 2, 5000)) {
  try {
    store = await openStore({ machines: cfg.machines, dataDir: cfg.dataDir, logger: log });
    break;
  } catch (err) {
    if (err instanceof StoreError && err.code === 'ESTORE_INVALID')
      exit2(`${cfg.machines.length > 0 ? '-etcd-server' : '-data-dir'}: ${err.message}`);
    log.warn({ err: (err as Error).message, retryInMs: wait }, 'hades-kubeapi: store unavailable; retrying');
    await delay(wait);
  }
}
if (!store) process.exit(0);
const st = store;

if (cfg.api.enable && cfg.api.address && auth) {
  const service = new RecordService({
    store: st,
    prefix: cfg.prefix,
    monitorPath: cfg.ipMonitorPath,
    logger: log,
  });
  try {
    api = await startApiServer(cfg.api.address, {
      service,
      domain: cfg.domain,
      auth,
      limiter: new RateLimiter(cfg.api.rate, cfg.api.burst),
      logger: log,
      monitor: cfg.monitor,
      dnsMetrics: cfg.api.dnsMetrics.length > 0 ? new DnsMetrics({ targets: cfg.api.dnsMetrics }) : undefined,
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
    { addr: formatHostPort({ ...cfg.api.address, port: api.port }), domain: cfg.domain, tokens: auth.size },
    'hades-kubeapi: API listening',
  );
  process.stdout.write(
    `hades-kubeapi: API on http://${formatHostPort({ ...cfg.api.address, port: api.port })}\n`,
  );
}

if (startKube) {
  stopKube = await startKube({
    store: st,
    config: cfg,
    logger: log,
    signal: stopper.signal,
    onHandle: (h) => metrics?.setKube(h),
  });
  log.info({ master: cfg.kube.masterUrl }, 'hades-kubeapi: Kubernetes watcher started');
}
