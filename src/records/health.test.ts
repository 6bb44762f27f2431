import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordError } from './errors.js';
import {
  DEFAULT_MONITOR_PATH,
  healthKey,
  ipFromHealthKey,
  normalizeMonitorPath,
  parseHealthStatus,
  serializeHealthStatus,
} from './health.js';
import { forAll, randomIPv4, randomIPv6Bytes, variantIPv6 } from './test-gen.js';
import type { HealthStatus } from './types.js';

describe('monitor path and keys', () => {
  it('normalizeMonitorPath', () => {
    const cases: [string, string][] = [
      ['/hades/monitor/status/', '/hades/monitor/status/'],
      ['/hades/monitor/status', '/hades/monitor/status/'],
      ['hades/monitor/status', '/hades/monitor/status/'],
      ['/hades/monitor/status//', '/hades/monitor/status/'],
      ['/', '/'],
      ['', '/'],
    ];
    for (const [p, want] of cases) assert.equal(normalizeMonitorPath(p), want, p);
    assert.equal(DEFAULT_MONITOR_PATH, '/hades/monitor/status/');
  });

  it('healthKey: both spellings of the path, canonical IP', () => {
    assert.equal(healthKey('/hades/monitor/status/', '192.168.10.3'), '/hades/monitor/status/192.168.10.3');
    assert.equal(healthKey('/hades/monitor/status', '192.168.10.3'), '/hades/monitor/status/192.168.10.3');
    assert.equal(healthKey('/hades/monitor/status', '2001:DB8:0::1'), '/hades/monitor/status/2001:db8::1');
  });

  it('healthKey rejects non-addresses (field ip)', () => {
    for (const bad of ['', 'host.example', '1.2.3', 'fe80::1%eth0'])
      assert.throws(
        () => healthKey(DEFAULT_MONITOR_PATH, bad),
        (e: unknown) => e instanceof RecordError && e.field === 'ip',
      );
  });

  it('ipFromHealthKey', () => {
    const cases: [path: string, key: string, want: string | undefined][] = [
      ['/hades/monitor/status/', '/hades/monitor/status/192.168.10.3', '192.168.10.3'],
      ['/hades/monitor/status', '/hades/monitor/status/192.168.10.3', '192.168.10.3'],
      ['/hades/monitor/status', '/hades/monitor/status/2001:0db8::0001', '2001:db8::1'],
      ['/hades/monitor/status', '/hades/monitor/status/010.0.0.1', '10.0.0.1'],
      ['/hades/monitor/status', '/hades/monitor/statusx/10.0.0.1', undefined],
      ['/hades/monitor/status', '/hades/monitor/status/', undefined],
      ['/hades/monitor/status', '/hades/monitor/status/a/10.0.0.1', undefined],
      ['/hades/monitor/status', '/hades/monitor/status/not-an-ip', undefined],
      ['/hades/monitor/status', '/hades/monitor/report/10.0.0.1', undefined],
    ];
    for (const [p, k, want] of cases) assert.equal(ipFromHealthKey(p, k), want, k);
  });

  it('random IPs: healthKey → ipFromHealthKey gives the canonical IP', () => {
    forAll(
      (r) => {
        if (r.bool()) {
          const ip = randomIPv4(r);
          return {
            ip,
            canonical: ip,
            path: r.pick(['/hades/monitor/status', '/hades/monitor/status/', 'x']),
          };
        }
        const b = randomIPv6Bytes(r);
        const canonical = healthKey('/', variantIPv6(r, b)).slice(1);
        return { ip: variantIPv6(r, b), canonical, path: r.pick(['/hades/monitor/status', '/m/']) };
      },
      ({ ip, canonical, path }) => {
        const key = healthKey(path, ip);
        assert.equal(ipFromHealthKey(path, key), canonical);
        assert.equal(key, healthKey(path, canonical));
      },
    );
  });
});

describe('parseHealthStatus', () => {
  const ok: [string, HealthStatus][] = [
    ['{"status":"UP","ports":["80"]}', { status: 'UP', ports: ['80'] }],
    ['{"status":"DOWN"}', { status: 'DOWN' }],
    ['{"status":"up"}', { status: 'UP' }],
    ['{"Status":"Down","Ports":["22","80"]}', { status: 'DOWN', ports: ['22', '80'] }],
    ['{"status":"UP","ports":[80,8080]}', { status: 'UP', ports: ['80', '8080'] }],
    ['{"status":"UP","ports":"80"}', { status: 'UP' }],
    ['{"status":"UP","ports":[{"p":80}]}', { status: 'UP' }],
    [
      '{"status":"UP","ports":["80"],"scanner":"hostname1","checked":1700000000}',
      { status: 'UP', ports: ['80'], scanner: 'hostname1', checked: 1700000000 },
    ],
  ];
  for (const [json, want] of ok) it(`accepts ${json}`, () => assert.deepEqual(parseHealthStatus(json), want));

  const bad: [string, string][] = [
    ['{"status":"MAYBE"}', 'status'],
    ['{"status":1}', 'status'],
    ['{"ports":["80"]}', 'status'],
    ['{}', 'status'],
    ['nope', ''],
    ['["UP"]', ''],
    ['null', ''],
    ['"UP"', ''],
  ];
  for (const [json, field] of bad) {
    it(`rejects ${json} (field ${JSON.stringify(field)})`, () => {
      assert.throws(
        () => parseHealthStatus(json),
        (e: unknown) =>
          e instanceof RecordError &&
          e.code === 'EBADRECORD' &&
          e.field === field &&
          (field === '' || e.message.includes(`"${field}"`)),
      );
    });
  }

  it('keeps a __proto__ extra as data, not as the prototype', () => {
    const h = parseHealthStatus('{"status":"UP","__proto__":{"polluted":true}}');
    assert.equal(Object.getPrototypeOf(h), Object.prototype);
    assert.deepEqual(Object.keys(h), ['status', '__proto__']);
    assert.equal(serializeHealthStatus(h), '{"status":"UP","__proto__":{"polluted":true}}');
  });
});

describe('serializeHealthStatus', () => {
  it('status, ports, then extras in order', () => {
    assert.equal(serializeHealthStatus({ status: 'UP', ports: ['80'] }), '{"status":"UP","ports":["80"]}');
    assert.equal(serializeHealthStatus({ status: 'DOWN' }), '{"status":"DOWN"}');
    assert.equal(
      serializeHealthStatus({ x: 1, ports: ['22'], status: 'UP', y: undefined }),
      '{"status":"UP","ports":["22"],"x":1}',
    );
  });

  it('round-trips through parse', () => {
    for (const json of [
      '{"status":"UP","ports":["80"]}',
      '{"status":"DOWN","ports":[],"by":"s1"}',
      '{"status":"UP"}',
    ])
      assert.equal(serializeHealthStatus(parseHealthStatus(json)), json);
  });
});
