/** Mapping of etcd3 / gRPC errors to StoreError codes, and the per-host failure policy. */

import {
  ClientClosedError,
  EtcdLeaseInvalidError,
  GRPCFailedPreconditionError,
  GRPCInvalidArgumentError,
  GRPCNotFoundError,
  GRPCOutOfRangeError,
  type IOptions,
  isRecoverableError,
} from 'etcd3';
import { StoreError } from '../types.js';

/** Thrown instead of calling a host that failed recently while another host looks healthy. */
export class HostDownError extends Error {
  constructor(host: string) {
    super(`etcd endpoint ${host} failed recently; trying another`);
    this.name = 'HostDownError';
  }
}

const INVALID_MESSAGES =
  /requested lease not found|key is not provided|duplicate key given in txn request|too many operations in txn request|request is too large|required revision is a future revision|lease TTL/;

export function toStoreError(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  const msg = e.message;
  if (e instanceof ClientClosedError)
    return new StoreError('ESTORE_CLOSED', `${what}: store is closed`, { cause: e });
  if (msg.includes('required revision has been compacted')) {
    return new StoreError('ESTORE_COMPACTED', `${what}: ${msg}`, { cause: e });
  }
  if (
    e instanceof EtcdLeaseInvalidError ||
    e instanceof GRPCInvalidArgumentError ||
    e instanceof GRPCOutOfRangeError ||
    e instanceof GRPCNotFoundError ||
    e instanceof GRPCFailedPreconditionError ||
    INVALID_MESSAGES.test(msg)
  ) {
    return new StoreError('ESTORE_INVALID', `${what}: ${msg}`, { cause: e });
  }
  // Unreachable, no leader, timeouts, overload, auth and anything unknown: the backend cannot
  // serve us right now.
  return new StoreError('ESTORE_UNAVAILABLE', `${what}: etcd unavailable: ${msg}`, { cause: e });
}

/** True when the request certainly never reached etcd, so even a write may be retried. */
export function neverSent(err: unknown): boolean {
  if (err instanceof HostDownError) return true;
  const msg = err instanceof Error ? err.message : String(err);
  return /No connection established|ECONNREFUSED/.test(msg);
}

type FaultHandling = NonNullable<IOptions['faultHandling']>;
type Policy = ReturnType<NonNullable<FaultHandling['host']>>;
type PolicyFn = Parameters<Policy['execute']>[0];

const neverAborted = new AbortController().signal;

/** Runs calls straight through (we retry ourselves, knowing which calls are safe to repeat). */
export const passThroughPolicy = {
  execute(fn: PolicyFn, signal?: AbortSignal) {
    return Promise.resolve().then(() => fn({ signal: signal ?? neverAborted }));
  },
} as unknown as Policy;

/**
 * Tracks recent failures per endpoint. A host that failed recently is skipped (HostDownError, so
 * etcd3 moves on to the next host) — but only while some other host is not in that state, so
 * with one endpoint, or all down, every call still tries for real and recovery is immediate.
 */
export class HostHealth {
  private readonly downUntil = new Map<string, number>();
  private readonly failures = new Map<string, number>();

  constructor(private readonly hosts: string[]) {}

  private isDown(host: string, now: number): boolean {
    return (this.downUntil.get(host) ?? 0) > now;
  }

  policyFor(host: string): Policy {
    return {
      execute: async (fn: PolicyFn, signal?: AbortSignal) => {
        const now = Date.now();
        if (this.isDown(host, now) && this.hosts.some((h) => h !== host && !this.isDown(h, now))) {
          throw new HostDownError(host);
        }
        try {
          const result = await fn({ signal: signal ?? neverAborted });
          this.failures.set(host, 0);
          this.downUntil.delete(host);
          return result;
        } catch (err) {
          if (err instanceof Error && isRecoverableError(err)) {
            const n = (this.failures.get(host) ?? 0) + 1;
            this.failures.set(host, n);
            this.downUntil.set(host, Date.now() + Math.min(5000, 100 * 2 ** (n - 1)));
          }
          throw err;
        }
      },
    } as unknown as Policy;
  }
}
