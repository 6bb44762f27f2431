/**
 * Leader election on any Store (etcd or embedded), with leases: one key, held by the leader
 * under a lease it renews; a dead leader's lease expires, which deletes the key and lets the
 * next candidate in.
 *
 *   const e = new Election(store, '/hades/monitor/lock', 'host-a', {
 *     ttlSeconds: 10,
 *     onElected: () => startWork(),
 *     onLost: (why) => stopWork(),
 *   });
 *   await e.campaign();   // resolves once this candidate leads (rejects if resigned first)
 *   e.isLeader;           // or e.state: 'idle' | 'campaigning' | 'leader' | 'stopped'
 *   await e.leader();     // the leader's id, or undefined
 *   await e.resign();     // revoke the lease: the key goes at once, another candidate takes over
 *
 * - Campaign: grant a lease, then a txn "key absent → put key=id with the lease". When the key
 *   exists, watch it and try again when it is deleted (and at least once per TTL, in case a
 *   watch event is missed).
 * - While leading, the lease is renewed every ttl/3. Leadership is lost when a renewal returns
 *   0 (the lease is gone), when renewals fail for longer than the TTL (the store has expired it
 *   by then), or when the key is deleted or taken by another lease. `onLost` is called, and the
 *   candidate campaigns again by itself (until `resign()` / `abandon()`).
 * - `abandon()` stops everything without revoking the lease (as a crash would): the key stays
 *   until the lease expires. For tests and for processes that exit anyway.
 */
import type { Logger } from '../common/logger.js';
import type { LeaseId, Store, Watch } from './types.js';

export type ElectionState = 'idle' | 'campaigning' | 'leader' | 'stopped';

export interface ElectionOptions {
  /** Lease TTL in seconds (≥ 1): how long a dead leader keeps the key. */
  ttlSeconds: number;
  /** Called each time this candidate becomes the leader. */
  onElected?: () => void;
  /** Called each time this candidate stops leading (not after `resign()` / `abandon()`). */
  onLost?: (why: string) => void;
  logger?: Logger;
}

export class Election {
  readonly store: Store;
  readonly key: string;
  readonly id: string;
  readonly ttlSeconds: number;
  #opts: ElectionOptions;
  #state: ElectionState = 'idle';
  #lease: LeaseId | undefined;
  #loop: Promise<void> | undefined;
  /** Wakes whatever the loop is waiting on (a delete, a renewal tick, a retry pause). */
  #wake: (() => void) | undefined;
  #elected: { resolve: () => void; reject: (e: Error) => void; promise: Promise<void> } | undefined;

  constructor(store: Store, key: string, id: string, opts: ElectionOptions) {
    if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds < 1)
      throw new RangeError(`election ttlSeconds must be an integer >= 1, got ${opts.ttlSeconds}`);
    if (key === '') throw new RangeError('election key must not be empty');
    this.store = store;
    this.key = key;
    this.id = id;
    this.ttlSeconds = opts.ttlSeconds;
    this.#opts = opts;
  }

  get state(): ElectionState {
    return this.#state;
  }

  get isLeader(): boolean {
    return this.#state === 'leader';
  }

  /** The id stored in the key (the current leader), or undefined when nobody leads. */
  async leader(): Promise<string | undefined> {
    return (await this.store.get(this.key))?.value;
  }

  /**
   * Starts campaigning (if not already) and resolves once this candidate is the leader. Rejects
   * when `resign()` or `abandon()` comes first.
   */
  campaign(): Promise<void> {
    if (this.#state === 'leader') return Promise.resolve();
    if (this.#elected === undefined) {
      let resolve!: () => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {}); // a caller that does not await must not crash the process
      this.#elected = { resolve, reject, promise };
    }
    if (this.#loop === undefined) {
      this.#state = 'campaigning';
      this.#loop = this.#run().finally(() => {
        this.#loop = undefined;
      });
    }
    return this.#elected.promise;
  }

  /** Stops campaigning or leading and revokes the lease, which deletes the key at once. */
  async resign(): Promise<void> {
    const lease = this.#lease;
    await this.#stop('resigned');
    if (lease !== undefined) await this.store.revokeLease(lease);
  }

  /** Stops without revoking the lease (as a crashed process would): the key stays until it expires. */
  async abandon(): Promise<void> {
    await this.#stop('abandoned');
  }

  async #stop(why: string): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'idle') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopped';
    this.#elected?.reject(new Error(`election ${this.key}: ${why} before being elected`));
    this.#elected = undefined;
    this.#wake?.();
    await this.#loop;
    this.#lease = undefined;
  }

  get #stopped(): boolean {
    return this.#state === 'stopped';
  }

  /** Waits `ms`, or less when woken. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      let t: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(t);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      t = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  async #run(): Promise<void> {
    const ttlMs = this.ttlSeconds * 1000;
    while (!this.#stopped) {
      let lease: LeaseId | undefined;
      try {
        lease = await this.store.grantLease(this.ttlSeconds);
        if (this.#stopped) {
          await this.store.revokeLease(lease).catch(() => {});
          return;
        }
        let won = false;
        try {
          const r = await this.store.txn({
            compare: [{ key: this.key, op: 'absent' }],
            success: [{ op: 'put', key: this.key, value: this.id, lease }],
          });
          won = r.succeeded;
        } catch (err) {
          // unknown outcome: the key tells
          const kv = await this.store.get(this.key);
          if (kv?.lease !== lease) throw err;
          won = true;
        }
        if (won) {
          this.#lease = lease;
          lease = undefined;
          await this.#lead(ttlMs);
          continue;
        }
        const kv = await this.store.get(this.key);
        await this.store.revokeLease(lease).catch(() => {});
        lease = undefined;
        if (kv === undefined || this.#stopped) continue;
        await this.#waitForDelete(kv.modRevision + 1, ttlMs);
      } catch (err) {
        if (lease !== undefined) void this.store.revokeLease(lease).catch(() => {});
        if (this.#stopped) return;
        this.#opts.logger?.warn(
          { key: this.key, err: (err as Error).message },
          'election: campaign failed; retrying',
        );
        await this.#pause(Math.min(1000, ttlMs / 3));
      }
    }
  }

  /** Resolves when the key is deleted (seen by a watch from `fromRevision`), after `maxMs`, or on stop. */
  async #waitForDelete(fromRevision: number, maxMs: number): Promise<void> {
    let watch: Watch | undefined;
    const paused = this.#pause(maxMs);
    const wake = this.#wake;
    watch = this.store.watch(this.key, fromRevision, {
      events: (evs) => {
        if (evs.some((e) => e.type === 'delete' && e.key === this.key)) wake?.();
      },
      compacted: () => wake?.(),
    });
    await paused;
    await watch.close();
    watch = undefined;
  }

  /** Holds leadership: renews the lease every ttl/3 until it is lost or the election stops. */
  async #lead(ttlMs: number): Promise<void> {
    const lease = this.#lease as LeaseId;
    this.#state = 'leader';
    this.#opts.logger?.info({ key: this.key, id: this.id, lease }, 'election: elected');
    this.#elected?.resolve();
    this.#elected = undefined;
    try {
      this.#opts.onElected?.();
    } catch (err) {
      this.#opts.logger?.warn({ err: (err as Error).message }, 'election: onElected threw');
    }
    let lost: string | undefined;
    const start = await this.store.get(this.key).catch(() => undefined);
    const watch = this.store.watch(this.key, (start?.modRevision ?? 1) + 1, {
      events: (evs) => {
        for (const e of evs) {
          if (e.type === 'delete') {
            if (e.key === this.key) lost ??= 'the key was deleted';
          } else if (e.kv.key === this.key && e.kv.lease !== lease)
            lost ??= 'the key was taken by another lease';
        }
        if (lost !== undefined) this.#wake?.();
      },
      compacted: () => {},
    });
    let lastOk = Date.now();
    try {
      while (!this.#stopped && lost === undefined) {
        await this.#pause(ttlMs / 3);
        if (this.#stopped || lost !== undefined) break;
        try {
          const ttl = await this.store.keepAliveLease(lease);
          if (ttl === 0) lost = 'the lease expired';
          else lastOk = Date.now();
        } catch (err) {
          if (Date.now() - lastOk >= ttlMs)
            lost = `renewals failed for the whole TTL: ${(err as Error).message}`;
        }
      }
    } finally {
      await watch.close();
    }
    if (this.#stopped) return;
    this.#lease = undefined;
    void this.store.revokeLease(lease).catch(() => {});
    this.#state = 'campaigning';
    const why = lost ?? 'unknown';
    this.#opts.logger?.warn({ key: this.key, id: this.id, why }, 'election: leadership lost');
    try {
      this.#opts.onLost?.(why);
    } catch (err) {
      this.#opts.logger?.warn({ err: (err as Error).message }, 'election: onLost threw');
    }
  }
}
