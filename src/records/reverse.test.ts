import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordError } from './errors.js';
import { formatIPv6 } from './ip.js';
import { nameToKey } from './keys.js';
import { parseName } from './names.js';
import { ipFromReverseName, reverseName } from './reverse.js';
import { forAll, randomIPv4, randomIPv6Bytes, variantIPv6 } from './test-gen.js';

describe('reverseName', () => {
  const cases: [string, string][] = [
    ['192.0.2.1', '1.2.0.192.in-addr.arpa.'],
    ['10.0.0.255', '255.0.0.10.in-addr.arpa.'],
    ['0.0.0.0', '0.0.0.0.in-addr.arpa.'],
    ['2001:db8::567:89ab', 'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.'],
    ['::1', `1.${'0.'.repeat(31)}ip6.arpa.`],
    ['::', `${'0.'.repeat(32)}ip6.arpa.`],
    ['::ffff:1.2.3.4', `4.0.3.0.2.0.1.0.f.f.f.f.${'0.'.repeat(20)}ip6.arpa.`],
  ];
  for (const [ip, name] of cases) {
    it(`${ip} ↔ ${name.slice(0, 40)}`, () => {
      assert.equal(reverseName(ip), name);
      assert.equal(ipFromReverseName(name), ip);
      assert.equal(parseName(name), name);
    });
  }

  it('PTR keys sit under the reversed in-addr.arpa name (docs/data-model.md)', () => {
    assert.equal(nameToKey(reverseName('192.168.10.3')), '/hades/arpa/in-addr/192/168/10/3');
  });

  it('rejects non-addresses naming the field', () => {
    for (const bad of ['', 'host', '1.2.3.256', 'fe80::1%eth0'])
      assert.throws(
        () => reverseName(bad),
        (e: unknown) => e instanceof RecordError && e.field === 'ip',
      );
  });

  it('ipFromReverseName: case, dot, and what is not a full address', () => {
    const cases: [string, string | undefined][] = [
      ['1.2.0.192.IN-ADDR.ARPA', '192.0.2.1'],
      ['1.2.0.192.in-addr.arpa.', '192.0.2.1'],
      ['2.0.192.in-addr.arpa.', undefined],
      ['5.1.2.0.192.in-addr.arpa.', undefined],
      ['01.2.0.192.in-addr.arpa.', undefined],
      ['256.2.0.192.in-addr.arpa.', undefined],
      ['0/25.2.0.192.in-addr.arpa.', undefined],
      ['in-addr.arpa.', undefined],
      [`${'0.'.repeat(31)}ip6.arpa.`, undefined],
      [`${'0.'.repeat(31)}F.IP6.ARPA`, 'f000::'],
      [`${'0.'.repeat(31)}g.ip6.arpa.`, undefined],
      [`${'0.'.repeat(30)}00.ip6.arpa.`, undefined],
      ['example.com.', undefined],
      ['', undefined],
    ];
    for (const [n, want] of cases) assert.equal(ipFromReverseName(n), want, n);
  });

  it('random IPv4 → reverseName → ip is identity', () => {
    forAll(randomIPv4, (ip) => assert.equal(ipFromReverseName(reverseName(ip)), ip));
  });

  it('random IPv6 (any text form) → reverseName → canonical ip', () => {
    forAll(
      (r) => {
        const b = randomIPv6Bytes(r);
        return { canonical: formatIPv6(b), text: variantIPv6(r, b) };
      },
      ({ canonical, text }) => {
        const n = reverseName(text);
        assert.equal(n, reverseName(canonical));
        assert.equal(ipFromReverseName(n), canonical);
      },
    );
  });
});
