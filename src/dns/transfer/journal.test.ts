import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Journal } from './journal.js';

const entry = (from: number, to: number, n = 1) => ({
  from,
  to,
  deleted: Array.from({ length: n }, (_, i) => [`d${i}.z.`, 'k']).flat(),
  added: [],
});

describe('Journal', () => {
  // entries 10→12, 15→16, 16→20: nothing changed from 12 to 15
  const j = new Journal(1000, 1000);
  j.add(entry(10, 12));
  j.add(entry(15, 16));
  j.add(entry(16, 20));
  const cases: [number, string][] = [
    [9, 'none: older than the journal'],
    [10, '12,16,20'],
    [11, '12,16,20'],
    [12, '16,20'],
    [14, '16,20'],
    [15, '16,20'],
    [16, '20'],
    [19, '20'],
    [20, ''],
    [25, ''],
  ];
  for (const [serial, want] of cases)
    it(`since(${serial}) → ${want || 'nothing to send'}`, () => {
      const got = j.since(serial);
      assert.equal(got === undefined ? 'none: older than the journal' : got.map((e) => e.to).join(), want);
    });

  it('drops the oldest entries beyond the record bound, never the newest', () => {
    const k = new Journal(5, 100);
    k.add(entry(1, 2, 3));
    k.add(entry(2, 3, 3));
    assert.equal(k.length, 1);
    assert.equal(k.oldest, 2);
    assert.equal(k.since(1), undefined);
    k.add(entry(3, 4, 10));
    assert.equal(k.length, 1, 'one entry over the bound is kept alone');
    assert.equal(k.oldest, 3);
  });

  it('drops the oldest entries beyond the entry bound', () => {
    const k = new Journal(1000, 2);
    for (let i = 0; i < 5; i++) k.add(entry(i, i + 1));
    assert.equal(k.length, 2);
    assert.equal(k.oldest, 3);
  });
});
