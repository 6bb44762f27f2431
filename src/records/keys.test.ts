import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_PREFIX, keyToName, nameToKey, normalizePrefix } from './keys.js';
import { parseName } from './names.js';
import { forAll, randomName } from './test-gen.js';

describe('normalizePrefix', () => {
  const cases: [string, string][] = [
    ['/hades', '/hades'],
    ['/hades/', '/hades'],
    ['hades', '/hades'],
    ['hades//', '/hades'],
    ['/skydns', '/skydns'],
    ['/a/b/c/', '/a/b/c'],
    ['/', '/'],
    ['', '/'],
  ];
  for (const [input, want] of cases)
    it(JSON.stringify(input), () => assert.equal(normalizePrefix(input), want));
});

describe('nameToKey / keyToName', () => {
  assert.equal(DEFAULT_PREFIX, '/hades');
  const cases: [name: string, prefix: string | undefined, key: string][] = [
    ['cctv1.user.hades.local.', undefined, '/hades/local/hades/user/cctv1'],
    ['qiyf-nginx-5.default.svc.hades.local.', undefined, '/hades/local/hades/svc/default/qiyf-nginx-5'],
    ['_http._tcp.web.hades.local.', undefined, '/hades/local/hades/web/_tcp/_http'],
    ['*.user.hades.local.', undefined, '/hades/local/hades/user/*'],
    ['4.3.2.1.in-addr.arpa.', undefined, '/hades/arpa/in-addr/1/2/3/4'],
    ['.', undefined, '/hades'],
    ['web.skydns.local.', '/skydns', '/skydns/local/skydns/web'],
    ['web.skydns.local.', '/skydns/', '/skydns/local/skydns/web'],
    ['web.skydns.local.', 'skydns', '/skydns/local/skydns/web'],
    ['a.example.', '/coredns/dev/', '/coredns/dev/example/a'],
    ['a.example.', '/', '/example/a'],
    ['a.example.', '', '/example/a'],
    ['.', '/', '/'],
  ];
  for (const [name, prefix, key] of cases) {
    it(`${name} under ${JSON.stringify(prefix ?? '(default)')} ↔ ${key}`, () => {
      assert.equal(nameToKey(name, prefix), key);
      assert.equal(keyToName(key, prefix), name);
    });
  }

  it('nameToKey folds case and takes relative names', () => {
    assert.equal(nameToKey('CCTV1.User.Hades.Local'), '/hades/local/hades/user/cctv1');
  });

  it('keyToName: case, leaf labels, empty segments, other prefixes', () => {
    const cases: [key: string, prefix: string, want: string | undefined][] = [
      ['/hades/local/hades/user/cctv1/4af19cb2', '/hades', '4af19cb2.cctv1.user.hades.local.'],
      ['/hades/local/hades/User/CCTV1', '/hades', 'cctv1.user.hades.local.'],
      ['/hades/local/hades/user/cctv1/', '/hades', 'cctv1.user.hades.local.'],
      ['/hades/local//hades/user', '/hades', 'user.hades.local.'],
      ['/hades/', '/hades', '.'],
      ['/hades', '/hades/', '.'],
      ['/hadesx/local', '/hades', undefined],
      ['/hades2/local', '/hades', undefined],
      ['/skydns/local', '/hades', undefined],
      ['hades/local', '/hades', undefined],
      ['/local/hades', '/', 'hades.local.'],
      ['/x/y', '/x/y', '.'],
    ];
    for (const [key, prefix, want] of cases) assert.equal(keyToName(key, prefix), want, `${key} @ ${prefix}`);
  });

  const prefixes = ['/hades', '/hades/', 'skydns', '/coredns/a/b/', '/', '/Mixed/Case'];
  it('random valid names → key → name is the canonical name, for every prefix', () => {
    forAll(
      (r) => ({ name: randomName(r), prefix: r.pick(prefixes) }),
      ({ name, prefix }) => {
        const key = nameToKey(name, prefix);
        assert.equal(keyToName(key, prefix), parseName(name));
        assert.ok(key.startsWith(normalizePrefix(prefix)));
        // the prefix is kept as given (etcd keys are case-sensitive); the rest is lower case
        assert.equal(
          key.slice(normalizePrefix(prefix).length),
          key.slice(normalizePrefix(prefix).length).toLowerCase(),
        );
      },
    );
  });

  it('random keys of valid names → name → key is the key', () => {
    forAll(
      (r) => ({ key: nameToKey(randomName(r), '/hades') }),
      ({ key }) => assert.equal(nameToKey(keyToName(key)!), key),
    );
  });
});
