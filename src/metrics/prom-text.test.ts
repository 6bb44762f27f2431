/**
 * The Prometheus text reader of GET /v1/dns-metrics and of the tests' scrapes: table-driven, good
 * and bad input, HELP, the one-series lookup, the strict exporter checks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type PromSample,
  PromTextError,
  parsePromText,
  seriesValue,
  strictErrors,
  sumBy,
  sumOf,
} from './prom-text.js';

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
  {
    what: 'escaped quote and backslash, +Inf',
    text: '# HELP a x\n# TYPE a gauge\na{l="q\\"\\\\"} +Inf\n',
    samples: [s('a', Number.POSITIVE_INFINITY, { l: 'q"\\' })],
    types: [['a', 'gauge']],
  },
];

for (const c of GOOD)
  test(`parses: ${c.what}`, () => {
    const p = parsePromText(c.text);
    assert.deepEqual(p.samples, c.samples);
    if (c.types) assert.deepEqual([...p.types], c.types);
  });

const SPECIAL: { text: string; value: number }[] = [
  { text: 'NaN', value: Number.NaN },
  { text: 'Nan', value: Number.NaN }, // prom-client's NaN (e.g. the event loop lag before a sample)
  { text: 'nan', value: Number.NaN },
  { text: 'Inf', value: Number.POSITIVE_INFINITY },
  { text: 'inf', value: Number.POSITIVE_INFINITY },
  { text: '+inf', value: Number.POSITIVE_INFINITY },
  { text: '-INF', value: Number.NEGATIVE_INFINITY },
  { text: 'Infinity', value: Number.POSITIVE_INFINITY },
  { text: '-infinity', value: Number.NEGATIVE_INFINITY },
];

for (const c of SPECIAL)
  test(`parses: the value ${c.text}`, () => {
    assert.deepEqual(parsePromText(`x ${c.text}\n`).samples, [s('x', c.value)]);
  });

const BAD: { what: string; text: string; line: number; message: RegExp }[] = [
  { what: 'no value', text: 'up\n', line: 1, message: /value expected/ },
  { what: 'value not a number', text: 'up one\n', line: 1, message: /not a number/ },
  { what: 'hex value', text: 'up 0x10\n', line: 1, message: /not a number/ },
  { what: 'signed NaN', text: 'up -NaN\n', line: 1, message: /not a number/ },
  { what: 'a prefix of Infinity', text: 'up Infin\n', line: 1, message: /not a number/ },
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

const HELP: { what: string; text: string; help: [string, string][] }[] = [
  { what: 'none', text: 'up 1\n', help: [] },
  { what: 'plain', text: '# HELP up Whether it is up.\nup 1\n', help: [['up', 'Whether it is up.']] },
  { what: 'empty', text: '# HELP up\n', help: [['up', '']] },
  { what: 'escapes', text: '# HELP up a\\\\b\\nc "d"\n', help: [['up', 'a\\b\nc "d"']] },
  {
    what: 'with TYPE, any order',
    text: '# TYPE b gauge\n# HELP b B.\n# HELP a A.\n# TYPE a counter\n',
    help: [
      ['b', 'B.'],
      ['a', 'A.'],
    ],
  },
];

for (const c of HELP)
  test(`HELP: ${c.what}`, () => {
    assert.deepEqual([...parsePromText(c.text).help], c.help);
  });

const EXPOSITION = [
  '# TYPE hades_ready gauge',
  'hades_ready 1',
  'hades_requests_total{protocol="udp",type="A"} 5',
  'hades_requests_total{protocol="udp",type="AAAA"} 2',
  'hades_requests_total{protocol="tcp",type="A"} 1',
  'd_bucket{le="+Inf"} 4',
  'd_count 4',
  'd_count{upstream="x"} 3',
].join('\n');

const VALUES: { what: string; name: string; labels?: Record<string, string>; value: number | undefined }[] = [
  { what: 'no labels', name: 'hades_ready', value: 1 },
  { what: 'all labels', name: 'hades_requests_total', labels: { protocol: 'udp', type: 'AAAA' }, value: 2 },
  {
    what: 'label order does not matter',
    name: 'hades_requests_total',
    labels: { type: 'A', protocol: 'tcp' },
    value: 1,
  },
  {
    what: 'fewer labels: not that series',
    name: 'hades_requests_total',
    labels: { protocol: 'tcp' },
    value: undefined,
  },
  { what: 'no labels given, all series labelled', name: 'hades_requests_total', value: undefined },
  { what: 'more labels: not that series', name: 'hades_ready', labels: { a: 'b' }, value: undefined },
  {
    what: 'a label value differs',
    name: 'hades_requests_total',
    labels: { protocol: 'udp', type: 'MX' },
    value: undefined,
  },
  { what: 'no such name', name: 'hades_cache_hits_total', value: undefined },
  { what: 'the unlabelled one of two', name: 'd_count', value: 4 },
  { what: 'the labelled one of two', name: 'd_count', labels: { upstream: 'x' }, value: 3 },
  { what: 'le as text', name: 'd_bucket', labels: { le: '+Inf' }, value: 4 },
];

for (const c of VALUES)
  test(`seriesValue: ${c.what}`, () => {
    assert.equal(seriesValue(parsePromText(EXPOSITION), c.name, c.labels), c.value);
  });

test('seriesValue: a series given twice throws', () => {
  const p = parsePromText('a{x="1",y="2"} 1\na{y="2",x="1"} 2\n');
  assert.throws(() => seriesValue(p, 'a', { x: '1', y: '2' }), /a\{x="1",y="2"\} given twice/);
  assert.equal(seriesValue(p, 'a', { x: '1' }), undefined);
});

const STRICT: { what: string; text: string; errors: string[] }[] = [
  { what: 'empty', text: '', errors: [] },
  { what: 'declared gauge', text: '# TYPE a gauge\na 1\na{x="1"} 2\n', errors: [] },
  {
    what: 'histogram series',
    text: '# TYPE d histogram\nd_bucket{le="+Inf"} 1\nd_sum 0.5\nd_count 1\n',
    errors: [],
  },
  { what: 'summary series', text: '# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 2\ns_count 3\n', errors: [] },
  { what: 'counter declared without _total', text: '# TYPE c counter\nc_total 1\n', errors: [] },
  { what: 'counter declared with _total', text: '# TYPE c_total counter\nc_total 1\n', errors: [] },
  { what: 'untyped family', text: 'b 1\n', errors: ['b: no # TYPE for its family'] },
  {
    what: 'suffix of the wrong type',
    text: '# TYPE g gauge\ng_bucket{le="1"} 1\ng_count 1\n# TYPE c counter\nc_sum 1\n',
    errors: [
      'g_bucket{le="1"}: no # TYPE for its family',
      'g_count: no # TYPE for its family',
      'c_sum: no # TYPE for its family',
    ],
  },
  { what: 'duplicate series', text: '# TYPE a gauge\na 1\na 2\n', errors: ['a: series given twice'] },
  {
    what: 'duplicate series, labels in another order',
    text: '# TYPE a gauge\na{x="1",y="2"} 1\na{y="2",x="1"} 2\n',
    errors: ['a{x="1",y="2"}: series given twice'],
  },
  {
    what: 'values that differ only by escaping are two series',
    text: '# TYPE a gauge\na{x="a\\nb"} 1\na{x="a\\\\nb"} 2\n',
    errors: [],
  },
];

for (const c of STRICT)
  test(`strictErrors: ${c.what}`, () => {
    assert.deepEqual(strictErrors(parsePromText(c.text)), c.errors);
  });
