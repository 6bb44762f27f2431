/**
 * On-disk encoding of the embedded store's records. Everything is JSON in lmdb 'string' values,
 * so a data dir can be inspected with any lmdb tool; keys of the `kv` sub-db are the raw UTF-8
 * bytes of the store key (lmdb's default memcmp order = etcd's byte order).
 */

import type { KeyValue, WatchEvent } from '../types.js';

/** A live key in the `kv` sub-db. */
export interface StoredKv {
  /** value */
  v: string;
  /** createRevision */
  c: number;
  /** modRevision */
  m: number;
  /** version */
  n: number;
  /** lease id, absent when none */
  l?: string;
}

/** One event of a change-log entry; the entry's lmdb key is the revision (its modRevision). */
export type StoredEvent = { k: string; v: string; c: number; n: number; l?: string } | { k: string; d: 1 };

/** A lease in the `leases` sub-db: TTL in seconds, expiry as epoch milliseconds. */
export interface StoredLease {
  ttl: number;
  exp: number;
}

export function encodeKv(kv: StoredKv): string {
  return JSON.stringify(kv);
}

export function decodeKv(key: string, raw: string): KeyValue {
  const s = JSON.parse(raw) as StoredKv;
  return { key, value: s.v, createRevision: s.c, modRevision: s.m, version: s.n, lease: s.l ?? '0' };
}

export function decodeStoredKv(raw: string): StoredKv {
  return JSON.parse(raw) as StoredKv;
}

export function encodeEvents(events: StoredEvent[]): string {
  return JSON.stringify(events);
}

export function decodeEvents(raw: string): StoredEvent[] {
  return JSON.parse(raw) as StoredEvent[];
}

/** Turns a stored event of revision `rev` into the public shape. */
export function toWatchEvent(e: StoredEvent, rev: number): WatchEvent {
  if ('d' in e) return { type: 'delete', key: e.k, modRevision: rev };
  return {
    type: 'put',
    kv: { key: e.k, value: e.v, createRevision: e.c, modRevision: rev, version: e.n, lease: e.l ?? '0' },
  };
}

export function encodeLease(l: StoredLease): string {
  return JSON.stringify(l);
}

export function decodeLease(raw: string): StoredLease {
  return JSON.parse(raw) as StoredLease;
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'utf8');
}

/**
 * The smallest byte string greater than every string that starts with `prefix`, or undefined
 * when there is none (empty prefix, or all 0xff bytes): the exclusive end of a prefix range.
 */
export function prefixEnd(prefix: Buffer): Buffer | undefined {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return undefined;
  const out = Buffer.from(prefix.subarray(0, end));
  out[end - 1]! += 1;
  return out;
}

/** Key of the `leasekeys` index: `<leaseId>\0<key>` (lease ids are digits, so the split is unambiguous). */
export function leaseKeyIndex(lease: string, key: string): Buffer {
  return Buffer.from(lease + '\0' + key, 'utf8');
}

export function leaseKeyIndexPrefix(lease: string): Buffer {
  return Buffer.from(lease + '\0', 'utf8');
}
