import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordError } from './errors.js';
import {
  DEFAULT_EXPECT_STATUS,
  describeProbe,
  MAX_PROBE_BODY,
  type Probe,
  type ProbeHandler,
  parseProbe,
  parseStatusRanges,
  statusMatches,
} from './probe.js';

const HTTP_DEFAULTS = {
  kind: 'httpGet',
  path: '/',
  host: undefined,
  scheme: 'HTTP',
  httpHeaders: [],
  expectStatus: [{ from: 200, to: 399 }],
  expectBody: undefined,
  insecureSkipVerify: false,
} as const;

const NO_TIMING = {
  timeoutSeconds: undefined,
  periodSeconds: undefined,
  successThreshold: undefined,
  failureThreshold: undefined,
  initialDelaySeconds: undefined,
};

describe('parseProbe: valid probes', () => {
  const cases: [name: string, input: unknown, want: Probe][] = [
    [
      'httpGet with only a port: the defaults',
      { httpGet: { port: 8080 } },
      { handler: { ...HTTP_DEFAULTS, port: 8080 }, ...NO_TIMING },
    ],
    [
      'httpGet with every field',
      {
        httpGet: {
          path: '/healthz?full=1',
          port: '8443',
          host: 'api.example.com',
          scheme: 'HTTPS',
          httpHeaders: [
            { name: 'X-Probe', value: 'hades' },
            { name: 'Authorization', value: 'Bearer a b' },
          ],
          expectStatus: '200,204,300-399',
          expectBody: 'ok',
          insecureSkipVerify: true,
        },
        timeoutSeconds: 2,
        periodSeconds: 5,
        successThreshold: 1,
        failureThreshold: 3,
        initialDelaySeconds: 0,
        terminationGracePeriodSeconds: 30,
      },
      {
        handler: {
          kind: 'httpGet',
          path: '/healthz?full=1',
          port: 8443,
          host: 'api.example.com',
          scheme: 'HTTPS',
          httpHeaders: [
            { name: 'X-Probe', value: 'hades' },
            { name: 'Authorization', value: 'Bearer a b' },
          ],
          expectStatus: [
            { from: 200, to: 200 },
            { from: 204, to: 204 },
            { from: 300, to: 399 },
          ],
          expectBody: 'ok',
          insecureSkipVerify: true,
        },
        timeoutSeconds: 2,
        periodSeconds: 5,
        successThreshold: 1,
        failureThreshold: 3,
        initialDelaySeconds: 0,
      },
    ],
    [
      'httpGet host as an IPv4 address',
      { httpGet: { port: 80, host: '10.0.0.1' } },
      { handler: { ...HTTP_DEFAULTS, port: 80, host: '10.0.0.1' }, ...NO_TIMING },
    ],
    [
      'httpGet host as an IPv6 address',
      { httpGet: { port: 80, host: 'fd00::1' } },
      { handler: { ...HTTP_DEFAULTS, port: 80, host: 'fd00::1' }, ...NO_TIMING },
    ],
    [
      'httpGet expectStatus as a number, a header without value',
      { httpGet: { port: 80, expectStatus: 204, httpHeaders: [{ name: 'X-Empty' }] } },
      {
        handler: {
          ...HTTP_DEFAULTS,
          port: 80,
          expectStatus: [{ from: 204, to: 204 }],
          httpHeaders: [{ name: 'X-Empty', value: '' }],
        },
        ...NO_TIMING,
      },
    ],
    ['tcpSocket', { tcpSocket: { port: 22 } }, { handler: { kind: 'tcpSocket', port: 22 }, ...NO_TIMING }],
    [
      'grpc without a service: the server as a whole',
      { grpc: { port: 50051 } },
      { handler: { kind: 'grpc', port: 50051, service: '' }, ...NO_TIMING },
    ],
    [
      'grpc with a service',
      { grpc: { port: 50051, service: 'hades.v1.Api' }, timeoutSeconds: 86400 },
      {
        handler: { kind: 'grpc', port: 50051, service: 'hades.v1.Api' },
        ...NO_TIMING,
        timeoutSeconds: 86400,
      },
    ],
    ['icmp', { icmp: {} }, { handler: { kind: 'icmp' }, ...NO_TIMING }],
    [
      'ports 1 and 65535',
      { tcpSocket: { port: 65535 } },
      { handler: { kind: 'tcpSocket', port: 65535 }, ...NO_TIMING },
    ],
    ['port 1', { tcpSocket: { port: 1 } }, { handler: { kind: 'tcpSocket', port: 1 }, ...NO_TIMING }],
  ];
  for (const [name, input, want] of cases)
    it(name, () => {
      assert.deepEqual(parseProbe(input), want);
    });

  it('an expectBody of exactly the limit', () => {
    const body = 'x'.repeat(MAX_PROBE_BODY);
    const p = parseProbe({ httpGet: { port: 80, expectBody: body } });
    assert.equal(p.handler.kind === 'httpGet' && p.handler.expectBody, body);
  });

  it('the default expectStatus is Kubernetes’ 200-399', () => {
    assert.equal(DEFAULT_EXPECT_STATUS, '200-399');
  });
});

describe('parseProbe: each bad field is named by its path', () => {
  const ALL = [
    'probe',
    'probe.foo',
    'probe.exec',
    'probe.httpGet',
    'probe.httpGet.port',
    'probe.httpGet.path',
    'probe.httpGet.host',
    'probe.httpGet.scheme',
    'probe.httpGet.httpHeaders',
    'probe.httpGet.httpHeaders[0]',
    'probe.httpGet.httpHeaders[1].name',
    'probe.httpGet.httpHeaders[0].value',
    'probe.httpGet.httpHeaders[0].other',
    'probe.httpGet.expectStatus',
    'probe.httpGet.expectBody',
    'probe.httpGet.insecureSkipVerify',
    'probe.httpGet.unknown',
    'probe.tcpSocket',
    'probe.tcpSocket.port',
    'probe.tcpSocket.host',
    'probe.grpc.port',
    'probe.grpc.service',
    'probe.grpc.extra',
    'probe.icmp',
    'probe.icmp.count',
    'probe.timeoutSeconds',
    'probe.periodSeconds',
    'probe.successThreshold',
    'probe.failureThreshold',
    'probe.initialDelaySeconds',
    'probe.terminationGracePeriodSeconds',
  ];
  const h = (httpGet: object): unknown => ({ httpGet: { port: 80, ...httpGet } });
  const cases: [name: string, input: unknown, field: string][] = [
    ['not an object', 'httpGet', 'probe'],
    ['null', null, 'probe'],
    ['an array', [], 'probe'],
    ['no handler', { timeoutSeconds: 1 }, 'probe'],
    ['two handlers', { httpGet: { port: 80 }, tcpSocket: { port: 80 } }, 'probe'],
    ['an unknown field', { icmp: {}, foo: 1 }, 'probe.foo'],
    ['exec', { exec: { command: ['true'] } }, 'probe.exec'],
    ['httpGet null', { httpGet: null }, 'probe.httpGet'],
    ['httpGet no port', { httpGet: {} }, 'probe.httpGet.port'],
    ['httpGet port 0', h({ port: 0 }), 'probe.httpGet.port'],
    ['httpGet port 65536', h({ port: 65536 }), 'probe.httpGet.port'],
    ['httpGet port 80.5', h({ port: 80.5 }), 'probe.httpGet.port'],
    ['httpGet named port', h({ port: 'http' }), 'probe.httpGet.port'],
    ['httpGet port "-1"', h({ port: '-1' }), 'probe.httpGet.port'],
    ['httpGet path without /', h({ path: 'healthz' }), 'probe.httpGet.path'],
    ['httpGet path with a space', h({ path: '/a b' }), 'probe.httpGet.path'],
    ['httpGet path with CRLF', h({ path: '/a\r\nX: y' }), 'probe.httpGet.path'],
    ['httpGet path not a string', h({ path: 1 }), 'probe.httpGet.path'],
    ['httpGet host with a port', h({ host: 'example.com:8080' }), 'probe.httpGet.host'],
    ['httpGet host in brackets', h({ host: '[::1]' }), 'probe.httpGet.host'],
    ['httpGet host with a space', h({ host: 'a b' }), 'probe.httpGet.host'],
    ['httpGet host empty', h({ host: '' }), 'probe.httpGet.host'],
    ['httpGet host with a trailing dot', h({ host: 'example.com.' }), 'probe.httpGet.host'],
    ['httpGet host with an empty label', h({ host: 'a..b' }), 'probe.httpGet.host'],
    ['httpGet host label too long', h({ host: `${'a'.repeat(64)}.com` }), 'probe.httpGet.host'],
    ['httpGet host not a string', h({ host: 1 }), 'probe.httpGet.host'],
    ['httpGet scheme lower case', h({ scheme: 'https' }), 'probe.httpGet.scheme'],
    ['httpGet scheme other', h({ scheme: 'FTP' }), 'probe.httpGet.scheme'],
    ['httpGet httpHeaders not a list', h({ httpHeaders: { name: 'a' } }), 'probe.httpGet.httpHeaders'],
    [
      'httpGet httpHeaders item not an object',
      h({ httpHeaders: ['X-A: b'] }),
      'probe.httpGet.httpHeaders[0]',
    ],
    [
      'httpGet header without a name',
      h({ httpHeaders: [{ name: 'X-A', value: 'b' }, { value: 'c' }] }),
      'probe.httpGet.httpHeaders[1].name',
    ],
    [
      'httpGet header name with a colon',
      h({
        httpHeaders: [
          { name: 'X-A', value: 'b' },
          { name: 'X:A', value: 'c' },
        ],
      }),
      'probe.httpGet.httpHeaders[1].name',
    ],
    [
      'httpGet header value with CRLF',
      h({ httpHeaders: [{ name: 'X-A', value: 'b\r\nHost: evil' }] }),
      'probe.httpGet.httpHeaders[0].value',
    ],
    [
      'httpGet header value not ASCII',
      h({ httpHeaders: [{ name: 'X-A', value: 'é' }] }),
      'probe.httpGet.httpHeaders[0].value',
    ],
    [
      'httpGet header unknown field',
      h({ httpHeaders: [{ name: 'X-A', value: 'b', other: 1 }] }),
      'probe.httpGet.httpHeaders[0].other',
    ],
    ['httpGet expectStatus empty', h({ expectStatus: '' }), 'probe.httpGet.expectStatus'],
    ['httpGet expectStatus 600', h({ expectStatus: '600' }), 'probe.httpGet.expectStatus'],
    ['httpGet expectStatus reversed', h({ expectStatus: '399-200' }), 'probe.httpGet.expectStatus'],
    ['httpGet expectStatus a list', h({ expectStatus: [200] }), 'probe.httpGet.expectStatus'],
    ['httpGet expectBody empty', h({ expectBody: '' }), 'probe.httpGet.expectBody'],
    [
      'httpGet expectBody over the limit',
      h({ expectBody: 'x'.repeat(MAX_PROBE_BODY + 1) }),
      'probe.httpGet.expectBody',
    ],
    ['httpGet expectBody not a string', h({ expectBody: 1 }), 'probe.httpGet.expectBody'],
    [
      'httpGet insecureSkipVerify a string',
      h({ insecureSkipVerify: 'true' }),
      'probe.httpGet.insecureSkipVerify',
    ],
    ['httpGet unknown field', h({ unknown: 1 }), 'probe.httpGet.unknown'],
    ['tcpSocket a number', { tcpSocket: 80 }, 'probe.tcpSocket'],
    ['tcpSocket no port', { tcpSocket: {} }, 'probe.tcpSocket.port'],
    ['tcpSocket host', { tcpSocket: { port: 80, host: 'a' } }, 'probe.tcpSocket.host'],
    ['grpc no port', { grpc: { service: 'a' } }, 'probe.grpc.port'],
    ['grpc service a number', { grpc: { port: 1, service: 1 } }, 'probe.grpc.service'],
    ['grpc unknown field', { grpc: { port: 1, extra: true } }, 'probe.grpc.extra'],
    ['icmp true', { icmp: true }, 'probe.icmp'],
    ['icmp with a field', { icmp: { count: 3 } }, 'probe.icmp.count'],
    ['timeoutSeconds 0', { icmp: {}, timeoutSeconds: 0 }, 'probe.timeoutSeconds'],
    ['timeoutSeconds 1.5', { icmp: {}, timeoutSeconds: 1.5 }, 'probe.timeoutSeconds'],
    ['timeoutSeconds a string', { icmp: {}, timeoutSeconds: '1' }, 'probe.timeoutSeconds'],
    ['periodSeconds over a day', { icmp: {}, periodSeconds: 86401 }, 'probe.periodSeconds'],
    ['successThreshold 0', { icmp: {}, successThreshold: 0 }, 'probe.successThreshold'],
    ['failureThreshold -1', { icmp: {}, failureThreshold: -1 }, 'probe.failureThreshold'],
    ['initialDelaySeconds -1', { icmp: {}, initialDelaySeconds: -1 }, 'probe.initialDelaySeconds'],
    [
      'terminationGracePeriodSeconds a string',
      { icmp: {}, terminationGracePeriodSeconds: 'soon' },
      'probe.terminationGracePeriodSeconds',
    ],
  ];
  for (const [name, input, field] of cases)
    it(`${name} → ${field}`, () => {
      assert.throws(
        () => parseProbe(input),
        (e: unknown) => {
          assert.ok(e instanceof RecordError, String(e));
          assert.equal(e.field, field, e.message);
          // the message names the field too, for whoever reads only the message
          assert.ok(e.message.startsWith(field), e.message);
          return true;
        },
      );
    });

  it('the table covers every field path', () => {
    const seen = new Set(cases.map((c) => c[2]));
    assert.deepEqual(
      ALL.filter((f) => !seen.has(f)),
      [],
    );
  });

  it('paths start at the field given', () => {
    assert.throws(
      () => parseProbe({ grpc: { port: 0 } }, 'records[2].probe'),
      (e: unknown) => e instanceof RecordError && e.field === 'records[2].probe.grpc.port',
    );
  });
});

describe('status ranges', () => {
  it('parseStatusRanges: accepted forms', () => {
    const cases: [input: unknown, want: [number, number][]][] = [
      ['200', [[200, 200]]],
      [200, [[200, 200]]],
      ['200-399', [[200, 399]]],
      [
        '200,204,300-399',
        [
          [200, 200],
          [204, 204],
          [300, 399],
        ],
      ],
      [
        ' 200 , 300 - 301 ',
        [
          [200, 200],
          [300, 301],
        ],
      ],
      ['100-599', [[100, 599]]],
      ['503-503', [[503, 503]]],
    ];
    for (const [input, want] of cases)
      assert.deepEqual(
        parseStatusRanges(input, 'f'),
        want.map(([from, to]) => ({ from, to })),
        String(input),
      );
  });

  it('parseStatusRanges: refused forms name the field', () => {
    for (const bad of [
      '',
      ' ',
      '2xx',
      '99',
      '099',
      '600',
      '200-600',
      '300-200',
      '200,',
      ',200',
      '200,,300',
      '200-',
      '-200',
      '200-300-400',
      '2000',
      '200;300',
      null,
      true,
      [200],
      {},
      200.5,
    ])
      assert.throws(
        () => parseStatusRanges(bad, 'probe.httpGet.expectStatus'),
        (e: unknown) => e instanceof RecordError && e.field === 'probe.httpGet.expectStatus',
        JSON.stringify(bad),
      );
  });

  it('statusMatches', () => {
    const ranges = parseStatusRanges('200,204,300-302', 'f');
    const cases: [number, boolean][] = [
      [199, false],
      [200, true],
      [201, false],
      [204, true],
      [299, false],
      [300, true],
      [301, true],
      [302, true],
      [303, false],
      [503, false],
    ];
    for (const [code, want] of cases) assert.equal(statusMatches(ranges, code), want, String(code));
    assert.equal(statusMatches([], 200), false);
  });
});

describe('describeProbe', () => {
  const http = (o: object): ProbeHandler => parseProbe({ httpGet: o }).handler;
  const cases: [ProbeHandler, string][] = [
    [http({ port: 8443, path: '/healthz', scheme: 'HTTPS' }), 'httpGet HTTPS :8443/healthz'],
    [http({ port: 80, host: 'api.example.com' }), 'httpGet HTTP api.example.com:80/'],
    [http({ port: 80, host: 'fd00::1', path: '/x' }), 'httpGet HTTP [fd00::1]:80/x'],
    [parseProbe({ tcpSocket: { port: 22 } }).handler, 'tcpSocket :22'],
    [parseProbe({ grpc: { port: 50051 } }).handler, 'grpc :50051'],
    [parseProbe({ grpc: { port: 50051, service: 'svc' } }).handler, 'grpc :50051 (svc)'],
    [parseProbe({ icmp: {} }).handler, 'icmp'],
  ];
  for (const [handler, want] of cases)
    it(want, () => {
      assert.equal(describeProbe(handler), want);
    });
});
