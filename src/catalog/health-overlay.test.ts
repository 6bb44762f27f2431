import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HealthOverlay } from './health-overlay.js';

describe('HealthOverlay', () => {
  it('drain: its own change moves the generation, a same rewrite does not, delete forgets it', () => {
    const o = new HealthOverlay();
    assert.equal(o.drained('10.0.0.1'), false);
    assert.equal(o.set('10.0.0.1', 'UP'), true);
    let g = o.generation;
    assert.equal(o.set('10.0.0.1', 'UP', false), false, 'same state, same drain');
    assert.equal(o.generation, g);
    assert.equal(o.set('10.0.0.1', 'UP', true), true, 'drained');
    assert.ok(o.generation > g);
    assert.equal(o.drained('10.0.0.1'), true);
    assert.equal(o.drainedCount, 1);
    g = o.generation;
    assert.equal(o.set('10.0.0.1', 'DOWN', true), true, 'a scanner write that keeps admin');
    assert.equal(o.drained('10.0.0.1'), true);
    assert.equal(o.health('10.0.0.1'), 'DOWN');
    assert.ok(o.generation > g);
    const seen: [string, string, boolean][] = [];
    o.forEach((state, ip, drained) => {
      seen.push([ip, state, drained]);
    });
    assert.deepEqual(seen, [['10.0.0.1', 'DOWN', true]]);
    assert.equal(o.delete('10.0.0.1'), true);
    assert.equal(o.drained('10.0.0.1'), false);
    assert.equal(o.drainedCount, 0);
    assert.equal(o.set('10.0.0.1', 'UP'), true);
    assert.equal(o.drained('10.0.0.1'), false, 'a new status without admin is not drained');
  });
});
