import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Health, Hysteresis } from './hysteresis.js';

const cases: { name: string; fall: number; rise: number; initial?: Health; rounds: string; want: string }[] =
  [
    // rounds: p = passed, f = failed; want: the state after each round (. = unchanged from before, U/D = change)
    { name: 'UP stays UP while passing', fall: 3, rise: 2, initial: 'UP', rounds: 'pppp', want: '....' },
    { name: 'DOWN after fall=3 failures', fall: 3, rise: 2, initial: 'UP', rounds: 'ffff', want: '..D.' },
    {
      name: 'a pass resets the failure streak',
      fall: 3,
      rise: 2,
      initial: 'UP',
      rounds: 'ffpfff',
      want: '.....D',
    },
    { name: 'UP after rise=2 passes', fall: 3, rise: 2, initial: 'DOWN', rounds: 'ppp', want: '.U.' },
    {
      name: 'a failure resets the pass streak',
      fall: 3,
      rise: 2,
      initial: 'DOWN',
      rounds: 'pfpp',
      want: '...U',
    },
    {
      name: 'flapping never changes state',
      fall: 3,
      rise: 2,
      initial: 'UP',
      rounds: 'fpfpfpff',
      want: '........',
    },
    {
      name: 'fall=1 rise=1 follows every round',
      fall: 1,
      rise: 1,
      initial: 'UP',
      rounds: 'fpfp',
      want: 'DUDU',
    },
    { name: 'unknown start: first full streak decides (UP)', fall: 3, rise: 2, rounds: 'pp', want: '.U' },
    { name: 'unknown start: first full streak decides (DOWN)', fall: 3, rise: 2, rounds: 'fff', want: '..D' },
    { name: 'DOWN then back UP', fall: 2, rise: 3, initial: 'UP', rounds: 'ffppp', want: '.D..U' },
  ];

for (const c of cases) {
  test(`hysteresis: ${c.name}`, () => {
    const h = new Hysteresis(c.fall, c.rise, c.initial);
    let got = '';
    for (const r of c.rounds) {
      const changed = h.observe(r === 'p');
      got += changed === undefined ? '.' : changed[0];
      if (changed) assert.equal(h.state, changed);
    }
    assert.equal(got, c.want);
  });
}

test('hysteresis: reset sets the state and clears streaks', () => {
  const h = new Hysteresis(2, 2, 'UP');
  h.observe(false);
  h.reset('DOWN');
  assert.equal(h.state, 'DOWN');
  assert.equal(h.observe(true), undefined);
  assert.equal(h.observe(true), 'UP');
  assert.throws(() => new Hysteresis(0, 1), RangeError);
});
