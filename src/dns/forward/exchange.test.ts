import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RandomIds, sameSource } from './exchange.js';

describe('sameSource', () => {
  // [datagram source as node reports it, the upstream's canonical host, accepted]
  const cases: [string, string, boolean][] = [
    ['127.0.0.1', '127.0.0.1', true],
    ['127.0.0.2', '127.0.0.1', false],
    ['10.0.0.1', '10.0.0.10', false],
    ['::1', '::1', true],
    ['0:0:0:0:0:0:0:1', '::1', true], // canonical form compared
    ['2001:DB8::1', '2001:db8::1', true],
    ['2001:db8::2', '2001:db8::1', false],
    ['fe80::1%eth0', 'fe80::1%eth0', true],
    ['FE80::1%eth0', 'fe80::1%eth0', true],
    ['fe80::1%2', 'fe80::1%eth0', true], // the scope by index or by name: the kernel checked it
    ['fe80::1', 'fe80::1%eth0', true],
    ['fe80::2%eth0', 'fe80::1%eth0', false],
    ['::ffff:127.0.0.1', '127.0.0.1', false], // a udp4 socket never reports a mapped address
    ['::1', '127.0.0.1', false],
    ['', '127.0.0.1', false],
    ['localhost', '127.0.0.1', false],
  ];
  for (const [address, host, want] of cases) {
    it(`${JSON.stringify(address)} from ${host}: ${want}`, () =>
      assert.equal(sameSource(address, host), want));
  }
});

describe('RandomIds', () => {
  it('gives 16-bit IDs past a refill of its buffer, not all alike', () => {
    const ids = new RandomIds();
    const seen = new Set<number>();
    for (let i = 0; i < 1500; i++) {
      const id = ids.next();
      assert.ok(Number.isInteger(id) && id >= 0 && id <= 0xffff, `id ${id}`);
      seen.add(id);
    }
    // 1500 draws from 65536 values: a stuck or unrefilled buffer would give a handful
    assert.ok(seen.size > 1000, `${seen.size} distinct`);
  });
});
