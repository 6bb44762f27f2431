/** TrustedProxies: which client X-Forwarded-For names, from which peers (nginx's real_ip_recursive). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TrustedProxies } from './forwarded.js';

const proxies = (list: string[]): TrustedProxies => {
  const p = TrustedProxies.parse(list);
  assert.ok(typeof p !== 'string', String(p));
  return p;
};

describe('TrustedProxies.clientOf', () => {
  const trusted = proxies(['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);
  const cases: [string, TrustedProxies, string, string | string[] | undefined, string][] = [
    ['no trusted proxies: XFF ignored', TrustedProxies.NONE, '10.1.1.1', '203.0.113.5', '10.1.1.1'],
    ['untrusted peer: XFF ignored', trusted, '198.51.100.1', '203.0.113.5', '198.51.100.1'],
    ['untrusted peer on a dual-stack socket', trusted, '::ffff:198.51.100.1', '203.0.113.5', '198.51.100.1'],
    ['trusted peer, no XFF: the peer', trusted, '10.1.1.1', undefined, '10.1.1.1'],
    ['trusted peer: the one address', trusted, '10.1.1.1', '203.0.113.5', '203.0.113.5'],
    ['trusted (mapped) peer', trusted, '::ffff:10.1.1.1', '203.0.113.5', '203.0.113.5'],
    ['bare address trusted', trusted, '192.0.2.7', '203.0.113.5', '203.0.113.5'],
    [
      'right-most untrusted: a forged left part is skipped',
      trusted,
      '10.1.1.1',
      '1.2.3.4, 203.0.113.5, 10.9.9.9',
      '203.0.113.5',
    ],
    ['every hop trusted: the left-most', trusted, '10.1.1.1', '10.2.2.2, 192.0.2.7', '10.2.2.2'],
    [
      'not an address stops the walk: the last trusted hop',
      trusted,
      '10.1.1.1',
      'unknown, 10.2.2.2',
      '10.2.2.2',
    ],
    ['garbage at the right: the peer', trusted, '10.1.1.1', '203.0.113.5, junk', '10.1.1.1'],
    ['several headers joined', trusted, '10.1.1.1', ['1.2.3.4', '203.0.113.9'], '203.0.113.9'],
    ['IPv6 proxy and client, canonical', trusted, 'fd00::1', '2001:DB8:0:0::1', '2001:db8::1'],
    ['IPv6 peer not trusted', trusted, 'fe80::1', '203.0.113.5', 'fe80::1'],
    ['spaces around entries', trusted, '10.1.1.1', '  203.0.113.5  ,10.0.0.2 ', '203.0.113.5'],
  ];
  for (const [what, p, peer, xff, want] of cases)
    it(what, () => {
      assert.equal(p.clientOf(peer, xff), want);
    });

  it('parse: bare addresses become /32 and /128, a bad entry is named', () => {
    assert.deepEqual(proxies(['192.0.2.7', '::1', '10.1.2.3/8']).list, [
      '192.0.2.7/32',
      '::1/128',
      '10.0.0.0/8',
    ]);
    assert.match(String(TrustedProxies.parse(['10.0.0.0/8', 'nope'])), /"nope" is not an address or CIDR/);
    assert.equal(TrustedProxies.parse([]), TrustedProxies.NONE);
  });

  it('trusts: prefix lengths that are not whole octets', () => {
    const p = proxies(['10.64.0.0/10', '2001:db8:8000::/33']);
    assert.equal(p.trusts('10.127.255.255'), true);
    assert.equal(p.trusts('10.128.0.0'), false);
    assert.equal(p.trusts('2001:db8:ffff::1'), true);
    assert.equal(p.trusts('2001:db8:7fff::1'), false);
    assert.equal(proxies(['0.0.0.0/0']).trusts('8.8.8.8'), true);
    assert.equal(proxies(['0.0.0.0/0']).trusts('::1'), false);
  });
});
