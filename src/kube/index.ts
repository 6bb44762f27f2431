/**
 * `startKube`: Kubernetes Services and EndpointSlices → records in the store.
 *
 * Two list+watchers (client.ts) keep the cluster state in memory; once both have listed, the
 * reconciler (reconcile.ts) converges the store to the mapping of that state (mapping.ts): at
 * start-up, after every relist, on events (debounced), and periodically. Only the writer that
 * holds the gate writes (see `WriterGate`).
 */

import { hostname } from 'node:os';
import { type Logger, NOOP_LOGGER } from '../common/logger.js';
import { Election } from '../store/election.js';
import type { Store } from '../store/types.js';
import { KubeAuth, type KubeAuthOptions } from './auth.js';
import { KubeClient, type KubeObject, ListWatcher, type ListWatchHandler } from './client.js';
import {
  type DesiredState,
  desiredState,
  type EndpointSlice,
  ownedRanges,
  type Service,
  type SvcIpSource,
} from './mapping.js';
import { PROBE_ANNOTATION } from './probe-keys.js';
import { type ReconcileResult, reconcileOnce } from './reconcile.js';

export {
  KubeAuth,
  KubeAuthError,
  type KubeAuthOptions,
  KubeConfigError,
  SERVICE_ACCOUNT_DIR,
} from './auth.js';
export { KubeClient, ListWatcher } from './client.js';
export { DNS_SCHEMA_VERSION, dashedIP, desiredState, SVC_IP_SOURCES, type SvcIpSource } from './mapping.js';
export { PROBE_ANNOTATION, probeAddresses } from './probe-keys.js';
export { reconcileOnce } from './reconcile.js';

export const SERVICES_PATH = '/api/v1/services';
export const ENDPOINTSLICES_PATH = '/apis/discovery.k8s.io/v1/endpointslices';

/**
 * Decides whether this replica may write. The default (`alwaysWriter`) always may: one kubeapi
 * writing. For several replicas, pass a gate backed by a lease election (src/store/election.ts).
 */
export interface WriterGate {
  /** True while this replica holds the writer role. */
  isWriter(): boolean;
  /** Called with a callback run whenever the role is gained (to reconcile at once). */
  onGained(cb: () => void): void;
  stop(): Promise<void>;
}

export const alwaysWriter: WriterGate = {
  isWriter: () => true,
  onGained() {},
  async stop() {},
};

/** Default key of the kubeapi writer election (beside the scheduler's `/hades/monitor/lock`; the catalog ignores `/hades/monitor/` outside the status path). */
export const DEFAULT_ELECTION_KEY = '/hades/monitor/kubeapi-lock';

/**
 * A gate on a lease election (src/store/election.ts): this replica writes while it leads; a
 * dead writer's lease expires after `ttlSeconds` and another replica takes over and reconciles.
 */
export function electionGate(
  store: Store,
  opts: { key?: string; id?: string; ttlSeconds?: number; logger?: Logger } = {},
): WriterGate & { election: Election } {
  const log = opts.logger ?? NOOP_LOGGER;
  const gained: (() => void)[] = [];
  const id = opts.id ?? `${hostname()}-${process.pid}`;
  const election = new Election(store, opts.key ?? DEFAULT_ELECTION_KEY, id, {
    ttlSeconds: opts.ttlSeconds ?? 10,
    onElected: () => {
      log.info({ id }, 'kube: elected writer');
      for (const cb of gained) cb();
    },
    onLost: (why) => log.warn({ id, why }, 'kube: lost the writer role'),
    logger: log,
  });
  void election.campaign().catch(() => {});
  return {
    election,
    isWriter: () => election.isLeader,
    onGained: (cb) => {
      gained.push(cb);
    },
    stop: () => election.resign(),
  };
}

export interface KubeOptions {
  store: Store;
  /** Served domain, e.g. `hades.local.` (the first of a comma-separated list). */
  domain: string;
  /** Record key prefix, e.g. `/hades`. */
  prefix: string;
  /** Health status path, e.g. `/hades/monitor/status/`. */
  ipMonitorPath: string;
  /** API server URL (`kube-master-url`); empty: kubeconfig or in-cluster (auth.ts says the order). */
  masterUrl?: string;
  /** With masterUrl its bearer token; with a kubeconfig it replaces the user's credentials. */
  token?: string;
  /** PEM CA file for an https API server (with masterUrl). */
  caFile?: string;
  /** A kubeconfig file, used when `masterUrl` is empty (else `$KUBECONFIG`, `~/.kube/config`, in-cluster). */
  kubeconfig?: string;
  /** A context of the kubeconfig instead of its current-context. */
  context?: string;
  /** Credentials already loaded (`KubeAuth.load`); the five fields above are then not read. */
  auth?: KubeAuth;
  /** Where KUBECONFIG, HOME and KUBERNETES_SERVICE_HOST/PORT are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Prefix of the in-cluster service-account folder (tests). */
  serviceAccountPrefix?: string;
  svcIpSource?: SvcIpSource;
  logger?: Logger;
  /**
   * Several replicas: `true` elects one writer by a lease election at `electionKey`
   * (`electionTtlSeconds`, default 10); a `WriterGate` is used as given; false/absent: always write.
   */
  election?: boolean | WriterGate;
  electionKey?: string;
  electionTtlSeconds?: number;
  /** This replica's id in the election. Default `<hostname>-<pid>`. */
  id?: string;
  /** Record TTL (s). Default 30. */
  ttl?: number;
  /** Debounce of event-driven reconciles (ms). Default 100. */
  debounceMs?: number;
  /** Periodic reconcile (ms). Default 60 s. */
  resyncMs?: number;
  /** Items per list page (`limit`). Default 500. */
  pageSize?: number;
  /** Backoff of the list+watchers (ms): first delay, cap. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export type KubeState = 'starting' | 'synced' | 'stopped';

export interface KubeHandle {
  stop(): Promise<void>;
  /** 'starting' until both resources have listed once. */
  state(): KubeState;
  /** Resolves after the next reconcile pass that starts after this call has finished. */
  reconcileNow(): Promise<ReconcileResult | undefined>;
  /** True while this replica may write (it holds the writer election, or there is none). */
  writer(): boolean;
  readonly stats: {
    /** Passes that completed (`conflicted` of them with a batch whose compares failed). */
    reconciles: number;
    conflicted: number;
    /** Passes that threw (a store error); retried after 1 s. */
    failures: number;
    /** Store operations of the completed batches, summed over all passes. */
    written: Pick<
      ReconcileResult,
      'put' | 'deleted' | 'healthCreated' | 'healthDeleted' | 'probeSet' | 'probeRemoved'
    >;
    /** `hades.io/probe` annotations found invalid (each Service's value counted once). */
    invalidProbes: number;
    /** EndpointSlice endpoint `zone` values that are not zone names (each value counted once). */
    invalidZones: number;
    last?: ReconcileResult;
    services: ListWatcher<Service>['stats'];
    slices: ListWatcher<EndpointSlice>['stats'];
  };
}

/** The auth options of KubeOptions (for `KubeAuth.load`). */
export function authOptions(opts: KubeOptions): KubeAuthOptions {
  return {
    masterUrl: opts.masterUrl,
    token: opts.token,
    caFile: opts.caFile,
    kubeconfig: opts.kubeconfig,
    context: opts.context,
    env: opts.env,
    serviceAccountPrefix: opts.serviceAccountPrefix,
  };
}

/** A map of objects by namespace/name, fed by a ListWatcher. */
class ObjectCache<T extends KubeObject> implements ListWatchHandler<T> {
  readonly objects = new Map<string, T>();
  synced = false;
  constructor(private readonly changed: (reset: boolean) => void) {}
  private key(o: T): string {
    return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  }
  reset(items: T[]): void {
    this.objects.clear();
    for (const o of items) this.objects.set(this.key(o), o);
    this.synced = true;
    this.changed(true);
  }
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void {
    if (type === 'DELETED') this.objects.delete(this.key(obj));
    else this.objects.set(this.key(obj), obj);
    this.changed(false);
  }
}

/**
 * What `programs/kubeapi.ts` hands over: the store, its config, a logger and a
 * shutdown signal. Optional `kube` fields beyond `enable`/`masterUrl` are read when present.
 */
export interface KubeContextLike {
  store: Store;
  config: {
    domain: string;
    prefix: string;
    ipMonitorPath: string;
    kube: {
      masterUrl: string;
      token?: string;
      caFile?: string;
      kubeconfig?: string;
      context?: string;
      svcIpSource?: SvcIpSource;
      /** Default true: a lease election picks one writer among replicas. */
      election?: boolean;
    };
  };
  logger: Logger;
  signal?: AbortSignal;
  /** Called with the running watcher's handle (hades-kubeapi's metrics read its stats). */
  onHandle?: (handle: KubeHandle) => void;
  /** Credentials already loaded (hades-kubeapi loads them first, to exit 2 on a bad kubeconfig). */
  auth?: KubeAuth;
}

/** The options `startKube(ctx)` derives from a `KubeContextLike`. */
export function optionsFromContext(ctx: KubeContextLike): KubeOptions {
  const k = ctx.config.kube;
  return {
    store: ctx.store,
    domain: ctx.config.domain,
    prefix: ctx.config.prefix,
    ipMonitorPath: ctx.config.ipMonitorPath,
    masterUrl: k.masterUrl,
    token: k.token || undefined,
    caFile: k.caFile || undefined,
    kubeconfig: k.kubeconfig || undefined,
    context: k.context || undefined,
    auth: ctx.auth,
    svcIpSource: k.svcIpSource,
    logger: ctx.logger,
    election: k.election ?? true,
  };
}

/**
 * Starts following the cluster and writing its records.
 *
 * - `startKube(opts: KubeOptions)` → `KubeHandle` (`stop()`, `state()`, `reconcileNow()`, `stats`);
 * - `startKube(ctx: KubeContextLike)` (programs/kubeapi.ts's context) → a promise of its stop
 *   function; `ctx.signal` aborting stops it too.
 */
export function startKube(opts: KubeOptions): KubeHandle;
export function startKube(ctx: KubeContextLike): Promise<() => Promise<void>>;
export function startKube(arg: KubeOptions | KubeContextLike): KubeHandle | Promise<() => Promise<void>> {
  if ('config' in arg && typeof arg.config === 'object') {
    const ctx = arg;
    return (async () => {
      const h = startKubeWith(optionsFromContext(ctx));
      ctx.onHandle?.(h);
      const stop = () => h.stop();
      if (ctx.signal?.aborted) await stop();
      else ctx.signal?.addEventListener('abort', () => void stop(), { once: true });
      return stop;
    })();
  }
  return startKubeWith(arg as KubeOptions);
}

function startKubeWith(opts: KubeOptions): KubeHandle {
  const log = opts.logger ?? NOOP_LOGGER;
  const auth = opts.auth ?? KubeAuth.load(authOptions(opts));
  const client = new KubeClient(auth);
  log.info({ server: auth.server.origin, from: auth.source }, 'kube: API server');
  const domain = opts.domain.split(',')[0].trim();
  const mapOpts = { domain, prefix: opts.prefix, svcIpSource: opts.svcIpSource, ttl: opts.ttl };
  const ranges = ownedRanges(mapOpts);
  const gate: WriterGate =
    typeof opts.election === 'object'
      ? opts.election
      : opts.election === true
        ? electionGate(opts.store, {
            key: opts.electionKey,
            id: opts.id,
            ttlSeconds: opts.electionTtlSeconds,
            logger: log,
          })
        : alwaysWriter;
  const debounceMs = opts.debounceMs ?? 100;
  let state: KubeState = 'starting';
  let stopping: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let waiters: ((r: ReconcileResult | undefined) => void)[] = [];

  const stats: KubeHandle['stats'] = {
    reconciles: 0,
    conflicted: 0,
    failures: 0,
    written: { put: 0, deleted: 0, healthCreated: 0, healthDeleted: 0, probeSet: 0, probeRemoved: 0 },
    invalidProbes: 0,
    invalidZones: 0,
    services: undefined as never,
    slices: undefined as never,
  };

  // what was already logged, so a resync or an unrelated event does not repeat a warning
  let warnedInvalid = new Map<string, string>(); // namespace/name → annotation value
  let warnedConflicts = new Set<string>();
  let warnedZones = new Set<string>(); // invalid endpoint zones (JSON text)
  let lastSkipped = 0;
  const report = (desired: DesiredState): void => {
    const invalid = new Map<string, string>();
    for (const bad of desired.invalid) {
      invalid.set(bad.service, bad.value);
      if (warnedInvalid.get(bad.service) === bad.value) continue;
      stats.invalidProbes++;
      log.warn(
        { service: bad.service, annotation: PROBE_ANNOTATION, field: bad.field, err: bad.message },
        'kube: invalid probe annotation ignored',
      );
    }
    warnedInvalid = invalid;
    const conflicts = new Set<string>();
    for (const c of desired.conflicts) {
      const k = `${c.ip} ${c.ignored}`;
      conflicts.add(k);
      if (!warnedConflicts.has(k))
        log.warn(
          { ip: c.ip, kept: c.kept, ignored: c.ignored },
          'kube: services sharing an address have different probes',
        );
    }
    warnedConflicts = conflicts;
    const zones = new Set<string>();
    for (const bad of desired.invalidZones) {
      const shown = JSON.stringify(bad.zone);
      if (zones.has(shown)) continue;
      zones.add(shown);
      if (warnedZones.has(shown)) continue;
      stats.invalidZones++;
      log.warn(
        { endpointslice: bad.slice, zone: bad.zone, err: `zone ${bad.message}` },
        'kube: invalid endpoint zone ignored',
      );
    }
    warnedZones = zones;
  };

  const pass = async (): Promise<void> => {
    do {
      again = false;
      const ws = waiters;
      waiters = [];
      let result: ReconcileResult | undefined;
      if (state !== 'stopped' && services.synced && slices.synced && gate.isWriter()) {
        try {
          const desired = desiredState(services.objects.values(), slices.objects.values(), mapOpts);
          report(desired);
          result = await reconcileOnce(opts.store, desired, ranges, opts.ipMonitorPath);
          stats.reconciles++;
          if (result.conflicts > 0) stats.conflicted++;
          stats.written.put += result.put;
          stats.written.deleted += result.deleted;
          stats.written.healthCreated += result.healthCreated;
          stats.written.healthDeleted += result.healthDeleted;
          stats.written.probeSet += result.probeSet;
          stats.written.probeRemoved += result.probeRemoved;
          stats.last = result;
          if (
            result.put +
              result.deleted +
              result.healthCreated +
              result.healthDeleted +
              result.probeSet +
              result.probeRemoved >
              0 ||
            result.conflicts > 0 ||
            result.probeSkipped !== lastSkipped
          )
            log.info({ ...result }, 'kube: reconciled');
          lastSkipped = result.probeSkipped;
          if (result.conflicts > 0) schedule(debounceMs);
        } catch (err) {
          stats.failures++;
          log.warn({ err: (err as Error).message }, 'kube: reconcile failed, retrying');
          schedule(1000);
        }
      }
      for (const w of ws) w(result);
    } while (again && state !== 'stopped');
  };
  const runNow = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = pass().finally(() => {
      running = undefined;
      // a reconcileNow() made between the pass's last check of `again` and here (a waiter
      // resolved by that pass calling again at once) would otherwise wait for the next resync
      if (again && state !== 'stopped') runNow();
    });
  };
  function schedule(ms: number): void {
    if (state === 'stopped' || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      runNow();
    }, ms);
  }
  const changed = (reset: boolean): void => {
    if (services.synced && slices.synced && state === 'starting') {
      state = 'synced';
      log.info({ services: services.objects.size, slices: slices.objects.size }, 'kube: synced');
    }
    if (reset) runNow();
    else schedule(debounceMs);
  };
  const services = new ObjectCache<Service>(changed);
  const slices = new ObjectCache<EndpointSlice>(changed);
  const lwOpts = {
    logger: log,
    backoffMs: opts.backoffMs,
    maxBackoffMs: opts.maxBackoffMs,
    pageSize: opts.pageSize,
  };
  const svcWatch = new ListWatcher<Service>(client, SERVICES_PATH, services, lwOpts);
  const sliceWatch = new ListWatcher<EndpointSlice>(client, ENDPOINTSLICES_PATH, slices, lwOpts);
  stats.services = svcWatch.stats;
  stats.slices = sliceWatch.stats;
  gate.onGained(() => runNow());
  const resync = setInterval(() => runNow(), opts.resyncMs ?? 60_000);
  resync.unref();

  return {
    stats,
    state: () => state,
    writer: () => gate.isWriter(),
    reconcileNow() {
      return new Promise((resolve) => {
        waiters.push(resolve);
        if (running) again = true;
        else runNow();
      });
    },
    stop() {
      if (stopping === undefined) stopping = stopAll();
      return stopping;
    },
  };

  async function stopAll(): Promise<void> {
    state = 'stopped';
    clearInterval(resync);
    if (timer) clearTimeout(timer);
    timer = undefined;
    await Promise.all([svcWatch.stop(), sliceWatch.stop()]);
    await running;
    for (const w of waiters) w(undefined);
    waiters = [];
    await gate.stop();
    client.close();
  }
}
