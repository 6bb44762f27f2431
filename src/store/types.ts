/**
 * The Store interface: the only way any Hades component reads or writes its data.
 *
 * Semantics follow etcd v3 (the production backend); the embedded backend reproduces them on
 * local disk. Keys and values are UTF-8 strings. Every write bumps one global revision.
 */

/** A lease id, as a decimal string (etcd lease ids are int64). */
export type LeaseId = string;

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the write that created the key (since its last deletion). */
  createRevision: number;
  /** Revision of the last write to the key. */
  modRevision: number;
  /** Number of writes since creation (1 after the first put). */
  version: number;
  /** Lease the key is attached to, or '0' for none. */
  lease: LeaseId;
}

export interface ListResult {
  /** Store revision at which the listing was taken: watch from `revision + 1` to follow it. */
  revision: number;
  /** Keys under the prefix, in byte order of the key. */
  kvs: KeyValue[];
}

export interface ListPagesOptions {
  /**
   * Keys per page, an integer >= 1. Default: the backend's (5000; etcd raises it to 1/16 of a
   * large listing, since etcd counts the whole rest of the range on every request).
   */
  pageSize?: number;
}

/**
 * Receives one page of a paged listing: up to `pageSize` keys, in byte order of the key, never
 * empty, and the revision of the snapshot every page is read from. The array is the callee's.
 * A returned promise holds the next page back until it settles.
 */
export type PageHandler = (kvs: KeyValue[], revision: number) => void | Promise<void>;

export type WatchEvent = { type: 'put'; kv: KeyValue } | { type: 'delete'; key: string; modRevision: number };

export interface WatchHandler {
  /**
   * One or more events, in revision order, never repeated and never skipped: after a reconnect
   * the watch resumes from the revision after the last event delivered.
   */
  events(events: WatchEvent[]): void;
  /**
   * The history from the requested revision has been compacted away: events were lost.
   * The watch is over; the owner must list again and watch from the new list's revision + 1.
   */
  compacted(compactRevision: number): void;
  /** Connection state, for logs and metrics. Optional. */
  status?(state: 'connected' | 'disconnected', err?: Error): void;
}

export interface Watch {
  /** Stops delivery; no handler call happens after the returned promise resolves. */
  close(): Promise<void>;
}

export type Compare =
  | { key: string; op: 'exists' }
  | { key: string; op: 'absent' }
  | { key: string; op: 'value'; value: string }
  /** modRevision 0 means "the key does not exist" (etcd's idiom). */
  | { key: string; op: 'modRevision'; modRevision: number };

export type Op =
  | { op: 'put'; key: string; value: string; lease?: LeaseId }
  | { op: 'delete'; key: string }
  | { op: 'deletePrefix'; prefix: string };

export interface Txn {
  /** All must hold for `success` to run; otherwise `failure` runs. */
  compare: Compare[];
  success: Op[];
  failure?: Op[];
}

export interface TxnResult {
  succeeded: boolean;
  /** Store revision after the transaction (unchanged if it wrote nothing). */
  revision: number;
}

export interface Store {
  readonly kind: 'etcd' | 'embedded';

  get(key: string): Promise<KeyValue | undefined>;
  /** Every key that starts with `prefix` ('' = all keys). */
  list(prefix: string): Promise<ListResult>;
  /**
   * `list` without holding the whole result: the keys under `prefix` are handed to `onPage` a page
   * at a time, in byte order of the key, all from one snapshot, and the promise resolves to that
   * snapshot's revision (what `list` would have returned) after the last page. No page when
   * nothing matches. If `onPage` throws or its promise rejects, the listing stops and rejects with
   * that error. If the snapshot's revision is compacted away before the last page (etcd, a long
   * listing under aggressive compaction), it rejects with ESTORE_COMPACTED: discard what came and
   * list again.
   *
   * Optional so that wrappers and fakes need not implement it: code that takes any Store falls
   * back to `list`. Both backends implement it (the conformance suite checks it).
   */
  listPages?(prefix: string, onPage: PageHandler, opts?: ListPagesOptions): Promise<number>;
  /**
   * Whether the backend can commit writes right now (etcd: asks every endpoint's status, which
   * a member answers without quorum). Optional: the embedded store always can. Never rejects.
   */
  quorum?(): Promise<QuorumStatus>;
  /** Returns the revision of the write. */
  put(key: string, value: string, opts?: { lease?: LeaseId }): Promise<number>;
  /** Returns how many keys were deleted (0 or 1). */
  delete(key: string): Promise<number>;
  /** Returns how many keys were deleted. */
  deletePrefix(prefix: string): Promise<number>;
  /** All or nothing: compares and the chosen branch apply at one revision. */
  txn(txn: Txn): Promise<TxnResult>;

  /**
   * Follows every change to keys under `prefix`, starting at `fromRevision` (inclusive).
   * Reconnects by itself; calls `handler.compacted` when `fromRevision` is no longer available.
   */
  watch(prefix: string, fromRevision: number, handler: WatchHandler): Watch;

  /** Grants a lease; keys put with it disappear (with delete events) when it expires or is revoked. */
  grantLease(ttlSeconds: number): Promise<LeaseId>;
  /** Renews a lease once; resolves to its TTL in seconds, or 0 when the lease no longer exists. */
  keepAliveLease(id: LeaseId): Promise<number>;
  /** Revokes a lease and deletes its keys. Revoking an unknown lease is not an error. */
  revokeLease(id: LeaseId): Promise<void>;

  /** Drops history before `revision`: watches from older revisions get `compacted`. */
  compact(revision: number): Promise<void>;

  /** Closes watches and connections. Does not revoke leases. */
  close(): Promise<void>;
}

export type StoreErrorCode =
  /** The backend cannot be reached (etcd down, no quorum): retry later. */
  | 'ESTORE_UNAVAILABLE'
  /** Operation on a closed store. */
  | 'ESTORE_CLOSED'
  /** Bad argument (empty key, TTL < 1, ...). */
  | 'ESTORE_INVALID'
  /** Requested revision was compacted. */
  | 'ESTORE_COMPACTED';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  /**
   * ESTORE_UNAVAILABLE only: set when the backend answers but cannot commit (etcd with no
   * quorum: no reachable member sees a leader). Says why, e.g. "1 of 3 members answer, none sees a leader".
   */
  readonly noQuorum: string | undefined;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown; noQuorum?: string }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
    this.noQuorum = options?.noQuorum;
  }
}

/** What `Store.quorum()` found. */
export interface QuorumStatus {
  /** The store can commit writes (etcd: some reachable member sees a leader). */
  ok: boolean;
  /** e.g. "3 of 3 members answer, leader 8e9e05c52164694d" or "1 of 3 members answer, none sees a leader". */
  detail: string;
}
