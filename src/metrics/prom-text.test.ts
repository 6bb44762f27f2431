/** The Prometheus text reader of GET /v1/dns-metrics: table-driven, good and bad input. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type PromSample, PromTextError, parsePromText, sumBy, sumOf } from './prom-text.js';

const s = (name: string, value: number, labels: Record<string, string> = {}): PromSample => ({
  name,
  labels,
  value,
});

const GOOD: { what: string; text: string; samples: PromSample[]; types?: [string, string][] }[] = [
  { what: 'empty', text: '', samples: [] },
  { what: 'blank lines and comments', text: '\n  \n# just a comment\n#\n', samples: [] },
  { what: 'bare sample', text: 'up 1\n', samples: [s('up', 1)] },
  { what: 'no final newline', text: 'up 1', samples: [s('up', 1)] },
  { what: 'CRLF', text: 'up 1\r\nx 2\r\n', samples: [s('up', 1), s('x', 2)] },
  {
    what: 'HELP and TYPE',
    text: '# HELP a_total Requests.\n# TYPE a_total counter\na_total 3\n',
    samples: [s('a_total', 3)],
    types: [['a_total', 'counter']],
  },
  {
    what: 'labels',
    text: 'r{protocol="udp",rcode="NOERROR"} 10\n',
    samples: [s('r', 10, { protocol: 'udp', rcode: 'NOERROR' })],
  },
  { what: 'trailing comma in labels', text: 'r{a="1",} 1\n', samples: [s('r', 1, { a: '1' })] },
  { what: 'empty label set', text: 'r{} 1\n', samples: [s('r', 1)] },
  { what: 'spaces in labels', text: 'r{ a = "1" , b="2" } 1\n', samples: [s('r', 1, { a: '1', b: '2' })] },
  {
    what: 'escapes in a label value',
    text: 'r{path="C:\\\\x",q="say \\"hi\\"",nl="a\\nb"} 1\n',
    samples: [s('r', 1, { path: 'C:\\x', q: 'say "hi"', nl: 'a\nb' })],
  },
  {
    what: 'braces, commas and = inside a value',
    text: 'r{le="{a=1,b}"} 2\n',
    samples: [s('r', 2, { le: '{a=1,b}' })],
  },
  { what: 'timestamp dropped', text: 'up 1 1700000000000\n', samples: [s('up', 1)] },
  { what: 'negative timestamp', text: 'up 1 -5\n', samples: [s('up', 1)] },
  {
    what: 'special floats',
    text: 'a +Inf\nb -Inf\nc 1e3\nd -0.5\ne .5\nf 2.5E-1\n',
    samples: [
      s('a', Number.POSITIVE_INFINITY),
      s('b', Number.NEGATIVE_INFINITY),
      s('c', 1000),
      s('d', -0.5),
      s('e', 0.5),
      s('f', 0.25),
    ],
  },
  {
    what: 'histogram series',
    text: '# TYPE d histogram\nd_bucket{le="0.1"} 1\nd_bucket{le="+Inf"} 4\nd_sum 0.7\nd_count 4\n',
    samples: [
      s('d_bucket', 1, { le: '0.1' }),
      s('d_bucket', 4, { le: '+Inf' }),
      s('d_sum', 0.7),
      s('d_count', 4),
    ],
    types: [['d', 'histogram']],
  },
  {
    what: 'untyped family without TYPE',
    text: 'coredns_x{a="b"} 7\n',
    samples: [s('coredns_x', 7, { a: 'b' })],
  },
  { what: 'tab separated', text: 'up\t1\n', samples: [s('up', 1)] },
  { what: 'colon in the name', text: 'job:rate5m 2\n', samples: [s('job:rate5m', 2)] },
];

for (const c of GOOD)
  test(`parses: ${c.what}`, () => {
    const p = parsePromText(c.text);
    assert.deepEqual(p.samples, c.samples);
    if (c.types) assert.deepEqual([...p.types], c.types);
  });

test('parses: NaN', () => {
  assert.ok(Number.isNaN(parsePromText('x NaN\n').samples[0].value));
});

const BAD: { what: string; text: string; line: number; message: RegExp }[] = [
  { what: 'no value', text: 'up\n', line: 1, message: /value expected/ },
  { what: 'value not a number', text: 'up one\n', line: 1, message: /not a number/ },
  { what: 'hex value', text: 'up 0x10\n', line: 1, message: /not a number/ },
  { what: 'bad name', text: '9up 1\n', line: 1, message: /metric name/ },
  { what: 'unquoted label value', text: 'r{a=1} 1\n', line: 1, message: /quoted/ },
  { what: 'unterminated label value', text: 'r{a="1} 1\n', line: 1, message: /unterminated/ },
  { what: 'missing =', text: 'r{a"1"} 1\n', line: 1, message: /"=" expected/ },
  { what: 'bad escape', text: 'r{a="\\t"} 1\n', line: 1, message: /bad escape/ },
  { what: 'duplicate label', text: 'r{a="1",a="2"} 1\n', line: 1, message: /twice/ },
  { what: 'junk after the labels', text: 'r{a="1"}x 1\n', line: 1, message: /whitespace/ },
  { what: 'missing comma', text: 'r{a="1" b="2"} 1\n', line: 1, message: /"," or "}"/ },
  { what: 'bad timestamp', text: 'up 1 soon\n', line: 1, message: /timestamp/ },
  { what: 'three fields', text: 'up 1 2 3\n', line: 1, message: /after the value/ },
  { what: 'unknown TYPE', text: '# TYPE x meter\n', line: 1, message: /unknown type/ },
  { what: 'error on the right line', text: 'a 1\nb 2\nc\n', line: 3, message: /value expected/ },
  {
    what: 'HTML instead of metrics',
    text: '<html><body>nope</body></html>\n',
    line: 1,
    message: /metric name/,
  },
];

for (const c of BAD)
  test(`rejects: ${c.what}`, () => {
    assert.throws(
      () => parsePromText(c.text),
      (e: unknown) => e instanceof PromTextError && e.line === c.line && c.message.test(e.message),
    );
  });

test('sumOf and sumBy', () => {
  const p = parsePromText(
    [
      'hades_responses_total{protocol="udp",rcode="NOERROR"} 5',
      'hades_responses_total{protocol="tcp",rcode="NOERROR"} 2',
      'hades_responses_total{protocol="udp",rcode="NXDOMAIN"} 1',
      'hades_requests_total{protocol="udp",type="A"} 6',
    ].join('\n'),
  );
  assert.equal(sumOf(p, 'hades_responses_total'), 8);
  assert.equal(sumOf(p, 'hades_responses_total', { protocol: 'udp' }), 6);
  assert.equal(sumOf(p, 'hades_cache_hits_total'), undefined);
  assert.deepEqual(sumBy(p, 'hades_responses_total', 'rcode'), { NOERROR: 7, NXDOMAIN: 1 });
});
