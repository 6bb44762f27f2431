/**
 * hades-scanner's engine: heartbeat under a lease, the addresses assigned to this hostname under
 * report-path (list + watch), one independent check loop per address (TCP connect to its ports
 * or scann-ports, ICMP when enabled), hysteresis, and status writes by compare-and-swap.
 */

import type { Logger } from '../common/logger.js';
import { parseHealthStatus, serializeHealthStatus } from '../records/health.js';
import { canonicalIP } from '../records/ip.js';
import type { HealthStatus } from '../records/types.js';
import type { LeaseId, Store, Watch, WatchEvent } from '../store/types.js';
import { type Health, Hysteresis } from './hysteresis.js';
import type { ScannerMetrics } from './metrics.js';
import { icmpProbe, Limiter, tcpProbe } from './probe.js';

export interface ScannerOptions {
  store: Store;
  hostname: string;
  /** Normalised paths with one trailing slash. */
  statusPath: string;
  reportPath: string;
  heartPath: string;
  heartbeatIntervalMs: number;
  checkTimeoutMs: number;
  checkIntervalMs: number;
  scanPorts: readonly string[];
  enableIcmp: boolean;
  pingTimeoutMs: number;
  pingCount: number;
  fall: number;
  rise: number;
  maxConcurrency: number;
  logger: Logger;
  metrics?: ScannerMetrics;
  /** Probes, replaceable in tests. */
  probes?: {
    tcp?: (ip: string, port: number, timeoutMs: number) => Promise<boolean>;
    icmp?: (ip: string, count: number, timeoutMs: number) => Promise<boolean>;
  };
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

class Target {
  readonly ip: string;
  #s: Scanner;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #hyst: Hysteresis | undefined;
  #warnedNoChecks = false;

  constructor(s: Scanner, ip: string) {
    this.#s = s;
    this.ip = ip;
  }

  start(): void {
    // spread first rounds over the interval so many targets do not fire together
    this.#schedule(Math.floor(Math.random() * Math.min(this.#s.opts.checkIntervalMs, 1000)));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#round(), ms);
  }

  async #round(): Promise<void> {
    const started = Date.now();
    try {
      await this.#check();
    } catch (err) {
      this.#s.opts.metrics?.storeErrors.inc();
      this.#s.opts.logger.warn({ ip: this.ip, err: (err as Error).message }, 'scanner: round failed');
    }
    const took = Date.now() - started;
    this.#s.opts.metrics?.roundDuration.observe(took / 1000);
    this.#schedule(Math.max(0, this.#s.opts.checkIntervalMs - took));
  }

  async #check(): Promise<void> {
    const o = this.#s.opts;
    const key = o.statusPath + this.ip;
    const kv = await o.store.get(key);
    if (kv === undefined || this.#stopped) return; // the scheduler removes the report soon
    let status: HealthStatus;
    try {
      status = parseHealthStatus(kv.value);
    } catch (err) {
      o.logger.warn({ key, err: (err as Error).message }, 'scanner: unreadable status; not checking');
      return;
    }
    if (this.#hyst === undefined) this.#hyst = new Hysteresis(o.fall, o.rise, status.status);
    const ports = status.ports && status.ports.length > 0 ? status.ports : o.scanPorts;
    const checks: Promise<boolean>[] = [];
    const tcp = o.probes?.tcp ?? tcpProbe;
    const icmp = o.probes?.icmp ?? ((ip, count, timeoutMs) => icmpProbe(ip, { count, timeoutMs }));
    const counted = (kind: 'tcp' | 'icmp', p: Promise<boolean>): Promise<boolean> =>
      p.then((ok) => {
        o.metrics?.probes.inc({ kind });
        if (!ok) o.metrics?.probeFailures.inc({ kind });
        return ok;
      });
    for (const p of ports) {
      const port = Number(p);
      if (Number.isInteger(port) && port >= 1 && port <= 65535)
        checks.push(counted('tcp', tcp(this.ip, port, o.checkTimeoutMs)));
    }
    if (o.enableIcmp) checks.push(counted('icmp', icmp(this.ip, o.pingCount, o.pingTimeoutMs)));
    if (checks.length === 0) {
      if (!this.#warnedNoChecks)
        o.logger.warn(
          { ip: this.ip },
          'scanner: no ports in the status, no scann-ports, no ICMP: nothing to check',
        );
      this.#warnedNoChecks = true;
      return;
    }
    const results = await this.#s.limiter.run(() => Promise.all(checks));
    if (this.#stopped) return;
    const passed = results.some(Boolean);
    o.metrics?.rounds.inc({ outcome: passed ? 'pass' : 'fail' });
    this.#hyst.observe(passed);
    const want = this.#hyst.state;
    if (want === undefined || want === status.status) return;
    await this.#write(key, kv.value, status, want);
  }

  async #write(key: string, read: string, status: HealthStatus, to: Health): Promise<void> {
    const o = this.#s.opts;
    // `changed`: when this transition was written (the UI's "last change"); replaces the old one
    const next = serializeHealthStatus({ ...status, status: to, changed: new Date().toISOString() });
    const r = await o.store.txn({
      compare: [{ key, op: 'value', value: read }],
      success: [{ op: 'put', key, value: next }],
    });
    if (r.succeeded) {
      o.metrics?.stateChanges.inc({ to });
      o.logger.info({ ip: this.ip, from: status.status, to }, 'scanner: status changed');
    } else {
      // someone wrote since we read: the next round reads again and decides again
      o.metrics?.writeConflicts.inc();
      o.logger.debug({ ip: this.ip }, 'scanner: status changed under us; retrying next round');
    }
  }
}

export class Scanner {
  readonly opts: ScannerOptions;
  readonly limiter: Limiter;
  #targets = new Map<string, Target>();
  #watch: Watch | undefined;
  #lease: LeaseId | undefined;
  #heartTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #heartbeatOk = false;
  #since = '';

  constructor(opts: ScannerOptions) {
    this.opts = opts;
    this.limiter = new Limiter(opts.maxConcurrency);
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

  /** Heartbeat first (so the scheduler sees us), then the assignments. */
  async start(): Promise<void> {
    await this.#heartbeat();
    await this.#follow();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#heartTimer);
    await this.#watch?.close();
    for (const t of this.#targets.values()) t.stop();
    this.#targets.clear();
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

  // ---- assignments

  async #follow(): Promise<void> {
    const o = this.opts;
    for (;;) {
      if (this.#stopped) return;
      try {
        const list = await o.store.list(o.reportPath);
        const mine = new Set<string>();
        for (const kv of list.kvs) {
          const ip = ipUnder(o.reportPath, kv.key);
          if (ip !== undefined && reportHostname(kv.value) === o.hostname) mine.add(ip);
        }
        for (const ip of this.#targets.keys()) if (!mine.has(ip)) this.#drop(ip);
        for (const ip of mine) this.#add(ip);
        this.#watch = o.store.watch(o.reportPath, list.revision + 1, {
          events: (evs) => this.#onEvents(evs),
          compacted: () => {
            o.logger.warn({}, 'scanner: report watch compacted; listing again');
            void this.#watch?.close().then(() => this.#follow());
          },
          status: (state, err) => o.logger.info({ state, err: err?.message }, 'scanner: report watch'),
        });
        return;
      } catch (err) {
        o.metrics?.storeErrors.inc();
        o.logger.warn({ err: (err as Error).message }, 'scanner: listing assignments failed; retrying');
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
