import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseHostPort, UPSTREAM } from '../../common/host-port.js';
import { listFor, Upstream, UpstreamList } from './upstream.js';

describe('listFor', () => {
  const stubs = new Map([
    ['example.', 'example'],
    ['corp.example.', 'corp'],
    ['lab.corp.example.', 'lab'],
    ['a\\.b.example.', 'escaped'],
  ]);
  const cases: [string, string][] = [
    ['example.', 'example'],
    ['www.example.', 'example'],
    ['corp.example.', 'corp'],
    ['www.corp.example.', 'corp'],
    ['x.lab.corp.example.', 'lab'], // the longest zone wins
    ['xcorp.example.', 'example'], // label boundaries only
    ['lab.xcorp.example.', 'example'],
    ['a\\.b.example.', 'escaped'],
    ['x.a\\.b.example.', 'escaped'],
    ['b.example.', 'example'],
    ['a\\.corp.example.', 'example'], // `a\.corp` is one label (`\.` is no boundary)
    ['x\\.lab.corp.example.', 'corp'],
    ['a\\\\.corp.example.', 'corp'], // `a\\` (an escaped backslash), then a boundary
    ['example.net.', 'default'],
    ['com.', 'default'],
    ['.', 'default'],
  ];
  for (const [qname, want] of cases) {
    it(`${qname} → ${want}`, () => assert.equal(listFor(stubs, 'default', qname), want));
  }
  it('no stubs: the default list', () => {
    assert.equal(listFor(new Map<string, string>(), 'default', 'www.corp.example.'), 'default');
  });
});

describe('UpstreamList', () => {
  const ups = ['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((a) => new Upstream(parseHostPort(a, UPSTREAM)));
  const list = new UpstreamList(ups);

  it('start rotates by one per query, wrapping', () => {
    const fresh = new UpstreamList(ups);
    assert.deepEqual([fresh.start(), fresh.start(), fresh.start(), fresh.start()], [0, 1, 2, 0]);
  });

  // [down indexes, cursor, picked index, cursor after, allDown]
  const cases: [number[], number, number, number, boolean][] = [
    [[], 0, 0, 1, false],
    [[], 2, 2, 3, false],
    [[], 3, 0, 1, false], // the cursor cycles
    [[0], 0, 1, 2, false], // down ones are skipped
    [[1, 2], 1, 0, 1, false],
    [[0, 1, 2], 1, 1, 2, true], // all down: the one at the cursor anyway (fail-open)
    [[0, 1, 2], 4, 1, 2, true],
  ];
  for (const [down, pos, want, after, allDown] of cases) {
    it(`pick: down ${JSON.stringify(down)} from ${pos} → ${want}`, () => {
      ups.forEach((u, i) => {
        u.down = down.includes(i);
      });
      const cursor = { pos, allDown: !allDown };
      assert.equal(list.pick(cursor), ups[want]);
      assert.deepEqual(cursor, { pos: after, allDown });
    });
  }
});
