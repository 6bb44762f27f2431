import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HealthState, Record } from '../records/types.js';
import { AnswerContext, targetStrip } from './answer-context.js';
import { makeSelectors } from './select.js';
import { Zones } from './zones.js';

function rec(target: string, hostKind: Record['hostKind'] = 'ipv4', extra: Partial<Record> = {}): Record {
  return { key: `/k/${target}`, name: `${target}.`, hostKind, target, modRevision: 1, ...extra };
}

function context(health: { [ip: string]: HealthState } = {}, drained: string[] = []): AnswerContext {
  return new AnswerContext({
    source: {
      lookup: () => 0,
      has: () => false,
      health: (ip) => health[ip],
      drained: (ip) => drained.includes(ip),
      revision: 7,
    },
    zones: new Zones(['hades.local.']),
    defaultTtl: 3600,
    minTtl: 30,
    policy: 'all',
    allDown: 'open',
    selectors: makeSelectors(),
  });
}

describe('targetStrip (CoreDNS semantics)', () => {
  const cases: [string, number | undefined, string][] = [
    ['a.b.c.hades.local.', undefined, 'a.b.c.hades.local.'],
    ['a.b.c.hades.local.', 0, 'a.b.c.hades.local.'],
    ['a.b.c.hades.local.', 1, 'b.c.hades.local.'],
    ['a.b.c.hades.local.', 3, 'hades.local.'],
    ['a.b.c.hades.local.', 4, 'local.'],
    ['a.b.c.hades.local.', 5, 'a.b.c.hades.local.'],
    ['a.b.c.hades.local.', 99, 'a.b.c.hades.local.'],
    ['.', 1, '.'],
  ];
  for (const [name, k, want] of cases)
    it(`${name} strip ${k} → ${want}`, () => assert.equal(targetStrip(name, k), want));
});

describe('AnswerContext', () => {
  it('ttl: positive ttl, else the default (0 is absent)', () => {
    const ctx = context();
    assert.equal(ctx.ttl(rec('10.0.0.1', 'ipv4', { ttl: 5 })), 5);
    assert.equal(ctx.ttl(rec('10.0.0.1', 'ipv4', { ttl: 0 })), 3600);
    assert.equal(ctx.ttl(rec('10.0.0.1')), 3600);
  });

  it('collectAddresses: the asked kind, repeated addresses once, small and big sets alike', () => {
    const ctx = context();
    for (const size of [5, 100]) {
      const src: Record[] = [];
      for (let i = 0; i < size; i++)
        src.push(rec(`10.0.0.${i % 3}`), rec(`2001:db8::${i % 2}`, 'ipv6'), rec('x.', 'name'));
      const out: Record[] = [];
      assert.equal(ctx.collectAddresses(src, src.length, 'ipv4', out), 3);
      assert.equal(ctx.collectAddresses(src, src.length, 'ipv6', out), 2);
      assert.equal(ctx.collectAddresses(src, src.length, 'addr', out), 5);
    }
  });

  it('healthFilter: DOWN out, names kept, all DOWN → all (counted)', () => {
    const ctx = context({ '10.0.0.1': 'DOWN', '10.0.0.2': 'UP', '10.0.0.3': 'DOWN', '10.0.0.4': 'DOWN' });
    const a = [rec('10.0.0.1'), rec('x.', 'name'), rec('10.0.0.2'), rec('10.0.0.9')];
    assert.equal(ctx.healthFilter(a, 4), 3);
    assert.deepEqual(
      a.slice(0, 3).map((r) => r.target),
      ['x.', '10.0.0.2', '10.0.0.9'],
    );
    const b = [rec('10.0.0.3'), rec('x.', 'name'), rec('10.0.0.4')];
    assert.equal(ctx.healthFilter(b, 3), 3);
    assert.equal(ctx.stats.failOpen, 1);
    assert.equal(ctx.healthFilter([rec('x.', 'name')], 1), 1);
    assert.equal(ctx.stats.failOpen, 1);
  });

  it('healthFilter with drains: drained out always, fail-open among the rest, all drained → none', () => {
    // [case, health, drained, candidates, kept, fail-open counted]
    const cases: [string, { [ip: string]: HealthState }, string[], string[], string[], number][] = [
      [
        'drained UP out',
        { '10.0.0.1': 'UP', '10.0.0.2': 'UP' },
        ['10.0.0.1'],
        ['10.0.0.1', '10.0.0.2'],
        ['10.0.0.2'],
        0,
      ],
      ['drained unmonitored out', {}, ['10.0.0.1'], ['10.0.0.1', '10.0.0.2'], ['10.0.0.2'], 0],
      [
        'others DOWN: fail-open serves them, not the drained one',
        { '10.0.0.1': 'UP', '10.0.0.2': 'DOWN', '10.0.0.3': 'DOWN' },
        ['10.0.0.1'],
        ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
        ['10.0.0.2', '10.0.0.3'],
        1,
      ],
      [
        'drained DOWN and one UP: the UP one',
        { '10.0.0.1': 'DOWN', '10.0.0.2': 'UP', '10.0.0.3': 'DOWN' },
        ['10.0.0.1'],
        ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
        ['10.0.0.2'],
        0,
      ],
      [
        'all drained: none',
        { '10.0.0.2': 'DOWN' },
        ['10.0.0.1', '10.0.0.2'],
        ['10.0.0.1', '10.0.0.2'],
        [],
        0,
      ],
      ['all drained, a name kept', {}, ['10.0.0.1'], ['10.0.0.1', 'x.'], ['x.'], 0],
    ];
    for (const [what, health, drained, cands, kept, failOpen] of cases) {
      const ctx = context(health, drained);
      const arr = cands.map((t) => rec(t, t.endsWith('.') ? 'name' : 'ipv4'));
      const k = ctx.healthFilter(arr, arr.length);
      assert.deepEqual(
        arr.slice(0, k).map((r) => r.target),
        kept,
        what,
      );
      assert.equal(ctx.stats.failOpen, failOpen, `${what}: fail-open count`);
    }
  });

  it('healthFilter closed: all DOWN → no address (closedDown, counted), drains and names as open', () => {
    // [case, health, drained, candidates, kept, closedDown]
    const cases: [string, { [ip: string]: HealthState }, string[], string[], string[], boolean][] = [
      ['all DOWN: none', { '10.0.0.1': 'DOWN', '10.0.0.2': 'DOWN' }, [], ['10.0.0.1', '10.0.0.2'], [], true],
      [
        'some DOWN: the others, as open',
        { '10.0.0.1': 'DOWN', '10.0.0.2': 'UP' },
        [],
        ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
        ['10.0.0.2', '10.0.0.3'],
        false,
      ],
      [
        'all drained: none, not all down',
        { '10.0.0.2': 'DOWN' },
        ['10.0.0.1', '10.0.0.2'],
        ['10.0.0.1', '10.0.0.2'],
        [],
        false,
      ],
      [
        'drained + the rest DOWN: none',
        { '10.0.0.1': 'UP', '10.0.0.2': 'DOWN', '10.0.0.3': 'DOWN' },
        ['10.0.0.1'],
        ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
        [],
        true,
      ],
      ['all DOWN, a name kept', { '10.0.0.1': 'DOWN' }, [], ['10.0.0.1', 'x.'], ['x.'], true],
      ['no address at all', {}, [], ['x.'], ['x.'], false],
    ];
    for (const [what, health, drained, cands, kept, closedDown] of cases) {
      for (const counted of [true, false]) {
        const ctx = context(health, drained);
        const arr = cands.map((t) => rec(t, t.endsWith('.') ? 'name' : 'ipv4'));
        const k = counted ? ctx.healthFilter(arr, arr.length, true) : ctx.keepHealthy(arr, arr.length, true);
        assert.deepEqual(
          arr.slice(0, k).map((r) => r.target),
          kept,
          what,
        );
        assert.equal(ctx.closedDown, closedDown, `${what}: closedDown`);
        assert.equal(ctx.failedOpen, false, `${what}: never fail-open`);
        assert.equal(ctx.stats.allDownClosed, counted && closedDown ? 1 : 0, `${what}: counted`);
        assert.equal(ctx.stats.failOpen, 0, `${what}: fail-open count`);
        // the same set open: closedDown never set, fail-open when all down
        const open = cands.map((t) => rec(t, t.endsWith('.') ? 'name' : 'ipv4'));
        ctx.keepHealthy(open, open.length);
        assert.equal(ctx.closedDown, false, `${what}: open`);
        assert.equal(ctx.failedOpen, closedDown, `${what}: open fails open`);
      }
    }
  });
});
