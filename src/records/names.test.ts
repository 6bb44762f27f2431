import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asciiLower, canonicalName, isInZone, NameError, parseName, splitLabels } from './names.js';
import { forAll, randomName } from './test-gen.js';

const l63 = 'a'.repeat(63);
const l64 = 'a'.repeat(64);
const name253 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`; // 253 chars, 255 wire
const name254 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`; // 254 chars, 256 wire

describe('parseName', () => {
  const ok: [string, string][] = [
    ['cctv1.user.hades.local', 'cctv1.user.hades.local.'],
    ['cctv1.user.hades.local.', 'cctv1.user.hades.local.'],
    ['CCTV1.User.Hades.LOCAL', 'cctv1.user.hades.local.'],
    ['.', '.'],
    ['a', 'a.'],
    ['0', '0.'],
    ['1a-b2.x', '1a-b2.x.'],
    ['xn--bcher-kva.example', 'xn--bcher-kva.example.'],
    ['_http._tcp.web.hades.local', '_http._tcp.web.hades.local.'],
    ['_a_.b', '_a_.b.'],
    ['*.hades.local', '*.hades.local.'],
    ['a.*.hades.local.', 'a.*.hades.local.'],
    [`${l63}.x`, `${l63}.x.`],
    [name253, `${name253}.`],
    [`${name253}.`, `${name253}.`],
  ];
  for (const [input, want] of ok) {
    it(`accepts ${JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)}`, () => {
      assert.equal(parseName(input), want);
    });
  }

  const bad: [string, string, RegExp][] = [
    ['empty', '', /empty/],
    ['empty label in the middle', 'a..b', /empty label/],
    ['leading dot', '.a', /empty label/],
    ['double trailing dot', 'a..', /empty label/],
    ['only dots', '..', /empty label/],
    ['64-octet label', `${l64}.x`, /longer than 63/],
    ['256 wire octets', name254, /256 octets long, more than 255/],
    ['leading hyphen', '-a.b', /hyphen/],
    ['trailing hyphen', 'a-.b', /hyphen/],
    ['space', 'a b.c', /character outside/],
    ['slash', 'a/b.c', /character outside/],
    ['backslash escape', 'a\\.b.c', /character outside/],
    ['non-ASCII', 'bücher.example', /character outside/],
    ['Kelvin sign is not folded into k', '\u212A.example', /character outside/],
    ['dotless I is not folded', '\u0130.example', /character outside/],
    ['partial wildcard', 'a*.example', /character outside/],
    ['wildcard with more', '**.example', /character outside/],
    ['at sign', 'user@example.com', /character outside/],
  ];
  for (const [what, input, re] of bad) {
    it(`rejects ${what}`, () => {
      assert.throws(
        () => parseName(input),
        (e: unknown) => e instanceof NameError && e.code === 'EBADNAME' && re.test(e.message),
      );
    });
  }

  it('counts the limit in wire octets, not characters', () => {
    // 127 one-character labels: 253 characters, 127*2 + 1 = 255 wire octets: allowed.
    const max = Array.from({ length: 127 }, () => 'a').join('.');
    assert.equal(max.length, 253);
    assert.equal(parseName(max), `${max}.`);
    assert.throws(() => parseName(`a.${max}`), /more than 255/);
  });

  it('is idempotent and canonical on random valid names', () => {
    forAll(randomName, (n) => {
      const c = parseName(n);
      assert.equal(parseName(c), c);
      assert.equal(c, c.toLowerCase());
      assert.ok(c.endsWith('.'));
      assert.equal(c, canonicalName(n));
    });
  });
});

describe('canonicalName / splitLabels / asciiLower / isInZone', () => {
  it('canonicalName', () => {
    assert.equal(canonicalName('Foo.Hades.Local'), 'foo.hades.local.');
    assert.equal(canonicalName('foo.'), 'foo.');
    assert.equal(canonicalName('.'), '.');
    assert.equal(canonicalName(''), '.');
  });
  it('asciiLower folds only A-Z', () => {
    assert.equal(asciiLower('AbC-Ä-\u212A'), 'abc-Ä-\u212A');
    assert.equal(asciiLower('abc'), 'abc');
  });
  it('splitLabels', () => {
    const cases: [string, string[]][] = [
      ['a.b.', ['a', 'b']],
      ['a.b', ['a', 'b']],
      ['.', []],
      ['', []],
      ['*.a.', ['*', 'a']],
    ];
    for (const [n, want] of cases) assert.deepEqual(splitLabels(n), want, n);
  });
  it('isInZone', () => {
    const cases: [string, string, boolean][] = [
      ['hades.local.', 'hades.local.', true],
      ['a.hades.local.', 'hades.local.', true],
      ['a.b.hades.local.', 'hades.local.', true],
      ['xhades.local.', 'hades.local.', false],
      ['local.', 'hades.local.', false],
      ['anything.', '.', true],
      ['.', '.', true],
      ['hades.local.', 'local.', true],
    ];
    for (const [n, z, want] of cases) assert.equal(isInZone(n, z), want, `${n} in ${z}`);
  });
});
