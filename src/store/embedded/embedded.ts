/**
 * The embedded Store backend: etcd v3 semantics (one global revision, create/mod revisions and
 * versions, transactions, prefix watches with history, leases) on a local lmdb environment that
 * several processes can open at once. See README.md beside this file.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Database, open, type RootDatabase } from 'lmdb';
import type { Logger } from '../../common/logger.js';
import {
  type Compare,
  type KeyValue,
  type LeaseId,
  type ListPagesOptions,
  type ListResult,
  type Op,
  type PageHandler,
  type Store,
  StoreError,
  type Txn,
  type TxnResult,
  type Watch,
  type WatchEvent,
  type WatchHandler,
} from '../types.js';
import {
  decodeEvents,
  decodeKv,
  decodeLease,
  decodeStoredKv,
  encodeEvents,
  encodeKv,
  encodeLease,
  keyBytes,
  leaseKeyIndex,
  leaseKeyIndexPrefix,
  prefixEnd,
  type StoredEvent,
  type StoredKv,
  type StoredLease,
  toWatchEvent,
} from './codec.js';

export interface EmbeddedStoreOptions {
  /** Data directory (created if missing). Every process that opens it shares the same store. */
  dir: string;
  logger?: Logger;
  /** Revisions of change log kept for watches (default 10000); older ones are compacted away. */
  historyLimit?: number;
}

/** Layout version written to meta `format`; a dir with another value is refused. */
const FORMAT = '1';
/** lmdb-js's maximum key size with the default page size. */
const MAX_KEY_BYTES = 1978;
/** How often every open process looks for expired leases. */
const SWEEP_INTERVAL_MS = 300;
/** Safety poll of the revision while watches exist (the notify file is only a hint). */
const POLL_INTERVAL_MS = 250;
/** Stale reader slots (from killed processes) are cleared every this many sweeps. */
const READER_CHECK_EVERY = 100;
/** At most this many revisions are read per delivery round, to bound memory on long replays. */
const MAX_REVISIONS_PER_ROUND = 1000;
const NOTIFY_FILE = 'notify';
/** Default keys per page of `listPages`. */
const DEFAULT_PAGE_SIZE = 5000;
const ZERO_BYTE = Buffer.from([0]);
/**
 * etcd's default limits (--max-txn-ops, --max-request-bytes), enforced here too so that code
 * that works on the embedded store also works on a default etcd.
 */
const MAX_TXN_OPS = 128;
const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

interface WatchEntry {
  prefix: string;
  /** Next revision to deliver. */
  next: number;
  handler: WatchHandler;
  closed: boolean;
}

interface Dbs {
  kv: Database<string, Buffer>;
  log: Database<string, number>;
  leases: Database<string, string>;
  leaseKeys: Database<string, Buffer>;
  meta: Database<string, string>;
}

function invalid(message: string): StoreError {
  return new StoreError('ESTORE_INVALID', message);
}

function checkKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw invalid(`${what} must be a non-empty string`);
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw invalid(`${what} is longer than ${MAX_KEY_BYTES} bytes`);
  }
}

function checkPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') throw invalid('prefix must be a string');
}

function checkValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw invalid('value must be a string');
}

function checkRequestSize(bytes: number): void {
  if (bytes > MAX_REQUEST_BYTES) {
    throw invalid(`request is too large (${bytes} bytes; etcd's default limit is ${MAX_REQUEST_BYTES})`);
  }
}

/** Returns the lease id to store (undefined for none), or throws on a malformed one. */
function checkLeaseId(lease: unknown): string | undefined {
  if (lease === undefined || lease === '0') return undefined;
  if (typeof lease !== 'string' || !/^[1-9][0-9]{0,18}$/.test(lease)) {
    throw invalid('lease must be a decimal lease id');
  }
  return lease;
}

/**
 * Validates one branch of a txn the way etcd does (both branches, whichever runs): at most 128
 * operations, no key put twice, no put of a key that the same branch deletes. Returns its size.
 */
function checkOps(ops: unknown, branch: string): number {
  if (!Array.isArray(ops)) throw invalid(`txn ${branch} must be an array`);
  if (ops.length > MAX_TXN_OPS) {
    throw invalid(
      `too many operations in txn ${branch} (${ops.length}; etcd's default limit is ${MAX_TXN_OPS})`,
    );
  }
  let bytes = 0;
  const puts = new Set<string>();
  const deletes: Array<{ key: string; prefix: boolean }> = [];
  for (const op of ops as Op[]) {
    if (op === null || typeof op !== 'object') throw invalid(`txn ${branch}: operation must be an object`);
    switch (op.op) {
      case 'put':
        checkKey(op.key);
        checkValue(op.value);
        checkLeaseId(op.lease);
        bytes += Buffer.byteLength(op.key) + Buffer.byteLength(op.value);
        if (puts.has(op.key)) throw invalid(`txn ${branch}: duplicate key ${JSON.stringify(op.key)}`);
        puts.add(op.key);
        break;
      case 'delete':
        checkKey(op.key);
        deletes.push({ key: op.key, prefix: false });
        break;
      case 'deletePrefix':
        checkPrefix(op.prefix);
        deletes.push({ key: op.prefix, prefix: true });
        break;
      default:
        throw invalid(`txn ${branch}: unknown operation ${JSON.stringify((op as { op: unknown }).op)}`);
    }
  }
  for (const d of deletes) {
    for (const k of puts) {
      if (d.prefix ? k.startsWith(d.key) : k === d.key) {
        throw invalid(`txn ${branch}: key ${JSON.stringify(k)} is both put and deleted`);
      }
    }
  }
  return bytes;
}

function checkCompares(compares: unknown): asserts compares is Compare[] {
  if (!Array.isArray(compares)) throw invalid('txn compare must be an array');
  if (compares.length > MAX_TXN_OPS) {
    throw invalid(`too many compares in txn (${compares.length}; etcd's default limit is ${MAX_TXN_OPS})`);
  }
  for (const c of compares as Compare[]) {
    if (c === null || typeof c !== 'object') throw invalid('txn compare: entry must be an object');
    checkKey(c.key, 'compare key');
    switch (c.op) {
      case 'exists':
      case 'absent':
        break;
      case 'value':
        checkValue(c.value);
        break;
      case 'modRevision':
        if (!Number.isSafeInteger(c.modRevision) || c.modRevision < 0) {
          throw invalid('compare modRevision must be an integer >= 0');
        }
        break;
      default:
        throw invalid(`txn compare: unknown op ${JSON.stringify((c as { op: unknown }).op)}`);
    }
  }
}

function readNum(raw: string | undefined, dflt: number): number {
  return raw === undefined ? dflt : Number(raw);
}

function newLeaseId(): string {
  for (;;) {
    const n = randomBytes(8).readBigUInt64BE() & 0x7fffffffffffffffn;
    if (n !== 0n) return n.toString(10);
  }
}

/**
 * One lmdb write transaction. Everything it changes happens at revision `current + 1`; if it
 * changes no key, the revision stays and no log entry is written.
 */
class WriteTx {
  readonly current: number;
  readonly rev: number;
  readonly events: StoredEvent[] = [];
  readonly now = Date.now();

  constructor(private readonly dbs: Dbs) {
    this.current = readNum(dbs.meta.get('revision'), 1);
    this.rev = this.current + 1;
  }

  getKv(key: string): StoredKv | undefined {
    const raw = this.dbs.kv.get(keyBytes(key));
    return raw === undefined ? undefined : decodeStoredKv(raw);
  }

  getLease(id: string): StoredLease | undefined {
    const raw = this.dbs.leases.get(id);
    return raw === undefined ? undefined : decodeLease(raw);
  }

  compare(c: Compare): boolean {
    const kv = this.getKv(c.key);
    switch (c.op) {
      case 'exists':
        return kv !== undefined;
      case 'absent':
        return kv === undefined;
      case 'value':
        return kv !== undefined && kv.v === c.value;
      case 'modRevision':
        return (kv?.m ?? 0) === c.modRevision;
    }
  }

  put(key: string, value: string, lease: string | undefined): void {
    if (lease !== undefined) {
      const l = this.getLease(lease);
      if (l === undefined || l.exp <= this.now) throw invalid(`lease ${lease} not found`);
    }
    const prev = this.getKv(key);
    const kv: StoredKv = { v: value, c: prev ? prev.c : this.rev, m: this.rev, n: prev ? prev.n + 1 : 1 };
    if (lease !== undefined) kv.l = lease;
    if (prev?.l !== undefined && prev.l !== lease) this.dbs.leaseKeys.removeSync(leaseKeyIndex(prev.l, key));
    if (lease !== undefined && prev?.l !== lease) this.dbs.leaseKeys.putSync(leaseKeyIndex(lease, key), '');
    this.dbs.kv.putSync(keyBytes(key), encodeKv(kv));
    const ev: StoredEvent = { k: key, v: value, c: kv.c, n: kv.n };
    if (lease !== undefined) ev.l = lease;
    this.events.push(ev);
  }

  delete(key: string): boolean {
    const prev = this.getKv(key);
    if (prev === undefined) return false;
    this.dbs.kv.removeSync(keyBytes(key));
    if (prev.l !== undefined) this.dbs.leaseKeys.removeSync(leaseKeyIndex(prev.l, key));
    this.events.push({ k: key, d: 1 });
    return true;
  }

  deletePrefix(prefix: string): number {
    const start = keyBytes(prefix);
    const keys: string[] = [];
    for (const k of this.dbs.kv.getKeys(prefix === '' ? {} : { start, end: prefixEnd(start) })) {
      keys.push(k.toString('utf8'));
    }
    let n = 0;
    for (const k of keys) if (this.delete(k)) n++;
    return n;
  }

  apply(ops: Op[]): void {
    for (const op of ops) {
      if (op.op === 'put') this.put(op.key, op.value, checkLeaseId(op.lease));
      else if (op.op === 'delete') this.delete(op.key);
      else this.deletePrefix(op.prefix);
    }
  }

  grantLease(ttl: number): string {
    let id = newLeaseId();
    while (this.dbs.leases.get(id) !== undefined) id = newLeaseId();
    this.dbs.leases.putSync(id, encodeLease({ ttl, exp: this.now + ttl * 1000 }));
    return id;
  }

  /** Deletes the lease and every key attached to it (delete events at this revision). */
  revokeLease(id: string): void {
    const start = leaseKeyIndexPrefix(id);
    const keys: string[] = [];
    for (const k of this.dbs.leaseKeys.getKeys({ start, end: prefixEnd(start) })) {
      const s = k.toString('utf8');
      keys.push(s.slice(s.indexOf('\0') + 1));
    }
    for (const key of keys) {
      const kv = this.getKv(key);
      if (kv?.l === id) this.delete(key);
      else this.dbs.leaseKeys.removeSync(leaseKeyIndex(id, key)); // stale index entry: drop it
    }
    this.dbs.leases.removeSync(id);
  }

  /** Writes the log entry and the new revision if anything changed; returns the store revision. */
  finish(historyLimit: number): number {
    if (this.events.length === 0) return this.current;
    const { log, meta } = this.dbs;
    log.putSync(this.rev, encodeEvents(this.events));
    meta.putSync('revision', String(this.rev));
    const keep = this.rev - historyLimit + 1;
    if (keep > 1) trimLog(this.dbs, keep);
    return this.rev;
  }
}

/** Drops log entries below `keep` and records `keep` as the compact revision (in a write txn). */
function trimLog(dbs: Dbs, keep: number): void {
  const compact = readNum(dbs.meta.get('compactRevision'), 0);
  if (keep <= compact) return;
  const old: number[] = [];
  for (const r of dbs.log.getKeys({ end: keep })) old.push(r);
  for (const r of old) dbs.log.removeSync(r);
  dbs.meta.putSync('compactRevision', String(keep));
}

export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const;

  private closed = false;
  private readonly watches = new Set<WatchEntry>();
  /** Read transactions held by listPages calls in progress (close() releases them). */
  private readonly listings = new Set<{ txn: { done(): void }; released: boolean }>();
  private pumpScheduled = false;
  private fsWatcher: fs.FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly sweepTimer: NodeJS.Timeout;
  private sweeps = 0;
  private notifyFd: number | undefined;
  private readonly notifyPath: string;

  private constructor(
    readonly dir: string,
    private readonly root: RootDatabase,
    private readonly dbs: Dbs,
    private readonly historyLimit: number,
    private readonly logger: Logger | undefined,
  ) {
    this.notifyPath = path.join(dir, NOTIFY_FILE);
    try {
      this.notifyFd = fs.openSync(this.notifyPath, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    } catch (err) {
      this.warn(err, 'embedded store: cannot open the notify file; other processes see writes by polling');
    }
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** @internal use openEmbeddedStore */
  static async open(opts: EmbeddedStoreOptions): Promise<EmbeddedStore> {
    if (opts === null || typeof opts !== 'object') throw invalid('options must be an object');
    if (typeof opts.dir !== 'string' || opts.dir === '') throw invalid('dir must be a non-empty string');
    const historyLimit = opts.historyLimit ?? 10000;
    if (!Number.isSafeInteger(historyLimit) || historyLimit < 1) {
      throw invalid('historyLimit must be an integer >= 1');
    }
    const dir = path.resolve(opts.dir);
    let root: RootDatabase;
    try {
      fs.mkdirSync(dir, { recursive: true });
      // noSubdir: false, or lmdb-js would treat a dir named like "x.db" as a file path.
      // overlappingSync: false: with lmdb-js's default overlapping sync, a commit by a process
      // killed before its background sync finished was seen by other processes' write
      // transactions but not by their readers (list said revision N, the next put got N + 2).
      // Plain synchronous commits cost no more here (about 0.25 ms per transaction).
      root = open({ path: dir, maxDbs: 8, noSubdir: false, overlappingSync: false });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new StoreError('ESTORE_UNAVAILABLE', `embedded store ${dir}: ${message}`, { cause: err });
    }
    let dbs: Dbs;
    try {
      dbs = {
        kv: root.openDB<string, Buffer>({ name: 'kv', keyEncoding: 'binary', encoding: 'string' }),
        log: root.openDB<string, number>({ name: 'log', encoding: 'string' }),
        leases: root.openDB<string, string>({ name: 'leases', encoding: 'string' }),
        leaseKeys: root.openDB<string, Buffer>({
          name: 'leasekeys',
          keyEncoding: 'binary',
          encoding: 'string',
        }),
        meta: root.openDB<string, string>({ name: 'meta', encoding: 'string' }),
      };
      root.transactionSync(() => {
        const format = dbs.meta.get('format');
        if (format === undefined) dbs.meta.putSync('format', FORMAT);
        else if (format !== FORMAT) throw invalid(`${dir}: unsupported embedded store format ${format}`);
      });
    } catch (err) {
      await root.close();
      throw err;
    }
    const store = new EmbeddedStore(dir, root, dbs, historyLimit, opts.logger);
    store.sweep(); // leases of processes that died while nobody had the dir open
    return store;
  }

  // ---- reads ----

  async get(key: string): Promise<KeyValue | undefined> {
    this.assertOpen();
    checkKey(key);
    return this.guard(() => {
      this.root.resetReadTxn(); // lmdb-js reuses a read snapshot for the event turn: see README
      const raw = this.dbs.kv.get(keyBytes(key));
      return raw === undefined ? undefined : decodeKv(key, raw);
    });
  }

  async list(prefix: string): Promise<ListResult> {
    this.assertOpen();
    checkPrefix(prefix);
    return this.guard(() => {
      // One fresh read transaction for the revision and the keys: a consistent snapshot.
      this.root.resetReadTxn();
      const txn = this.root.useReadTransaction();
      try {
        const revision = readNum(this.dbs.meta.get('revision', { transaction: txn }), 1);
        const start = keyBytes(prefix);
        const range = prefix === '' ? {} : { start, end: prefixEnd(start) };
        const kvs: KeyValue[] = [];
        for (const { key, value } of this.dbs.kv.getRange({ ...range, transaction: txn })) {
          kvs.push(decodeKv(key.toString('utf8'), value));
        }
        return { revision, kvs };
      } finally {
        txn.done();
      }
    });
  }

  async listPages(prefix: string, onPage: PageHandler, opts?: ListPagesOptions): Promise<number> {
    this.assertOpen();
    checkPrefix(prefix);
    if (typeof onPage !== 'function') throw invalid('onPage must be a function');
    const pageSize = opts?.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw invalid('pageSize must be an integer >= 1');
    // One read transaction for the revision and every page: a consistent snapshot. It is held
    // across the caller's work and our yields; close() releases it if it comes first.
    const listing = this.guard(() => {
      this.root.resetReadTxn();
      return { txn: this.root.useReadTransaction(), released: false };
    });
    this.listings.add(listing);
    const release = (): void => {
      if (listing.released) return;
      listing.released = true;
      this.listings.delete(listing);
      listing.txn.done();
    };
    try {
      const { txn } = listing;
      const revision = this.guard(() => readNum(this.dbs.meta.get('revision', { transaction: txn }), 1));
      const start = keyBytes(prefix);
      const end = prefix === '' ? undefined : prefixEnd(start);
      let from: Buffer | undefined = prefix === '' ? undefined : start;
      for (;;) {
        const kvs = this.guard(() => {
          const out: KeyValue[] = [];
          const range = { start: from, end, limit: pageSize, transaction: txn };
          for (const { key, value } of this.dbs.kv.getRange(range))
            out.push(decodeKv(key.toString('utf8'), value));
          return out;
        });
        // Where the next page starts (the smallest key after this page's last), before the page
        // is handed over: it is the caller's from then on.
        const last = kvs.length === pageSize ? kvs[kvs.length - 1].key : undefined;
        if (kvs.length > 0) await onPage(kvs, revision);
        if (last === undefined) return revision;
        from = Buffer.concat([keyBytes(last), ZERO_BYTE]);
        // Let other work (DNS queries, watch deliveries) run between pages of a long listing.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.closed || listing.released)
          throw new StoreError('ESTORE_CLOSED', 'the embedded store is closed');
      }
    } finally {
      release();
    }
  }

  // ---- writes ----

  async put(key: string, value: string, opts?: { lease?: LeaseId }): Promise<number> {
    checkKey(key);
    checkValue(value);
    checkRequestSize(Buffer.byteLength(key) + Buffer.byteLength(value));
    const lease = checkLeaseId(opts?.lease);
    return this.write((tx) => {
      tx.put(key, value, lease);
    }).revision;
  }

  async delete(key: string): Promise<number> {
    checkKey(key);
    return this.write((tx) => (tx.delete(key) ? 1 : 0)).result;
  }

  async deletePrefix(prefix: string): Promise<number> {
    checkPrefix(prefix);
    return this.write((tx) => tx.deletePrefix(prefix)).result;
  }

  async txn(t: Txn): Promise<TxnResult> {
    if (t === null || typeof t !== 'object') throw invalid('txn must be an object');
    checkCompares(t.compare);
    checkRequestSize(checkOps(t.success, 'success') + checkOps(t.failure ?? [], 'failure'));
    const success = t.success as Op[];
    const failure = (t.failure ?? []) as Op[];
    const { result, revision } = this.write((tx) => {
      const ok = t.compare.every((c) => tx.compare(c));
      tx.apply(ok ? success : failure);
      return ok;
    });
    return { succeeded: result, revision };
  }

  // ---- leases ----

  async grantLease(ttlSeconds: number): Promise<LeaseId> {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1)
      throw invalid('lease TTL must be an integer >= 1');
    return this.write((tx) => tx.grantLease(ttlSeconds)).result;
  }

  async keepAliveLease(id: LeaseId): Promise<number> {
    const lease = checkLeaseId(id);
    if (lease === undefined) return 0;
    return this.write((tx) => {
      const l = tx.getLease(lease);
      if (l === undefined) return 0;
      if (l.exp <= tx.now) {
        // Expired but not swept yet: it is gone (etcd answers "lease not found" here too).
        tx.revokeLease(lease);
        return 0;
      }
      this.dbs.leases.putSync(lease, encodeLease({ ttl: l.ttl, exp: tx.now + l.ttl * 1000 }));
      return l.ttl;
    }).result;
  }

  async revokeLease(id: LeaseId): Promise<void> {
    const lease = checkLeaseId(id);
    if (lease === undefined) return;
    this.write((tx) => {
      if (tx.getLease(lease) !== undefined) tx.revokeLease(lease);
    });
  }

  // ---- history ----

  async compact(revision: number): Promise<void> {
    if (!Number.isSafeInteger(revision) || revision < 1)
      throw invalid('compact revision must be an integer >= 1');
    this.write((tx) => {
      if (revision > tx.current) {
        throw invalid(`compact revision ${revision} is in the future (store revision ${tx.current})`);
      }
      trimLog(this.dbs, revision); // no-op when already compacted that far
    });
  }

  // ---- watches ----

  watch(prefix: string, fromRevision: number, handler: WatchHandler): Watch {
    this.assertOpen();
    checkPrefix(prefix);
    if (!Number.isSafeInteger(fromRevision) || fromRevision < 0) {
      throw invalid('fromRevision must be an integer >= 0');
    }
    if (handler === null || typeof handler !== 'object' || typeof handler.events !== 'function') {
      throw invalid('handler must have an events() method');
    }
    let next = fromRevision;
    if (next === 0) {
      // etcd: revision 0 means "from now on".
      this.root.resetReadTxn();
      next = readNum(this.dbs.meta.get('revision'), 1) + 1;
    }
    const w: WatchEntry = { prefix, next, handler, closed: false };
    this.watches.add(w);
    this.startFollowing();
    queueMicrotask(() => {
      if (w.closed || this.closed) return;
      try {
        handler.status?.('connected');
      } catch (err) {
        this.warn(err, 'embedded store: watch status handler threw');
      }
    });
    this.schedulePump();
    return {
      close: async () => {
        if (w.closed) return;
        w.closed = true;
        this.watches.delete(w);
        this.stopFollowingIfIdle();
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    for (const w of this.watches) w.closed = true;
    this.watches.clear();
    this.stopFollowingIfIdle();
    // Listings in progress read no further (they see `closed`): release their snapshots before
    // the environment goes away.
    for (const l of this.listings) {
      l.released = true;
      l.txn.done();
    }
    this.listings.clear();
    if (this.notifyFd !== undefined) {
      try {
        fs.closeSync(this.notifyFd);
      } catch {
        // ignore: hint file only
      }
      this.notifyFd = undefined;
    }
    await this.root.close();
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.closed) throw new StoreError('ESTORE_CLOSED', 'the embedded store is closed');
  }

  private warn(err: unknown, msg: string): void {
    this.logger?.warn({ err }, msg);
  }

  /**
   * Runs `fn` in one lmdb write transaction (lmdb's write lock serializes it against every
   * other process) and commits; then tells watchers here and elsewhere.
   */
  private write<T>(fn: (tx: WriteTx) => T): { result: T; revision: number } {
    this.assertOpen();
    let revision = 0;
    let changed = false;
    const result = this.guard(() =>
      this.root.transactionSync(() => {
        const tx = new WriteTx(this.dbs);
        const r = fn(tx);
        revision = tx.finish(this.historyLimit);
        changed = revision !== tx.current;
        return r;
      }),
    );
    if (changed) this.afterCommit(revision);
    return { result, revision };
  }

  /** Our own errors pass through; lmdb's (I/O, disk full, ...) become ESTORE_UNAVAILABLE. */
  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof StoreError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      throw new StoreError('ESTORE_UNAVAILABLE', `embedded store ${this.dir}: ${message}`, { cause: err });
    }
  }

  private afterCommit(revision: number): void {
    if (this.notifyFd !== undefined) {
      try {
        const b = Buffer.from(String(revision).padStart(16, '0') + '\n');
        fs.writeSync(this.notifyFd, b, 0, b.length, 0);
      } catch (err) {
        this.warn(err, 'embedded store: cannot touch the notify file');
      }
    }
    if (this.watches.size > 0) this.schedulePump();
  }

  private sweep(): void {
    if (this.closed) return;
    try {
      if (++this.sweeps % READER_CHECK_EVERY === 0) this.root.readerCheck();
      this.root.resetReadTxn();
      const now = Date.now();
      const expired: string[] = [];
      for (const { key, value } of this.dbs.leases.getRange({})) {
        if (decodeLease(value).exp <= now) expired.push(key);
      }
      for (const id of expired) {
        // One revision per lease, as etcd does; re-checked under the write lock since another
        // process may have swept or renewed it meanwhile.
        this.write((tx) => {
          const l = tx.getLease(id);
          if (l !== undefined && l.exp <= tx.now) tx.revokeLease(id);
        });
      }
    } catch (err) {
      if (!this.closed) this.warn(err, 'embedded store: lease sweep failed');
    }
  }

  private startFollowing(): void {
    if (this.pollTimer === undefined) {
      this.pollTimer = setInterval(() => {
        if (this.fsWatcher === undefined) this.startFsWatch();
        this.schedulePump();
      }, POLL_INTERVAL_MS);
    }
    if (this.fsWatcher === undefined) this.startFsWatch();
  }

  private startFsWatch(): void {
    try {
      const watcher = fs.watch(this.notifyPath, { persistent: false }, () => this.schedulePump());
      watcher.on('error', (err) => {
        this.warn(err, 'embedded store: notify file watch failed; falling back to polling');
        watcher.close();
        if (this.fsWatcher === watcher) this.fsWatcher = undefined;
      });
      this.fsWatcher = watcher;
    } catch (err) {
      this.warn(err, 'embedded store: cannot watch the notify file; falling back to polling');
    }
  }

  private stopFollowingIfIdle(): void {
    if (this.watches.size > 0) return;
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
  }

  /** Coalesced; `yieldFirst` lets I/O run between rounds of a long replay. */
  private schedulePump(yieldFirst = false): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    (yieldFirst ? setImmediate : queueMicrotask)(() => {
      this.pumpScheduled = false;
      try {
        this.pump();
      } catch (err) {
        if (!this.closed) this.warn(err, 'embedded store: watch delivery failed');
      }
    });
  }

  /**
   * Reads, in one fresh snapshot, the change log each watch has not seen yet, then calls the
   * handlers (after the snapshot is released, so a handler may close the store).
   */
  private pump(): void {
    if (this.closed || this.watches.size === 0) return;
    const deliveries: Array<{ w: WatchEntry; events?: WatchEvent[]; compacted?: number }> = [];
    let more = false;
    this.root.resetReadTxn();
    const txn = this.root.useReadTransaction();
    try {
      const { log, meta } = this.dbs;
      const rev = readNum(meta.get('revision', { transaction: txn }), 1);
      const compact = readNum(meta.get('compactRevision', { transaction: txn }), 0);
      const active: WatchEntry[] = [];
      let minNext = Number.POSITIVE_INFINITY;
      for (const w of this.watches) {
        if (w.closed || w.next > rev) continue;
        if (w.next < compact) {
          deliveries.push({ w, compacted: compact });
          continue;
        }
        active.push(w);
        minNext = Math.min(minNext, w.next);
      }
      if (active.length > 0) {
        const upto = Math.min(rev, minNext + MAX_REVISIONS_PER_ROUND - 1);
        more = upto < rev;
        const batches = new Map<WatchEntry, WatchEvent[]>(active.map((w) => [w, []]));
        for (const { key, value } of log.getRange({ start: minNext, end: upto + 1, transaction: txn })) {
          const events = decodeEvents(value);
          for (const w of active) {
            if (key < w.next) continue;
            const out = batches.get(w)!;
            for (const e of events) if (e.k.startsWith(w.prefix)) out.push(toWatchEvent(e, key));
          }
        }
        for (const w of active) {
          if (w.next > upto) continue;
          w.next = upto + 1;
          const events = batches.get(w)!;
          if (events.length > 0) deliveries.push({ w, events });
        }
      }
    } finally {
      txn.done();
    }
    for (const d of deliveries) {
      if (this.closed || d.w.closed) continue;
      try {
        if (d.events) {
          d.w.handler.events(d.events);
        } else {
          d.w.closed = true;
          this.watches.delete(d.w);
          d.w.handler.compacted(d.compacted!);
        }
      } catch (err) {
        this.warn(err, 'embedded store: watch handler threw');
      }
    }
    this.stopFollowingIfIdle();
    if (more) this.schedulePump(true);
  }
}

/** Opens (creating if needed) the embedded store in `opts.dir`. */
export function openEmbeddedStore(opts: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  return EmbeddedStore.open(opts);
}
