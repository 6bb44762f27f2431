/**
 * Memory: 100k records (the Hades 1.x layout, as bench/catalog-load writes them) in the index,
 * plus a health overlay, must leave this whole test process (Node + test runner + data) well
 * under 150 MB RSS. Memory is measured, not time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fnv1a32, toRecord } from '../records/record.js';
import { HealthOverlay } from './health-overlay.js';
import { RecordIndex } from './record-index.js';

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const N = 100_000;
const LIMIT_MB = 150;

test(`${N} records and ${N / 4} health states fit in ${LIMIT_MB} MB RSS for the whole process`, () => {
  const index = new RecordIndex('/hades');
  const overlay = new HealthOverlay();
  for (let j = 0; j < N; j++) {
    const svc = j >> 2;
    const ip = `10.${(j >> 16) & 255}.${(j >> 8) & 255}.${j & 255}`;
    const value = JSON.stringify({ host: ip, priority: 10, weight: 10, ttl: 30, type: 'A' });
    const key = `/hades/local/hades/svc/ns${svc % 100}/svc${svc}/${fnv1a32(value)}`;
    index.set(toRecord({ key, value, modRevision: j + 1 }, '/hades'));
    if (j % 4 === 0) overlay.set(ip, j % 8 === 0 ? 'UP' : 'DOWN');
  }
  gc();
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  const rssMB = rss / 1048576;
  console.log(`# ${N} records: rss ${rssMB.toFixed(1)} MB, heap used ${(heapUsed / 1048576).toFixed(1)} MB`);
  assert.equal(index.size, N);
  assert.equal(index.lookup('svc7.ns7.svc.hades.local.', []), 4);
  assert.ok(rssMB <= LIMIT_MB, `rss ${rssMB.toFixed(1)} MB > ${LIMIT_MB} MB`);
});
