import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalHost, formatHostPort, HostPortError, parseHostPort, UPSTREAM } from './host-port.js';

describe('parseHostPort: an address to listen on (no default port)', () => {
  it('reads ip:port, [ipv6]:port and :port', () => {
    assert.deepEqual(parseHostPort(':53'), { host: '0.0.0.0', port: 53, family: 4 });
    assert.deepEqual(parseHostPort('[::]:53'), { host: '::', port: 53, family: 6 });
    assert.equal(formatHostPort(parseHostPort(' [2001:DB8:0::1]:8053 ')), '[2001:db8::1]:8053');
  });
  const bad: [string, string][] = [
    ['127.0.0.1', 'has no port (want IP:port, e.g. 127.0.0.1:53)'],
    ['localhost:53', 'is not an IP address and port (host names are not accepted)'],
    ['::1:53', 'is not IP:port (write an IPv6 address as [::1]:53)'],
    ['[zz::1]:53', 'is not an IPv6 address in brackets'],
    ['[1.2.3.4]:53', 'is not an IPv6 address in brackets'],
    ['[fe80::1%eth0]:53', 'is not an IP address and port'], // no zone without the option
    ['[::1]53', 'is not [IPv6]:port'],
    ['[::1', 'has no closing ]'],
    ['1.2.3.4:x', 'has a bad port'],
    ['1.2.3.4:0', 'has a port outside 1-65535'],
  ];
  for (const [text, why] of bad) {
    it(`rejects ${JSON.stringify(text)}: ${why}`, () => {
      assert.throws(
        () => parseHostPort(text),
        (e: unknown) => e instanceof HostPortError && e.message === why,
      );
    });
  }
});

describe('parseHostPort: an upstream (UPSTREAM: port 53, zones kept)', () => {
  const ok: [string, string][] = [
    ['8.8.8.8', '8.8.8.8:53'],
    ['8.8.8.8:5353', '8.8.8.8:5353'],
    [' 127.0.0.53 ', '127.0.0.53:53'],
    ['::1', '[::1]:53'],
    ['[::1]:5300', '[::1]:5300'],
    ['[2001:DB8:0:0::1]', '[2001:db8::1]:53'],
    ['2001:db8:0:0:0:0:0:1', '[2001:db8::1]:53'],
    ['fe80::1%eth0', '[fe80::1%eth0]:53'],
    ['[FE80::1%eth0]:5353', '[fe80::1%eth0]:5353'],
  ];
  for (const [text, want] of ok) {
    it(`reads ${JSON.stringify(text)}`, () =>
      assert.equal(formatHostPort(parseHostPort(text, UPSTREAM)), want));
  }
  const bad: [string, RegExp][] = [
    ['', /is not an IP address/],
    [':53', /is not an IP address/],
    ['dns.google', /^is not an IP address \(want ip, ip:port or \[ipv6\]:port\)$/],
    ['1.2.3.256', /is not an IP address/],
    ['1.2.3.4%eth0', /is not an IP address/],
    ['fe80::1%', /is not an IP address/],
    ['1.2.3.4:65536', /port outside/],
    ['[1.2.3.4]:53', /not an IPv6 address in brackets/],
  ];
  for (const [text, re] of bad) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseHostPort(text, UPSTREAM),
        (e: unknown) => e instanceof HostPortError && re.test(e.message),
      );
    });
  }
});

it('canonicalHost: RFC 5952, IPv4-mapped in mixed notation, the zone as written', () => {
  assert.deepEqual(canonicalHost('10.0.0.1'), { host: '10.0.0.1', family: 4 });
  assert.deepEqual(canonicalHost('::FFFF:7F00:1'), { host: '::ffff:127.0.0.1', family: 6 });
  assert.deepEqual(canonicalHost('FE80:0::1%Eth0'), { host: 'fe80::1%Eth0', family: 6 });
  assert.equal(canonicalHost('010.0.0.1'), undefined);
  assert.equal(canonicalHost('localhost'), undefined);
});
