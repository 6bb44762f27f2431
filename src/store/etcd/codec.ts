/** Conversions between the Store's string world and etcd's byte ranges and protobuf messages. */

import type { IKeyValue } from 'etcd3';
import { type KeyValue, type LeaseId, StoreError } from '../types.js';

const ZERO = Buffer.from([0]);

/** The etcd key range [key, range_end) of every key starting with `prefix` ('' = every key). */
export function prefixRange(prefix: string): { key: Buffer; range_end: Buffer } {
  if (prefix === '') return { key: ZERO, range_end: ZERO };
  const key = Buffer.from(prefix, 'utf8');
  const end = Buffer.from(key);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return { key, range_end: end.subarray(0, i + 1) };
    }
  }
  return { key, range_end: ZERO };
}

/** The smallest key after `key` in byte order. */
export function keyAfter(key: Buffer): Buffer {
  return Buffer.concat([key, ZERO]);
}

export function toKeyValue(kv: IKeyValue): KeyValue {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: kv.lease || '0',
  };
}

export function checkKey(key: string, what: string): Buffer {
  if (typeof key !== 'string' || key === '') {
    throw new StoreError('ESTORE_INVALID', `${what}: the key must be a non-empty string`);
  }
  return Buffer.from(key, 'utf8');
}

export function checkPrefix(prefix: string, what: string): string {
  if (typeof prefix !== 'string')
    throw new StoreError('ESTORE_INVALID', `${what}: the prefix must be a string`);
  return prefix;
}

/** A `listPages` page size: an integer >= 1. */
export function checkPageSize(size: number, what: string): number {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new StoreError('ESTORE_INVALID', `${what}: pageSize ${size} is not an integer >= 1`);
  }
  return size;
}

const MAX_INT64 = 2n ** 63n - 1n;

/** Validates a lease id (decimal int64 string, '0' = no lease). */
export function checkLease(id: LeaseId, what: string): string {
  if (typeof id !== 'string' || !/^[0-9]{1,19}$/.test(id) || BigInt(id) > MAX_INT64) {
    throw new StoreError('ESTORE_INVALID', `${what}: lease id ${JSON.stringify(id)} is not a decimal int64`);
  }
  return BigInt(id).toString();
}

export function checkRevision(rev: number, what: string): number {
  if (!Number.isSafeInteger(rev) || rev < 1) {
    throw new StoreError('ESTORE_INVALID', `${what}: revision ${rev} is not a positive integer`);
  }
  return rev;
}
