import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Zones } from './zones.js';

describe('Zones', () => {
  const zones = new Zones(['Hades.Local', 'user.hades.local.', '10.in-addr.arpa.', 'hades.local.']);

  it('canonicalises, merges duplicates, derives the special names', () => {
    assert.deepEqual(
      zones.list.map((z) => z.name),
      ['user.hades.local.', '10.in-addr.arpa.', 'hades.local.'],
    );
    const z = zones.find('hades.local.')!;
    assert.equal(z.nsName, 'ns.dns.hades.local.');
    assert.equal(z.apexName, 'apex.dns.hades.local.');
    assert.equal(z.hostmaster, 'hostmaster.hades.local.');
  });

  const cases: [string, string | undefined, boolean?][] = [
    ['hades.local.', 'hades.local.'],
    ['a.hades.local.', 'hades.local.'],
    ['user.hades.local.', 'user.hades.local.'],
    ['cctv1.user.hades.local.', 'user.hades.local.'],
    ['xuser.hades.local.', 'hades.local.'],
    ['xhades.local.', undefined],
    ['local.', undefined],
    ['.', undefined],
    ['1.0.0.10.in-addr.arpa.', '10.in-addr.arpa.'],
    ['1.0.0.110.in-addr.arpa.', undefined],
    ['a\\.hades.local.', undefined, true],
    ['a\\\\.hades.local.', 'hades.local.', true],
    ['a\\.b.hades.local.', 'hades.local.', true],
  ];
  for (const [name, want, escaped] of cases) {
    it(`${name} → ${want ?? 'none'}`, () => {
      assert.equal(zones.find(name, escaped ?? false)?.name, want);
    });
  }

  it('the root zone contains everything', () => {
    const root = new Zones(['.', 'hades.local']);
    assert.equal(root.find('www.example.com.')?.name, '.');
    assert.equal(root.find('a.hades.local.')?.name, 'hades.local.');
    assert.equal(root.find('.')?.nsName, 'ns.dns.');
  });

  it('rejects bad zones naming them', () => {
    assert.throws(() => new Zones([]), /at least one zone/);
    assert.throws(() => new Zones(['a..b']), /zone "a\.\.b"/);
    assert.throws(() => new Zones(['*.hades.local']), /wildcard/);
  });
});
