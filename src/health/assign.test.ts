import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assign, owner, score } from './assign.js';

const addrs = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

function moved(a: Map<string, string>, b: Map<string, string>): string[] {
  return [...a.keys()].filter((k) => a.get(k) !== b.get(k));
}

test('assign: deterministic, every address to one of the scanners, roughly even', () => {
  const ips = addrs(3000);
  const s = ['scan-a', 'scan-b', 'scan-c'];
  const m = assign(ips, s);
  assert.deepEqual(m, assign(ips, [...s].reverse()));
  const counts = new Map<string, number>();
  for (const h of m.values()) counts.set(h, (counts.get(h) ?? 0) + 1);
  assert.deepEqual([...counts.keys()].sort(), s);
  for (const n of counts.values()) assert.ok(n > 800 && n < 1200, `uneven: ${[...counts.values()]}`);
  assert.equal(assign(ips, []).size, 0);
  assert.equal(owner('10.0.0.1', []), undefined);
  assert.equal(typeof score('a', 'b'), 'number');
});

const moves: { name: string; before: string[]; after: string[] }[] = [
  { name: 'a scanner joins', before: ['a', 'b'], after: ['a', 'b', 'c'] },
  { name: 'a scanner leaves', before: ['a', 'b', 'c'], after: ['a', 'c'] },
  { name: 'one of two leaves', before: ['a', 'b'], after: ['b'] },
  { name: 'one replaced by another', before: ['a', 'b', 'c', 'd'], after: ['a', 'b', 'c', 'e'] },
  { name: 'second joins the first', before: ['a'], after: ['a', 'b'] },
];

for (const c of moves) {
  test(`assign: minimal movement when ${c.name}`, () => {
    const ips = addrs(2000);
    const before = assign(ips, c.before);
    const after = assign(ips, c.after);
    const gone = c.before.filter((s) => !c.after.includes(s));
    const joined = c.after.filter((s) => !c.before.includes(s));
    for (const ip of moved(before, after)) {
      // an address moves only away from a scanner that left, or to one that joined
      const from = before.get(ip) as string;
      const to = after.get(ip) as string;
      assert.ok(gone.includes(from) || joined.includes(to), `${ip} moved ${from} -> ${to}`);
    }
    // everything the leavers had moved; joiners took about their share
    for (const ip of ips)
      if (gone.includes(before.get(ip) as string)) assert.notEqual(after.get(ip), before.get(ip));
    const took = moved(before, after).filter((ip) => joined.includes(after.get(ip) as string)).length;
    if (joined.length > 0) {
      const share = (ips.length * joined.length) / c.after.length;
      assert.ok(took > share * 0.8 && took < share * 1.2, `joiners took ${took}, share ${share}`);
    }
  });
}
