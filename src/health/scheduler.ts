/**
 * hades-schedule's engine. One active scheduler (an Election on `lock-path`) keeps report-path in
 * step with status-path and assigns every monitored address to a live scanner by rendezvous
 * hashing. It reconciles on any change under status-path, heart-path or report-path (watched,
 * debounced), every `schedule-interval`, and when a gone scanner's `agent-downtime` ends.
 *
 * A scanner whose heartbeat key went keeps its addresses for `agent-downtime` (a restart does not
 * move anything); after that they go to the live scanners' rendezvous winners. A scanner that
 * joins takes only the addresses it wins. Writes are transactions fenced on the lock key's value,
 * so a scheduler that lost the lock without knowing it yet cannot write.
 */

import type { Logger } from '../common/logger.js';
import { Election } from '../store/election.js';
import type { Op, Store, Watch } from '../store/types.js';
import { assign } from './assign.js';
import type { AssignmentOp, ScheduleMetrics } from './metrics.js';
import { ipUnder, reportHostname } from './scanner.js';

export interface SchedulerOptions {
  store: Store;
  /** This candidate's id in the lock (hostname#pid). */
  id: string;
  statusPath: string;
  reportPath: string;
  heartPath: string;
  lockPath: string;
  lockTtlSeconds: number;
  scheduleIntervalMs: number;
  agentDowntimeMs: number;
  logger: Logger;
  /** Debounce of watch-triggered reconciles (default 200 ms). */
  debounceMs?: number;
  /** Called after each reconcile (tests, metrics). */
  onReconciled?: (r: ReconcileResult) => void;
  /** Counts reconciles and the report keys written (src/health/metrics.ts). */
  metrics?: ScheduleMetrics;
}

export interface ReconcileResult {
  addresses: number;
  live: string[];
  written: number;
  deleted: number;
}

const MAX_OPS_PER_TXN = 100;

export class Scheduler {
  readonly opts: SchedulerOptions;
  readonly election: Election;
  #watches: Watch[] = [];
  #timer: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #running = false;
  #again = false;
  #stopped = false;
  /** Scanners whose heartbeat went: hostname → when it was first missed. */
  #goneSince = new Map<string, number>();
  #lastLive = new Set<string>();
  #downtimeTimer: NodeJS.Timeout | undefined;
  #last: ReconcileResult | undefined;

  constructor(opts: SchedulerOptions) {
    this.opts = opts;
    this.election = new Election(opts.store, opts.lockPath, opts.id, {
      ttlSeconds: opts.lockTtlSeconds,
      logger: opts.logger,
      onElected: () => this.#onElected(),
      onLost: (why) => this.#onLost(why),
    });
  }

  get active(): boolean {
    return this.election.isLeader;
  }

  /** The last successful reconcile's result (the metrics' scanners and addresses). */
  get lastReconcile(): ReconcileResult | undefined {
    return this.#last;
  }

  /** Campaigns; work starts whenever this scheduler is elected. Resolves at once. */
  start(): void {
    this.election.campaign().catch(() => {});
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#pauseWork();
    await this.election.resign().catch(() => {});
  }

  #onElected(): void {
    if (this.#stopped) return;
    this.opts.logger.info(
      { id: this.opts.id, lock: this.opts.lockPath },
      'schedule: active (holding the lock)',
    );
    this.#goneSince.clear();
    this.#lastLive.clear();
    const o = this.opts;
    for (const prefix of [o.statusPath, o.heartPath, o.reportPath]) {
      // watching from "now": the first reconcile lists everything anyway
      this.#watchFromNow(prefix);
    }
    this.#timer = setInterval(() => this.#kick(0), o.scheduleIntervalMs);
    this.#kick(0);
  }

  #watchFromNow(prefix: string): void {
    const o = this.opts;
    void o.store
      .list(`${prefix}\u0000no-such-key`)
      .then((r) => {
        if (!this.active || this.#stopped) return;
        this.#watches.push(
          o.store.watch(prefix, r.revision + 1, {
            events: (evs) => {
              // a scanner rewrites its heartbeat value on every renewal: only a key that comes or
              // goes changes who is live
              if (prefix === o.heartPath && evs.every((e) => e.type === 'put' && e.kv.version > 1)) return;
              this.#kick(o.debounceMs ?? 200);
            },
            compacted: () => {
              this.#kick(0);
              this.#watchFromNow(prefix);
            },
          }),
        );
      })
      .catch((err: Error) => {
        o.logger.warn({ prefix, err: err.message }, 'schedule: cannot watch; relying on the interval');
      });
  }

  #onLost(why: string): void {
    this.opts.logger.warn({ why }, 'schedule: lost the lock; standing by');
    this.#last = undefined;
    void this.#pauseWork();
  }

  async #pauseWork(): Promise<void> {
    clearInterval(this.#timer);
    clearTimeout(this.#debounce);
    clearTimeout(this.#downtimeTimer);
    const ws = this.#watches;
    this.#watches = [];
    await Promise.all(ws.map((w) => w.close()));
  }

  #kick(delayMs: number): void {
    if (this.#stopped || !this.active) return;
    if (delayMs === 0) {
      void this.#reconcileSoon();
      return;
    }
    if (this.#debounce) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.#reconcileSoon();
    }, delayMs);
  }

  async #reconcileSoon(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    try {
      do {
        this.#again = false;
        if (!this.active || this.#stopped) break;
        try {
          const r = await this.reconcile();
          this.opts.onReconciled?.(r);
        } catch (err) {
          this.opts.logger.warn({ err: (err as Error).message }, 'schedule: reconcile failed; next try soon');
          setTimeout(() => this.#kick(0), 1000).unref();
        }
      } while (this.#again);
    } finally {
      this.#running = false;
    }
  }

  /** One full pass: list status, heartbeats and reports; write what differs. */
  async reconcile(): Promise<ReconcileResult> {
    try {
      const r = await this.#reconcile();
      this.#last = r;
      this.opts.metrics?.reconciles.inc({ outcome: 'ok' });
      return r;
    } catch (err) {
      this.opts.metrics?.reconciles.inc({ outcome: 'error' });
      throw err;
    }
  }

  async #reconcile(): Promise<ReconcileResult> {
    const o = this.opts;
    const [status, hearts, reports] = await Promise.all([
      o.store.list(o.statusPath),
      o.store.list(o.heartPath),
      o.store.list(o.reportPath),
    ]);
    const now = Date.now();
    const addresses = new Set<string>();
    for (const kv of status.kvs) {
      const ip = ipUnder(o.statusPath, kv.key);
      if (ip !== undefined) addresses.add(ip);
    }
    const live = new Set<string>();
    for (const kv of hearts.kvs) {
      const h = kv.key.slice(o.heartPath.length);
      if (h !== '' && !h.includes('/')) live.add(h);
    }
    const current = new Map<string, { key: string; value: string; host: string | undefined }>();
    for (const kv of reports.kvs) {
      const ip = ipUnder(o.reportPath, kv.key);
      if (ip !== undefined) current.set(ip, { key: kv.key, value: kv.value, host: reportHostname(kv.value) });
      // keys that are not an address are left alone
    }
    // scanners that went (or that hold addresses without a heartbeat when we took over) wait out agent-downtime
    for (const h of live) this.#goneSince.delete(h);
    for (const h of this.#lastLive) if (!live.has(h) && !this.#goneSince.has(h)) this.#goneSince.set(h, now);
    for (const r of current.values())
      if (r.host !== undefined && !live.has(r.host) && !this.#goneSince.has(r.host))
        this.#goneSince.set(r.host, now);
    let nextExpiry = Number.POSITIVE_INFINITY;
    const waiting = new Set<string>();
    for (const [h, since] of this.#goneSince) {
      const until = since + o.agentDowntimeMs;
      if (until <= now) this.#goneSince.delete(h);
      else {
        waiting.add(h);
        nextExpiry = Math.min(nextExpiry, until);
      }
    }
    this.#lastLive = live;
    clearTimeout(this.#downtimeTimer);
    if (Number.isFinite(nextExpiry))
      this.#downtimeTimer = setTimeout(() => this.#kick(0), nextExpiry - now + 50);

    // rendezvous over live scanners and those still within agent-downtime: a gone scanner keeps
    // exactly its own addresses until its downtime ends, and nothing else moves meanwhile
    const candidates = [...live, ...waiting];
    const desired = assign(addresses, candidates);
    const ops: Op[] = [];
    const kinds: AssignmentOp[] = [];
    let written = 0;
    let deleted = 0;
    for (const ip of addresses) {
      const want = desired.get(ip);
      if (want === undefined) continue; // no scanner at all: leave reports as they are
      const cur = current.get(ip);
      if (cur?.host === want) continue;
      ops.push({ op: 'put', key: o.reportPath + ip, value: JSON.stringify({ hostname: want }) });
      kinds.push(cur?.host === undefined ? 'assign' : 'move');
      written++;
    }
    for (const [ip, cur] of current) {
      if (addresses.has(ip)) continue;
      ops.push({ op: 'delete', key: cur.key });
      kinds.push('unassign');
      deleted++;
    }
    for (let i = 0; i < ops.length; i += MAX_OPS_PER_TXN) {
      const r = await o.store.txn({
        compare: [{ key: o.lockPath, op: 'value', value: o.id }],
        success: ops.slice(i, i + MAX_OPS_PER_TXN),
      });
      if (!r.succeeded) throw new Error('the lock is no longer ours; not writing');
      if (o.metrics)
        for (const k of kinds.slice(i, i + MAX_OPS_PER_TXN)) o.metrics.assignments.inc({ op: k });
    }
    if (ops.length > 0)
      o.logger.info(
        { addresses: addresses.size, live: [...live], waiting: [...waiting], written, deleted },
        'schedule: assignments updated',
      );
    return { addresses: addresses.size, live: [...live].sort(), written, deleted };
  }
}
