/**
 * The Catalog: the watch-fed, in-memory view of the records and the health states that the DNS
 * server answers from (docs/architecture.md).
 *
 * It lists the record prefix and the health prefix, builds a fresh index, swaps it in, then
 * follows the store with a watch from the listed revision + 1. A compacted watch makes it list
 * again into a new index that is swapped in whole; an unreachable store leaves it serving what it
 * has while it retries with exponential backoff. Lookups never touch the store.
 */
import { type Logger, NOOP_LOGGER } from '../common/logger.js';
import { ipFromHealthKey, isDrained, normalizeMonitorPath, parseHealthStatus } from '../records/health.js';
import { toRecord } from '../records/record.js';
import {
  normalizeTopologyPath,
  parseTopologyValue,
  Topology,
  type TopologyValue,
  zoneFromTopologyKey,
} from '../records/topology.js';
import type { HealthState, Record } from '../records/types.js';
import { type KeyValue, type Store, StoreError, type Watch, type WatchEvent } from '../store/types.js';
import { HealthOverlay } from './health-overlay.js';
import { RecordIndex } from './record-index.js';
import type { Snapshot } from './snapshot.js';

export interface CatalogOptions {
  /** The store followed; may instead be handed to start() (a snapshot can be served before it opens). */
  store?: Store;
  /** Record prefix (default `/hades`). */
  prefix?: string;
  /** Health prefix (default `/hades/monitor/status/`): `<healthPrefix><ip>` = `{"status":…}`. */
  healthPrefix?: string;
  /**
   * Topology prefix (default `<prefix>/topology/`): `<topologyPrefix><zone>` =
   * `{"cidrs":[…]}` (records/topology.ts).
   */
  topologyPrefix?: string;
  /**
   * Key prefixes under the record prefix that hold no records and are skipped (default
   * `<prefix>/monitor/`: the scanner's and scheduler's status, report, heart and lock keys).
   */
  ignorePrefixes?: string[];
  logger?: Logger;
  /** Backoff between failed lists (default 100 ms doubling to 5 s; reset after a good list). */
  retry?: { minMs: number; maxMs: number };
}

export type WatchState = 'connected' | 'disconnected' | 'listing';

export type ChangeListener = (keys: readonly string[]) => void;

/** Counters for metrics. */
export interface CatalogStats {
  /** Record keys whose value is currently unusable (skipped). */
  invalidRecords: number;
  /** Health keys whose key or value is currently unusable (their IP counts as unmonitored). */
  invalidHealth: number;
  /** Topology keys whose key or value is currently unusable (the zone is left out). */
  invalidTopology: number;
  /** Unusable values met so far, in lists and events. */
  skipped: number;
  /** Full lists taken (the first one included). */
  lists: number;
  /** Watches that ended compacted. */
  compactions: number;
  /** Failed lists and watches that could not be opened. */
  failures: number;
}

type KeyClass = 'record' | 'health' | 'topology' | 'ignore';

/** One list+watch loop over one prefix. */
interface Feed {
  readonly prefix: string;
  readonly records: boolean;
  readonly health: boolean;
  readonly topology: boolean;
  state: WatchState;
  revision: number;
  listed: boolean;
  watch: Watch | undefined;
  /** Ends the current follow() wait: 'compacted' or 'stop'. */
  wake: ((why: 'compacted' | 'stop') => void) | undefined;
  loop: Promise<void> | undefined;
}

/** Fresh structures a list is being built into; swapped in whole once the list is complete. */
interface Build {
  readonly index: RecordIndex | undefined;
  readonly overlay: HealthOverlay | undefined;
  readonly zones: Map<string, TopologyValue> | undefined;
  readonly badRecords: Set<string>;
  readonly badHealth: Set<string>;
  readonly badTopology: Set<string>;
}

/** Thrown from a page handler to end a listing that stop() made pointless. */
const STOPPED = new Error('catalog stopped');

/** How often the catalog asks a store that can tell (etcd) whether it has quorum. */
const QUORUM_CHECK_MS = 2000;

/** Consecutive lists whose snapshot was compacted away mid-way that are retried at once. */
const COMPACTED_RETRIES = 3;

function withSlash(p: string): string {
  return p.endsWith('/') ? p : `${p}/`;
}

export class Catalog {
  readonly prefix: string;
  readonly healthPrefix: string;
  readonly topologyPrefix: string;
  private store: Store | undefined;
  private readonly log: Logger;
  private readonly recordKeyStart: string;
  private readonly ignore: readonly string[];
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly feeds: Feed[];

  private idx: RecordIndex;
  private hov = new HealthOverlay();
  /** The zones' CIDRs as listed and watched, and the lookup structure built from them. */
  private zones = new Map<string, TopologyValue>();
  private topo = Topology.EMPTY;
  /** Keys currently unusable: logged once when they turn bad, forgotten when fixed or deleted. */
  private badRecords = new Set<string>();
  private badHealth = new Set<string>();
  private badTopology = new Set<string>();
  private readonly listeners = new Set<ChangeListener>();

  private started = false;
  private stopped = false;
  private readyFlag = false;
  /** Serving a snapshot (installSnapshot) until the first list of every feed is in. */
  private staleFlag = false;
  private readyWaiters: { resolve: () => void; reject: (e: Error) => void } | undefined;
  /** Called by stop(): end backoff sleeps and in-flight list waits. */
  private readonly onStop = new Set<() => void>();
  private lastEvent = 0;
  /** What the last Store.quorum() said (true until one says otherwise, and on stores without it). */
  private quorumOk = true;
  private quorumTimer: NodeJS.Timeout | undefined;
  private readonly counters: CatalogStats = {
    invalidRecords: 0,
    invalidHealth: 0,
    invalidTopology: 0,
    skipped: 0,
    lists: 0,
    compactions: 0,
    failures: 0,
  };

  constructor(opts: CatalogOptions) {
    this.store = opts.store;
    this.log = opts.logger ?? NOOP_LOGGER;
    this.idx = new RecordIndex(opts.prefix ?? '/hades');
    this.prefix = this.idx.prefix;
    this.recordKeyStart = this.prefix === '/' ? '/' : `${this.prefix}/`;
    this.healthPrefix = normalizeMonitorPath(opts.healthPrefix ?? `${this.recordKeyStart}monitor/status/`);
    this.topologyPrefix = normalizeTopologyPath(opts.topologyPrefix ?? `${this.recordKeyStart}topology/`);
    this.ignore = (opts.ignorePrefixes ?? [`${this.recordKeyStart}monitor/`]).map(withSlash);
    this.minMs = Math.max(1, opts.retry?.minMs ?? 100);
    this.maxMs = Math.max(this.minMs, opts.retry?.maxMs ?? 5000);
    const feed = (prefix: string, records: boolean, health: boolean, topology: boolean): Feed => ({
      prefix,
      records,
      health,
      topology,
      state: 'listing',
      revision: 0,
      listed: false,
      watch: undefined,
      wake: undefined,
      loop: undefined,
    });
    const [health, topology, records] = [this.healthPrefix, this.topologyPrefix, this.recordKeyStart];
    const overlap = (a: string, b: string): boolean => a.startsWith(b) || b.startsWith(a);
    if (records.startsWith(health))
      throw new RangeError(`record prefix "${this.prefix}" must not lie under the health prefix "${health}"`);
    if (records.startsWith(topology))
      throw new RangeError(
        `record prefix "${this.prefix}" must not lie under the topology prefix "${topology}"`,
      );
    if (overlap(health, topology))
      throw new RangeError(
        `the health prefix "${health}" and the topology prefix "${topology}" must not overlap`,
      );
    // One list and one watch serve the record prefix and whichever of the others lie under it.
    const healthUnder = health.startsWith(records);
    const topologyUnder = topology.startsWith(records);
    this.feeds = [feed(records, true, healthUnder, topologyUnder)];
    if (!healthUnder) this.feeds.push(feed(health, false, true, false));
    if (!topologyUnder) this.feeds.push(feed(topology, false, false, true));
  }

  // ---- lifecycle -----------------------------------------------------------------------------

  /**
   * Starts following the store (`store`, else the one given to the constructor). Resolves once
   * the first full list is in (retrying for as long as the store is unreachable); rejects if
   * `stop()` comes first.
   */
  start(store?: Store): Promise<void> {
    if (this.started) throw new Error('catalog already started');
    if (store !== undefined) this.store = store;
    if (this.store === undefined) throw new Error('catalog: no store to follow');
    this.started = true;
    const ready = new Promise<void>((resolve, reject) => {
      this.readyWaiters = { resolve, reject };
    });
    for (const f of this.feeds) f.loop = this.run(f);
    this.followQuorum();
    return ready;
  }

  /**
   * A watch on an etcd member that lost quorum stays open and simply gets no events, so the
   * watch alone cannot tell "quiet" from "cut off": every QUORUM_CHECK_MS ask the store
   * (Store.quorum, etcd only) and report 'disconnected' while it cannot commit.
   */
  private followQuorum(): void {
    const store = this.store;
    if (store?.quorum === undefined) return;
    let busy = false;
    this.quorumTimer = setInterval(() => {
      if (busy || this.stopped) return;
      busy = true;
      store
        .quorum?.()
        .then((q) => {
          if (this.stopped || q.ok === this.quorumOk) return;
          this.quorumOk = q.ok;
          if (q.ok) this.log.info({ detail: q.detail }, 'catalog: the store has quorum again');
          else
            this.log.warn(
              { detail: q.detail, revision: this.revision },
              'catalog: the store has no quorum; answering from memory (stale)',
            );
        })
        .catch(() => {})
        .finally(() => {
          busy = false;
        });
    }, QUORUM_CHECK_MS);
    this.quorumTimer.unref();
  }

  /** Stops the watches and the retries. The last index stays readable. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.quorumTimer);
    for (const wake of [...this.onStop]) wake();
    this.onStop.clear();
    for (const f of this.feeds) f.wake?.('stop');
    await Promise.all(this.feeds.map((f) => f.loop));
    if (!this.readyFlag && this.readyWaiters) {
      this.readyWaiters.reject(new Error('catalog stopped before the first list'));
      this.readyWaiters = undefined;
    }
  }

  // ---- state -----------------------------------------------------------------------------------

  /** True once the first full list (of every prefix followed) is in. */
  get ready(): boolean {
    return this.readyFlag;
  }

  /**
   * True while the catalog answers from a snapshot (installSnapshot) because the store has not
   * been listed yet: the data may be old. False once every feed has listed.
   */
  get stale(): boolean {
    return this.staleFlag;
  }

  /**
   * Serves `snap` (a snapshot file's content, snapshot.ts) until the first list of the store
   * replaces it, atomically as any list does. Only before any list is in; ignored after.
   */
  installSnapshot(snap: Snapshot): boolean {
    if (this.feeds.some((f) => f.listed)) return false;
    this.idx = snap.index;
    this.hov = snap.overlay;
    this.zones = snap.zones;
    this.topo = new Topology(snap.zones);
    for (const f of this.feeds) f.revision = snap.revision;
    this.lastEvent = snap.written;
    this.staleFlag = true;
    return true;
  }

  /** Store revision the record index reflects (the list's, then each applied event's). */
  get revision(): number {
    return this.feeds[0].revision;
  }

  /** Store revision the health overlay reflects (equal to `revision` when one watch serves both). */
  get healthRevision(): number {
    return (this.feeds.find((f) => f.health) ?? this.feeds[0]).revision;
  }

  /**
   * The newest store revision applied by any feed (records, health, topology): the zones' SOA
   * serial (mod 2^32), so a health change moves it too when health has a watch of its own.
   */
  get serial(): number {
    let r = 0;
    for (const f of this.feeds) if (f.revision > r) r = f.revision;
    return r;
  }

  get recordCount(): number {
    return this.idx.size;
  }

  /** False while the store says it cannot commit (etcd without quorum: Store.quorum). */
  get storeQuorum(): boolean {
    return this.quorumOk;
  }

  /**
   * 'listing' while any list is under way, 'disconnected' while any is failing or any watch is
   * down, or the store has no quorum (the watches get nothing new).
   */
  get watchState(): WatchState {
    let s: WatchState = this.quorumOk ? 'connected' : 'disconnected';
    for (const f of this.feeds) {
      if (f.state === 'listing') return 'listing';
      if (f.state === 'disconnected') s = 'disconnected';
    }
    return s;
  }

  /** Time (ms since the epoch) of the last applied watch batch or list; 0 before any. */
  get lastEventAt(): number {
    return this.lastEvent;
  }

  get stats(): Readonly<CatalogStats> {
    this.counters.invalidRecords = this.badRecords.size;
    this.counters.invalidHealth = this.badHealth.size;
    this.counters.invalidTopology = this.badTopology.size;
    return this.counters;
  }

  /** The current index. Read-only for callers; replaced whole after a relist. */
  get index(): RecordIndex {
    return this.idx;
  }

  /** The current health overlay. Read-only for callers; replaced whole after a relist. */
  get overlay(): HealthOverlay {
    return this.hov;
  }

  /**
   * Calls `listener` after each applied watch batch or list swap with the record keys and health
   * keys whose content changed. Returns the unsubscribe function.
   */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  // ---- lookups (synchronous, from memory) ----------------------------------------------------

  /** See RecordIndex.lookup. */
  lookup(name: string, out: Record[]): number {
    return this.idx.lookup(name, out);
  }

  /** See RecordIndex.lookupExact. */
  lookupExact(name: string, out: Record[]): number {
    return this.idx.lookupExact(name, out);
  }

  /** See RecordIndex.has. */
  has(name: string): boolean {
    return this.idx.has(name);
  }

  /** See RecordIndex.generation. Every generation changes when a relist swaps the index. */
  generation(name: string): number {
    return this.idx.generation(name);
  }

  /**
   * Changes whenever any record changes (or a relist swaps the index): `generation` of the root.
   * One number to validate everything derived from lookups (the DNS handler's per-name answers).
   */
  get recordGeneration(): number {
    return this.idx.rootGeneration;
  }

  /** UP / DOWN, or undefined for an unmonitored IP (canonical text form). */
  health(ip: string): HealthState | undefined {
    return this.hov.health(ip);
  }

  /** The IP's status says `"admin":"drain"`: never served (canonical text form). */
  drained(ip: string): boolean {
    return this.hov.drained(ip);
  }

  /**
   * The zones by CIDR (records/topology.ts): a client's zone for locality. Immutable; replaced
   * whole whenever a topology key changes.
   */
  get topology(): Topology {
    return this.topo;
  }

  /** The zones and their CIDRs as stored (read only). */
  get topologyZones(): ReadonlyMap<string, TopologyValue> {
    return this.zones;
  }

  /** Changes whenever any IP's health state or drain changes (or the overlay is swapped). */
  get healthGeneration(): number {
    return this.hov.generation;
  }

  // ---- the loop ------------------------------------------------------------------------------

  private async run(feed: Feed): Promise<void> {
    let attempt = 0;
    // Separate from `attempt`: a watch that keeps failing to open must back off even though the
    // lists between its attempts succeed.
    let watchFailures = 0;
    let compacted = 0;
    while (!this.stopped) {
      feed.state = 'listing';
      let revision: number | undefined;
      try {
        revision = await this.listAndInstall(feed);
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof StoreError && err.code === 'ESTORE_COMPACTED' && compacted++ < COMPACTED_RETRIES) {
          // A paged list's snapshot was compacted before its last page: nothing is wrong, list again.
          this.log.info(
            { prefix: feed.prefix, err: err.message },
            'catalog list compacted mid-way: listing again',
          );
          continue;
        }
        this.counters.failures++;
        feed.state = 'disconnected';
        const delay = this.backoff(attempt++);
        const log = attempt === 1 ? this.log.warn : this.log.debug;
        log.call(this.log, { err, prefix: feed.prefix, attempt, retryInMs: delay }, 'catalog list failed');
        await this.sleep(delay);
        continue;
      }
      if (revision === undefined) break;
      attempt = 0;
      compacted = 0;
      const why = await this.follow(feed, revision + 1);
      if (why === 'failed') await this.sleep(this.backoff(watchFailures++));
      else watchFailures = 0;
    }
    feed.state = 'disconnected';
  }

  /**
   * Lists the feed's prefix into fresh structures, page by page, and swaps them in; returns the
   * list's revision, or undefined when stopped meanwhile. Each page is parsed into the new index
   * as it arrives and is garbage after that: the whole prefix's keys and values are never held
   * at once (unless the store has no `listPages`).
   */
  private async listAndInstall(feed: Feed): Promise<number | undefined> {
    const build: Build = {
      index: feed.records ? new RecordIndex(this.prefix) : undefined,
      overlay: feed.health ? new HealthOverlay() : undefined,
      zones: feed.topology ? new Map() : undefined,
      badRecords: new Set<string>(),
      badHealth: new Set<string>(),
      badTopology: new Set<string>(),
    };
    const revision = await this.listUnlessStopped(feed.prefix, (kvs) => {
      for (let i = 0; i < kvs.length; i++) this.ingest(build, kvs[i]);
    });
    if (this.stopped || revision === undefined) return undefined;
    this.install(feed, build, revision);
    return revision;
  }

  /** Follows the feed from `fromRevision` until the watch is compacted, fails to open, or stop. */
  private async follow(feed: Feed, fromRevision: number): Promise<'compacted' | 'stop' | 'failed'> {
    let watch: Watch;
    // Handlers act only while this follow() is current (a closing watch may still call them).
    let live = true;
    const ended = new Promise<'compacted' | 'stop'>((resolve) => {
      feed.wake = resolve;
    });
    try {
      watch = this.storeOf().watch(feed.prefix, fromRevision, {
        events: (events) => {
          if (live && !this.stopped) this.applyEvents(feed, events);
        },
        compacted: (compactRevision) => {
          if (!live) return;
          this.counters.compactions++;
          this.log.info(
            { prefix: feed.prefix, fromRevision: feed.revision + 1, compactRevision },
            'catalog watch compacted: listing again',
          );
          feed.wake?.('compacted');
        },
        status: (state, err) => {
          if (!live || this.stopped) return;
          if (state === feed.state) return;
          feed.state = state;
          if (state === 'disconnected') {
            this.log.warn(
              { err, prefix: feed.prefix, revision: feed.revision },
              'catalog watch disconnected',
            );
          } else {
            this.log.info({ prefix: feed.prefix, revision: feed.revision }, 'catalog watch connected');
          }
        },
      });
    } catch (err) {
      live = false;
      feed.wake = undefined;
      this.counters.failures++;
      feed.state = 'disconnected';
      this.log.warn({ err, prefix: feed.prefix }, 'catalog watch could not start');
      this.checkReady();
      return 'failed';
    }
    feed.watch = watch;
    feed.state = 'connected';
    this.checkReady();
    if (this.stopped) feed.wake?.('stop');
    const why = await ended;
    live = false;
    feed.watch = undefined;
    feed.wake = undefined;
    try {
      await watch.close();
    } catch (err) {
      this.log.debug({ err, prefix: feed.prefix }, 'catalog watch close failed');
    }
    return why;
  }

  /**
   * Lists `prefix` into `onPage` (the store's paged listing, or its plain `list` as one page) and
   * resolves to the list's revision, or to undefined as soon as stop() is called: an in-flight
   * list against an unreachable store must not hold up stop(). (Not Promise.race with a
   * long-lived stop promise: that would keep every list reachable from the stop promise's
   * reactions.) After stop() the next page ends the listing.
   */
  private listUnlessStopped(prefix: string, onPage: (kvs: KeyValue[]) => void): Promise<number | undefined> {
    const page = (kvs: KeyValue[]): void => {
      if (this.stopped) throw STOPPED;
      onPage(kvs);
    };
    return new Promise((resolve, reject) => {
      const stop = (): void => resolve(undefined);
      this.onStop.add(stop);
      const store = this.storeOf();
      const listing = store.listPages
        ? store.listPages(prefix, page)
        : store.list(prefix).then((res) => {
            page(res.kvs);
            return res.revision;
          });
      listing.then(
        (revision) => {
          this.onStop.delete(stop);
          resolve(revision);
        },
        (err: unknown) => {
          this.onStop.delete(stop);
          reject(err);
        },
      );
    });
  }

  private storeOf(): Store {
    if (this.store === undefined) throw new Error('catalog: no store to follow');
    return this.store;
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** Math.min(attempt, 30));
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.onStop.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.onStop.add(done);
    });
  }

  // ---- applying data -------------------------------------------------------------------------

  private classify(key: string): KeyClass {
    if (key.startsWith(this.healthPrefix)) return 'health';
    if (key.startsWith(this.topologyPrefix)) return 'topology';
    for (let i = 0; i < this.ignore.length; i++) if (key.startsWith(this.ignore[i])) return 'ignore';
    return key.startsWith(this.recordKeyStart) ? 'record' : 'ignore';
  }

  /** Adds one listed key to the structures being built. */
  private ingest(build: Build, kv: KeyValue): void {
    const cls = this.classify(kv.key);
    if (cls === 'record' && build.index) {
      const rec = this.parseRecord(kv, this.badRecords);
      if (rec) build.index.set(rec);
      else build.badRecords.add(kv.key);
    } else if (cls === 'health' && build.overlay) {
      const parsed = this.parseHealth(kv, this.badHealth);
      if (parsed) build.overlay.set(parsed.ip, parsed.state, parsed.drained);
      else build.badHealth.add(kv.key);
    } else if (cls === 'topology' && build.zones) {
      const parsed = this.parseTopology(kv, this.badTopology);
      if (parsed) build.zones.set(parsed.zone, parsed.value);
      else build.badTopology.add(kv.key);
    }
  }

  /** Swaps the structures built from a complete list in, at once. */
  private install(feed: Feed, build: Build, revision: number): void {
    const { index, overlay, zones, badRecords, badHealth, badTopology } = build;
    const changed = this.listeners.size > 0 ? this.diff(index, overlay, zones) : undefined;

    // The swap: synchronous, so a reader sees either the old structures or the new ones.
    if (index) {
      this.idx = index;
      this.badRecords = badRecords;
    }
    if (overlay) {
      this.hov = overlay;
      this.badHealth = badHealth;
    }
    if (zones) {
      this.zones = zones;
      this.topo = new Topology(zones);
      this.badTopology = badTopology;
    }
    feed.revision = revision;
    this.counters.lists++;
    this.lastEvent = Date.now();
    this.log.info(
      {
        prefix: feed.prefix,
        revision,
        records: index?.size,
        monitored: overlay?.size,
        zones: zones?.size,
        invalid: badRecords.size + badHealth.size + badTopology.size,
      },
      'catalog listed',
    );
    feed.listed = true;
    if (changed && changed.length > 0) this.emit(changed);
  }

  /**
   * Ready once every feed has its first list in. Checked after the feed's watch is opened (or
   * failed to open), so that when start() resolves the catalog is already following the store.
   */
  private checkReady(): void {
    if (this.readyFlag || !this.feeds.every((f) => f.listed)) return;
    this.readyFlag = true;
    this.staleFlag = false;
    this.readyWaiters?.resolve();
    this.readyWaiters = undefined;
  }

  /**
   * Keys whose content differs between the current structures and the new ones. Health changes
   * are reported as `<healthPrefix><canonical ip>`.
   */
  private diff(
    index: RecordIndex | undefined,
    overlay: HealthOverlay | undefined,
    zones: Map<string, TopologyValue> | undefined,
  ): string[] {
    const changed: string[] = [];
    if (index) {
      const old = this.idx;
      index.forEach((r) => {
        if (old.get(r.key)?.modRevision !== r.modRevision) changed.push(r.key);
      });
      old.forEach((r) => {
        if (index.get(r.key) === undefined) changed.push(r.key);
      });
    }
    if (overlay) {
      const old = this.hov;
      overlay.forEach((state, ip, drained) => {
        if (old.health(ip) !== state || old.drained(ip) !== drained) changed.push(this.healthPrefix + ip);
      });
      old.forEach((_state, ip) => {
        if (overlay.health(ip) === undefined) changed.push(this.healthPrefix + ip);
      });
    }
    if (zones) {
      const text = (v: TopologyValue | undefined): string => v?.cidrs.map((c) => c.text).join() ?? '';
      for (const z of new Set([...zones.keys(), ...this.zones.keys()]))
        if (zones.get(z) === undefined || text(zones.get(z)) !== text(this.zones.get(z)))
          changed.push(this.topologyPrefix + z);
    }
    return changed;
  }

  private applyEvents(feed: Feed, events: WatchEvent[]): void {
    const changed: string[] = [];
    let topology = false;
    for (const ev of events) {
      const key = ev.type === 'put' ? ev.kv.key : ev.key;
      const rev = ev.type === 'put' ? ev.kv.modRevision : ev.modRevision;
      if (rev > feed.revision) feed.revision = rev;
      const cls = this.classify(key);
      if (cls === 'record' && feed.records) {
        if (this.applyRecord(ev)) changed.push(key);
      } else if (cls === 'health' && feed.health) {
        if (this.applyHealth(ev)) changed.push(key);
      } else if (cls === 'topology' && feed.topology) {
        if (this.applyTopology(ev)) {
          changed.push(key);
          topology = true;
        }
      }
    }
    // one new lookup structure per batch, however many zones it changed
    if (topology) this.topo = new Topology(this.zones);
    this.lastEvent = Date.now();
    if (changed.length > 0) this.emit(changed);
  }

  /** Returns true when the index changed. */
  private applyRecord(ev: WatchEvent): boolean {
    if (ev.type === 'delete') {
      this.badRecords.delete(ev.key);
      return this.idx.remove(ev.key);
    }
    const rec = this.parseRecord(ev.kv, this.badRecords);
    if (rec) {
      this.badRecords.delete(rec.key);
      this.idx.set(rec);
      return true;
    }
    this.badRecords.add(ev.kv.key);
    // The store no longer holds a usable record there: drop the one we had.
    return this.idx.remove(ev.kv.key);
  }

  /**
   * Returns true when an IP's state changed. The IP comes from the key, so a delete needs no
   * memory of what the key said. (Two keys naming one IP, e.g. `010.0.0.1` and `10.0.0.1`: the
   * last write wins and deleting either forgets the IP.)
   */
  private applyHealth(ev: WatchEvent): boolean {
    if (ev.type === 'delete') {
      this.badHealth.delete(ev.key);
      const ip = ipFromHealthKey(this.healthPrefix, ev.key);
      return ip !== undefined && this.hov.delete(ip);
    }
    const key = ev.kv.key;
    const parsed = this.parseHealth(ev.kv, this.badHealth);
    if (parsed) {
      this.badHealth.delete(key);
      return this.hov.set(parsed.ip, parsed.state, parsed.drained);
    }
    // No longer usable: the IP counts as unmonitored.
    this.badHealth.add(key);
    const ip = ipFromHealthKey(this.healthPrefix, key);
    return ip !== undefined && this.hov.delete(ip);
  }

  /** Returns true when a zone's CIDRs changed (`this.topo` is rebuilt by the caller). */
  private applyTopology(ev: WatchEvent): boolean {
    const key = ev.type === 'put' ? ev.kv.key : ev.key;
    const zone = zoneFromTopologyKey(this.topologyPrefix, key);
    if (ev.type === 'delete') {
      this.badTopology.delete(key);
      return zone !== undefined && this.zones.delete(zone);
    }
    const parsed = this.parseTopology(ev.kv, this.badTopology);
    if (parsed) {
      this.badTopology.delete(key);
      this.zones.set(parsed.zone, parsed.value);
      return true;
    }
    // no longer usable: the zone is left out (its clients get no zone; its records keep theirs)
    this.badTopology.add(key);
    return zone !== undefined && this.zones.delete(zone);
  }

  /** A zone's CIDRs, or undefined (counted, and logged unless `knownBad` already has the key). */
  private parseTopology(
    kv: KeyValue,
    knownBad: Set<string>,
  ): { zone: string; value: TopologyValue } | undefined {
    const zone = zoneFromTopologyKey(this.topologyPrefix, kv.key);
    let problem = 'key does not end in a zone name (letters, digits, "-", "_", ".")';
    if (zone !== undefined) {
      try {
        return { zone, value: parseTopologyValue(kv.value) };
      } catch (err) {
        problem = (err as Error).message;
      }
    }
    this.counters.skipped++;
    if (!knownBad.has(kv.key))
      this.log.warn(
        { key: kv.key, modRevision: kv.modRevision, err: problem },
        'skipping unusable topology value',
      );
    return undefined;
  }

  /** A record, or undefined (counted, and logged unless `knownBad` already has the key). */
  private parseRecord(kv: KeyValue, knownBad: Set<string>): Record | undefined {
    try {
      return toRecord(kv, this.prefix);
    } catch (err) {
      this.counters.skipped++;
      if (!knownBad.has(kv.key)) {
        this.log.warn(
          { key: kv.key, modRevision: kv.modRevision, err: (err as Error).message },
          'skipping unusable record',
        );
      }
      return undefined;
    }
  }

  private parseHealth(
    kv: KeyValue,
    knownBad: Set<string>,
  ): { ip: string; state: HealthState; drained: boolean } | undefined {
    const ip = ipFromHealthKey(this.healthPrefix, kv.key);
    let problem = 'key does not end in an IP address';
    if (ip !== undefined) {
      try {
        const h = parseHealthStatus(kv.value);
        return { ip, state: h.status, drained: isDrained(h) };
      } catch (err) {
        problem = (err as Error).message;
      }
    }
    this.counters.skipped++;
    if (!knownBad.has(kv.key)) {
      this.log.warn(
        { key: kv.key, modRevision: kv.modRevision, err: problem },
        'skipping unusable health status (the IP counts as unmonitored)',
      );
    }
    return undefined;
  }

  private emit(keys: readonly string[]): void {
    for (const l of this.listeners) {
      try {
        l(keys);
      } catch (err) {
        this.log.error({ err }, 'catalog change listener threw');
      }
    }
  }
}
