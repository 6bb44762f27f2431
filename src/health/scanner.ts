/**
 * hades-scanner's engine: heartbeat under a lease, the statuses (list + watch of status-path, so a
 * round reads no key), the addresses assigned to this hostname under report-path (list + watch),
 * one `Target` per address, and the bounded pool its checks run in.
 */

import type { Logger } from '../common/logger.js';
import { parseHealthStatus } from '../records/health.js';
import { canonicalIP } from '../records/ip.js';
import { type Probe, parseProbe } from '../records/probe.js';
import type { HealthStatus } from '../records/types.js';
import type { KeyValue, LeaseId, Store, Watch, WatchEvent } from '../store/types.js';
import type { ScannerMetrics } from './metrics.js';
import { icmpCheck, Limiter, type ProbeContext, type ProbeResult, type RunProbe, tcpCheck } from './probe.js';
import { closeIdleProbeConnections } from './probe-http.js';
import { runProbe } from './run-probe.js';
import { Target } from './target.js';

export interface ScannerOptions {
  store: Store;
  hostname: string;
  /** Normalised paths with one trailing slash. */
  statusPath: string;
  reportPath: string;
  heartPath: string;
  heartbeatIntervalMs: number;
  /** Per TCP connect of the ports check (no probe). */
  checkTimeoutMs: number;
  /** Between rounds, unless the probe has `periodSeconds`. */
  checkIntervalMs: number;
  scanPorts: readonly string[];
  enableIcmp: boolean;
  pingTimeoutMs: number;
  pingCount: number;
  fall: number;
  rise: number;
  maxConcurrency: number;
  /** Extra CAs for HTTPS probes (`probe-ca-file`). */
  probeCa?: string | Buffer;
  /** HTTP(S) probes reuse a kept-alive connection (`probe-keepalive`). */
  probeKeepAlive?: boolean;
  logger: Logger;
  metrics?: ScannerMetrics;
  /** Checks, replaceable in tests. */
  probes?: Partial<Checks>;
}

export interface Checks {
  run: RunProbe;
  tcp: (ip: string, port: number, timeoutMs: number) => Promise<ProbeResult>;
  icmp: (ip: string, count: number, timeoutMs: number) => Promise<ProbeResult>;
}

/** A status key as last seen, parsed once per value. */
export interface StatusEntry {
  readonly value: string;
  readonly modRevision: number;
  readonly status: HealthStatus | Error;
  /** undefined: no `probe` field. */
  readonly probe: Probe | Error | undefined;
}

function entry(value: string, modRevision: number): StatusEntry {
  let status: HealthStatus | Error;
  let probe: Probe | Error | undefined;
  try {
    status = parseHealthStatus(value);
  } catch (err) {
    return { value, modRevision, status: err as Error, probe: undefined };
  }
  if (status.probe !== undefined) {
    try {
      probe = parseProbe(status.probe);
    } catch (err) {
      probe = err as Error;
    }
  }
  return { value, modRevision, status, probe };
}

/** `{"hostname":"h1"}` → `h1`; anything else → undefined. */
export function reportHostname(value: string): string | undefined {
  try {
    const v = JSON.parse(value) as unknown;
    if (v !== null && typeof v === 'object' && typeof (v as { hostname?: unknown }).hostname === 'string')
      return (v as { hostname: string }).hostname;
  } catch {
    // not JSON
  }
  return undefined;
}

/** The canonical address a key directly under `path` is about, else undefined. */
export function ipUnder(path: string, key: string): string | undefined {
  if (!key.startsWith(path)) return undefined;
  const rest = key.slice(path.length);
  if (rest === '' || rest.includes('/')) return undefined;
  return canonicalIP(rest);
}

export class Scanner {
  readonly opts: ScannerOptions;
  readonly limiter: Limiter;
  readonly probes: Checks;
  #targets = new Map<string, Target>();
  /** Every status key under status-path, by canonical IP. */
  #statuses = new Map<string, StatusEntry>();
  #watches = new Set<Watch>();
  #lease: LeaseId | undefined;
  #heartTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #heartbeatOk = false;
  #since = '';

  constructor(opts: ScannerOptions) {
    this.opts = opts;
    this.limiter = new Limiter(opts.maxConcurrency);
    this.probes = {
      run: opts.probes?.run ?? runProbe,
      tcp: opts.probes?.tcp ?? tcpCheck,
      icmp: opts.probes?.icmp ?? ((ip, count, timeoutMs) => icmpCheck(ip, { count, timeoutMs })),
    };
  }

  /** The status key of `ip` as last seen, or undefined when there is none. */
  status(ip: string): StatusEntry | undefined {
    return this.#statuses.get(ip);
  }

  /** A write of ours committed at `revision`: seen at once, before its watch event. */
  wrote(ip: string, value: string, revision: number): void {
    const cur = this.#statuses.get(ip);
    if (cur === undefined || cur.modRevision < revision) this.#statuses.set(ip, entry(value, revision));
  }

  probeContext(timeoutMs: number): ProbeContext {
    const o = this.opts;
    return { timeoutMs, ca: o.probeCa, pingCount: o.pingCount, keepAlive: o.probeKeepAlive };
  }

  get targets(): string[] {
    return [...this.#targets.keys()].sort();
  }

  get heartbeatOk(): boolean {
    return this.#heartbeatOk;
  }

  get heartKey(): string {
    return this.opts.heartPath + this.opts.hostname;
  }

  /** Heartbeat first (so the scheduler sees us), then the statuses, then the assignments. */
  async start(): Promise<void> {
    await this.#heartbeat();
    await this.#follow(
      'status',
      this.opts.statusPath,
      (kvs) => this.#listStatuses(kvs),
      (evs) => this.#onStatusEvents(evs),
    );
    await this.#follow(
      'report',
      this.opts.reportPath,
      (kvs) => this.#listAssignments(kvs),
      (evs) => this.#onEvents(evs),
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#heartTimer);
    for (const w of this.#watches) await w.close();
    this.#watches.clear();
    for (const t of this.#targets.values()) t.stop();
    this.#targets.clear();
    if (this.opts.probeKeepAlive) closeIdleProbeConnections();
    if (this.#lease !== undefined) await this.opts.store.revokeLease(this.#lease).catch(() => {});
  }

  // ---- heartbeat

  async #heartbeat(): Promise<void> {
    if (this.#stopped) return;
    const o = this.opts;
    const ttl = Math.max(2, Math.ceil((3 * o.heartbeatIntervalMs) / 1000));
    try {
      let alive = false;
      if (this.#lease !== undefined) alive = (await o.store.keepAliveLease(this.#lease)) > 0;
      if (!alive) {
        if (this.#lease !== undefined)
          o.logger.warn({ lease: this.#lease }, 'scanner: heartbeat lease lost; new one');
        this.#lease = await o.store.grantLease(ttl);
        this.#since = new Date().toISOString();
      }
      // every renewal rewrites the value with its time (`renewed`: the heartbeat age the API and
      // UI show); the put also brings back a key deleted by hand while the lease lived
      await o.store.put(
        this.heartKey,
        JSON.stringify({
          hostname: o.hostname,
          pid: process.pid,
          since: this.#since,
          renewed: new Date().toISOString(),
        }),
        { lease: this.#lease },
      );
      this.#heartbeatOk = true;
    } catch (err) {
      this.#heartbeatOk = false;
      o.metrics?.storeErrors.inc();
      o.logger.warn({ err: (err as Error).message }, 'scanner: heartbeat failed; retrying');
    }
    o.metrics?.heartbeatUp.set(this.#heartbeatOk ? 1 : 0);
    if (!this.#stopped) {
      this.#heartTimer = setTimeout(
        () => void this.#heartbeat(),
        this.#heartbeatOk ? o.heartbeatIntervalMs : 1000,
      );
    }
  }

  // ---- statuses

  #listStatuses(kvs: KeyValue[]): void {
    const seen = new Map<string, StatusEntry>();
    for (const kv of kvs) {
      const ip = ipUnder(this.opts.statusPath, kv.key);
      if (ip === undefined) continue;
      const cur = this.#statuses.get(ip);
      seen.set(
        ip,
        cur !== undefined && cur.modRevision === kv.modRevision ? cur : entry(kv.value, kv.modRevision),
      );
    }
    this.#statuses = seen;
  }

  #onStatusEvents(evs: WatchEvent[]): void {
    const path = this.opts.statusPath;
    for (const e of evs) {
      const ip = ipUnder(path, e.type === 'put' ? e.kv.key : e.key);
      if (ip === undefined) continue;
      if (e.type === 'put') {
        const cur = this.#statuses.get(ip);
        if (cur === undefined || cur.modRevision < e.kv.modRevision)
          this.#statuses.set(ip, entry(e.kv.value, e.kv.modRevision));
      } else if ((this.#statuses.get(ip)?.modRevision ?? 0) < e.modRevision) this.#statuses.delete(ip);
    }
  }

  // ---- assignments

  #listAssignments(kvs: KeyValue[]): void {
    const o = this.opts;
    const mine = new Set<string>();
    for (const kv of kvs) {
      const ip = ipUnder(o.reportPath, kv.key);
      if (ip !== undefined && reportHostname(kv.value) === o.hostname) mine.add(ip);
    }
    for (const ip of this.#targets.keys()) if (!mine.has(ip)) this.#drop(ip);
    for (const ip of mine) this.#add(ip);
  }

  // ---- list + watch

  /**
   * Lists `prefix` into `onList`, then watches it from the next revision into `onEvents`; lists
   * again after a compaction, and retries a failed listing every second.
   */
  async #follow(
    what: string,
    prefix: string,
    onList: (kvs: KeyValue[]) => void,
    onEvents: (evs: WatchEvent[]) => void,
  ): Promise<void> {
    const o = this.opts;
    for (;;) {
      if (this.#stopped) return;
      try {
        const list = await o.store.list(prefix);
        if (this.#stopped) return;
        onList(list.kvs);
        const w: Watch = o.store.watch(prefix, list.revision + 1, {
          events: onEvents,
          compacted: () => {
            o.logger.warn({}, `scanner: ${what} watch compacted; listing again`);
            this.#watches.delete(w);
            void w.close().then(() => this.#follow(what, prefix, onList, onEvents));
          },
          status: (state, err) => o.logger.info({ state, err: err?.message }, `scanner: ${what} watch`),
        });
        this.#watches.add(w);
        return;
      } catch (err) {
        o.metrics?.storeErrors.inc();
        o.logger.warn({ err: (err as Error).message }, `scanner: listing ${what} failed; retrying`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  #onEvents(evs: WatchEvent[]): void {
    const o = this.opts;
    for (const e of evs) {
      const key = e.type === 'put' ? e.kv.key : e.key;
      const ip = ipUnder(o.reportPath, key);
      if (ip === undefined) continue;
      if (e.type === 'put' && reportHostname(e.kv.value) === o.hostname) this.#add(ip);
      else this.#drop(ip);
    }
  }

  #add(ip: string): void {
    if (this.#stopped || this.#targets.has(ip)) return;
    const t = new Target(this, ip);
    this.#targets.set(ip, t);
    t.start();
    this.opts.metrics?.targets.set(this.#targets.size);
    this.opts.logger.info({ ip }, 'scanner: address assigned');
  }

  #drop(ip: string): void {
    const t = this.#targets.get(ip);
    if (!t) return;
    t.stop();
    this.#targets.delete(ip);
    this.opts.metrics?.targets.set(this.#targets.size);
    this.opts.logger.info({ ip }, 'scanner: address unassigned');
  }
}
