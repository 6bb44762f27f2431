import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { collectStartupGarbage, HADES_NODE_FLAGS } from './memory.js';

describe('collectStartupGarbage', () => {
  it('frees unreachable objects without --expose-gc, and leaves gc unexposed', () => {
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'run without --expose-gc');
    let garbage: object[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `v${i}` }));
    const before = getHeapStatistics().used_heap_size;
    assert.equal(garbage.length, 200_000);
    garbage = undefined;
    const ms = collectStartupGarbage();
    assert.equal(typeof ms, 'number');
    const after = getHeapStatistics().used_heap_size;
    assert.ok(after < before - 5 * 2 ** 20, `heap used ${before} → ${after}`);
    // --expose-gc is off again: a new context has no gc
    assert.equal(runInNewContext('typeof gc'), 'undefined');
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
  });

  it('uses the global gc when node runs with --expose-gc', () => {
    const g = globalThis as { gc?: () => void };
    let calls = 0;
    g.gc = () => {
      calls++;
    };
    try {
      assert.equal(typeof collectStartupGarbage(), 'number');
      assert.equal(calls, 1);
    } finally {
      delete g.gc;
    }
  });

  it('HADES_NODE_FLAGS are node options node accepts', () => {
    for (const f of HADES_NODE_FLAGS) assert.ok(process.allowedNodeEnvironmentFlags.has(f.split('=')[0]), f);
  });
});
