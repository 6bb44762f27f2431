import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTsigSpec, TsigSpecError } from './tsig-key.js';

const SECRET = 'c2VjcmV0LWtleS1mb3ItaGFkZXMtdHNpZy10ZXN0cyE='; // "secret-key-for-hades-tsig-tests!"

describe('parseTsigSpec', () => {
  it('name:algorithm:secret', () => {
    const k = parseTsigSpec(`Xfr.Example:HMAC-SHA512:${SECRET}`);
    assert.equal(k.name, 'xfr.example.');
    assert.equal(k.algorithm, 'hmac-sha512');
    assert.equal(k.secret.toString(), 'secret-key-for-hades-tsig-tests!');
  });
  const bad: [string, TsigSpecError['part'], RegExp][] = [
    [`${SECRET}`, 'format', /1 ':'-separated parts, want name:algorithm:secret/],
    [`a:b:c:${SECRET}`, 'format', /4 ':'-separated parts/],
    [`:hmac-sha256:${SECRET}`, 'name', /name is empty/],
    [`a..b:hmac-sha256:${SECRET}`, 'name', /name "a\.\.b" is not a domain name/],
    [`${'x'.repeat(64)}:hmac-sha256:${SECRET}`, 'name', /is not a domain name/],
    [`key:hmac-sha3:${SECRET}`, 'algorithm', /algorithm "hmac-sha3" is not one of hmac-md5/],
    [`hmac-sha256:key:${SECRET}`, 'algorithm', /the name comes first/],
    ['key:hmac-sha256:', 'secret', /secret is not base64/],
    [`key:hmac-sha256:${SECRET.slice(1)}`, 'secret', /secret is not base64/],
    [`key:hmac-sha256:${SECRET}!`, 'secret', /secret is not base64/],
  ];
  for (const [spec, part, re] of bad) {
    it(`${part}: ${re.source}`, () => {
      assert.throws(
        () => parseTsigSpec(spec),
        (e: unknown) => {
          assert.ok(e instanceof TsigSpecError);
          assert.equal(e.part, part);
          assert.match(e.message, re);
          const secret = spec.split(':').at(-1) ?? '';
          if (secret.length > 4)
            assert.ok(!e.message.includes(secret.slice(0, 8)), 'the secret in the message');
          return true;
        },
      );
    });
  }
});
