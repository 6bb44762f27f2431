import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalIP,
  formatIPv6,
  parseIP,
  parseIPv4Into,
  parseIPv4Lenient,
  parseIPv6,
  parseIPv6Into,
} from './ip.js';
import { forAll, randomIPv6Bytes, variantIPv6 } from './test-gen.js';

describe('canonicalIP', () => {
  const cases: [string, string | undefined][] = [
    ['192.168.19.113', '192.168.19.113'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['256.1.1.1', undefined],
    ['01.1.1.1', undefined],
    ['1.2.3', undefined],
    [' 1.2.3.4', undefined],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins
    ['0:0:0:0:0:0:0:0', '::'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::FFFF:c000:0201', '::ffff:192.0.2.1'],
    ['::192.0.2.1', '::c000:201'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['fe80::1%eth0', undefined],
    ['[::1]', undefined],
    ['1::2::3', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['host.example', undefined],
    ['', undefined],
  ];
  for (const [input, want] of cases)
    it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(canonicalIP(input), want));

  it('kinds and bytes', () => {
    assert.deepEqual(parseIP('10.0.0.1'), {
      kind: 'ipv4',
      bytes: Uint8Array.from([10, 0, 0, 1]),
      text: '10.0.0.1',
    });
    const p = parseIP('::ffff:1.2.3.4');
    assert.equal(p?.kind, 'ipv6');
    assert.deepEqual([...(p?.bytes ?? [])], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4]);
  });

  it('lenient IPv4 reads leading zeros as decimal (Go before 1.17)', () => {
    assert.deepEqual([...(parseIPv4Lenient('010.001.1.009') ?? [])], [10, 1, 1, 9]);
    assert.equal(parseIPv4Lenient('256.1.1.1'), undefined);
    assert.equal(parseIPv4Lenient('0010.1.1.1'), undefined);
    assert.equal(parseIPv4Lenient('1.1.1'), undefined);
  });

  it('random IPv6: any text form → the same bytes and the same canonical text', () => {
    forAll(
      (r) => {
        const b = randomIPv6Bytes(r);
        return { hex: Buffer.from(b).toString('hex'), text: variantIPv6(r, b) };
      },
      ({ hex, text }) => {
        const b = parseIPv6(text);
        assert.ok(b, 'parses');
        assert.equal(Buffer.from(b).toString('hex'), hex);
        const c = formatIPv6(b);
        assert.equal(canonicalIP(text), c);
        assert.equal(canonicalIP(c), c);
        assert.deepEqual(parseIPv6(c), b);
      },
    );
  });

  it('random IPv6: canonical text agrees with the WHATWG URL serialiser (RFC 5952) outside ::ffff:0:0/96', () => {
    forAll(randomIPv6Bytes, (b) => {
      const c = formatIPv6(b);
      if (c.startsWith('::ffff:') && c.includes('.')) return;
      assert.equal(new URL(`http://[${c}]/`).hostname, `[${c}]`);
    });
  });
});

describe('parseIPv4Into, parseIPv6Into, formatIPv6 (the allocation-free forms)', () => {
  const v4: [string, string | null][] = [
    ['0.0.0.0', '00000000'],
    ['192.168.10.1', 'c0a80a01'],
    ['255.255.255.255', 'ffffffff'],
    ['256.1.1.1', null],
    ['1.2.3', null],
    ['1.2.3.4.5', null],
    ['01.2.3.4', null],
    ['1..2.3', null],
    ['1.2.3.', null],
    ['a.b.c.d', null],
    ['', null],
  ];
  for (const [s, hex] of v4) {
    it(`IPv4 ${JSON.stringify(s)}`, () => {
      const b = Buffer.alloc(4);
      assert.equal(parseIPv4Into(s, b, 0), hex !== null);
      if (hex) assert.equal(b.toString('hex'), hex);
    });
  }
  const v6: [string, string | null][] = [
    ['::', '0'.repeat(32)],
    ['::1', `${'0'.repeat(30)}01`],
    ['1::', `0001${'0'.repeat(28)}`],
    ['2001:db8::42', '20010db8000000000000000000000042'],
    ['2001:DB8:0:0:1:0:0:1', '20010db8000000000001000000000001'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
    ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
    ['1:2:3:4:5:6:7:8:9', null],
    ['1::2::3', null],
    [':1', null],
    ['1:', null],
    ['1:::2', null],
    ['12345::', null],
    ['g::', null],
    ['::1.2.3', null],
    ['1:2:3:4:5:6:7:1.2.3.4', null],
    ['fe80::1%eth0', null],
    [':', null],
    ['', null],
  ];
  for (const [s, hex] of v6) {
    it(`IPv6 ${JSON.stringify(s)}`, () => {
      const b = Buffer.alloc(16);
      assert.equal(parseIPv6Into(s, b, 0), hex !== null);
      if (hex) assert.equal(b.toString('hex'), hex);
    });
  }
  const fmt: [string, string][] = [
    ['20010db8000000000000000000000001', '2001:db8::1'],
    ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['20010db8000100010001000100010001', '2001:db8:1:1:1:1:1:1'],
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['00000000000000000000000000000000', '::'],
    ['00010000000000000000000000000000', '1::'],
  ];
  for (const [hex, s] of fmt) {
    it(`RFC 5952 text ${s}`, () => assert.equal(formatIPv6(Buffer.from(hex, 'hex'), 0), s));
  }
});
