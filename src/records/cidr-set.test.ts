import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CidrSet } from './cidr-set.js';

describe('CidrSet', () => {
  const set = CidrSet.parse(['10.1.0.0/16', ' 192.0.2.7 ', '', 'fd00::/8', '10.1.9.9/16']);
  assert.ok(set instanceof CidrSet);

  it('canonical, bare addresses as /32 and /128, repeats kept once', () => {
    assert.deepEqual(set.list, ['10.1.0.0/16', '192.0.2.7/32', 'fd00::/8']);
    assert.equal(CidrSet.parse([' ']), CidrSet.EMPTY);
  });

  const cases: [string, boolean][] = [
    ['10.1.2.3', true],
    ['10.2.0.1', false],
    ['::ffff:10.1.0.1', true],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['fd12::1', true],
    ['fe80::1', false],
    ['not an address', false],
  ];
  for (const [ip, want] of cases) it(`has(${ip}) → ${want}`, () => assert.equal(set.has(ip), want));

  it('the first bad entry, as given, with the reason', () => {
    assert.deepEqual(CidrSet.parse(['10.0.0.0/8', 'nope', '1.2.3.4/99']), {
      entry: 'nope',
      why: 'must be an address and a prefix length, as 10.1.0.0/16',
    });
  });
});
