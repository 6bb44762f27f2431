import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlagError, type FlagSpec, HelpRequested, parseDuration, parseFlags, usage } from './flags.js';

const SPECS: FlagSpec[] = [
  { name: 'addr', type: 'string', default: '127.0.0.1:53', help: 'listen address' },
  { name: 'read_timeout', aliases: ['rtimeout'], type: 'duration', default: '2s', help: 'read timeout' },
  { name: 'rcache', type: 'int', default: '0', min: 0, help: 'cache capacity' },
  { name: 'logtostderr', type: 'bool', default: 'false', help: 'log to stderr' },
  { name: 'nameservers', type: 'list', default: '', help: 'upstreams' },
  {
    name: 'select',
    type: 'string',
    default: 'sticky',
    choices: ['sticky', 'random-one', 'all'],
    help: 'policy',
  },
];

describe('parseFlags', () => {
  const cases: {
    name: string;
    argv: string[];
    env?: Record<string, string>;
    want: Record<string, unknown>;
    rest?: string[];
  }[] = [
    {
      name: 'defaults',
      argv: [],
      want: { addr: '127.0.0.1:53', read_timeout: 2000, rcache: 0, logtostderr: false, nameservers: [] },
    },
    { name: 'single dash, separate value', argv: ['-addr', '0.0.0.0:5353'], want: { addr: '0.0.0.0:5353' } },
    { name: 'double dash with =', argv: ['--addr=[::1]:53'], want: { addr: '[::1]:53' } },
    { name: 'alias', argv: ['-rtimeout', '500ms'], want: { read_timeout: 500 } },
    { name: 'compound duration', argv: ['-read_timeout=1m30s'], want: { read_timeout: 90_000 } },
    { name: 'bare bool', argv: ['-logtostderr'], want: { logtostderr: true } },
    { name: 'bool =false', argv: ['--logtostderr=false'], want: { logtostderr: false } },
    {
      name: 'list with commas',
      argv: ['-nameservers', '127.0.0.1:53, 127.0.0.2:53'],
      want: { nameservers: ['127.0.0.1:53', '127.0.0.2:53'] },
    },
    { name: 'env', argv: [], env: { HADES_RCACHE: '100' }, want: { rcache: 100 } },
    { name: 'argv beats env', argv: ['-rcache=5'], env: { HADES_RCACHE: '100' }, want: { rcache: 5 } },
    {
      name: 'stops at positional',
      argv: ['-rcache=5', 'standalone', '-addr', 'x'],
      want: { rcache: 5 },
      rest: ['standalone', '-addr', 'x'],
    },
    { name: 'stops at --', argv: ['--', '-addr'], want: { addr: '127.0.0.1:53' }, rest: ['-addr'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = parseFlags(SPECS, c.argv, c.env ?? {});
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got.values[k], v, k);
      assert.deepEqual(got.positionals, c.rest ?? []);
    });
  }

  const bad: { argv: string[]; env?: Record<string, string>; flag: string; msg: RegExp }[] = [
    { argv: ['-nope'], flag: 'nope', msg: /not defined: -nope/ },
    { argv: ['-addr'], flag: 'addr', msg: /needs an argument/ },
    { argv: ['-rcache', 'ten'], flag: 'rcache', msg: /not an integer/ },
    { argv: ['-rcache=-1'], flag: 'rcache', msg: /below the minimum/ },
    { argv: ['-read_timeout=soon'], flag: 'read_timeout', msg: /not a duration/ },
    { argv: ['-select=first'], flag: 'select', msg: /not one of sticky, random-one, all/ },
    { argv: ['-logtostderr=maybe'], flag: 'logtostderr', msg: /not a boolean/ },
    { argv: [], env: { HADES_RCACHE: 'x' }, flag: 'rcache', msg: /from HADES_RCACHE/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.argv.join(' ') || JSON.stringify(c.env)}`, () => {
      assert.throws(
        () => parseFlags(SPECS, c.argv, c.env ?? {}),
        (err: unknown) => err instanceof FlagError && err.flag === c.flag && c.msg.test(err.message),
      );
    });
  }

  it('-h and --help ask for usage', () => {
    assert.throws(() => parseFlags(SPECS, ['-h'], {}), HelpRequested);
    assert.throws(() => parseFlags(SPECS, ['--help'], {}), HelpRequested);
  });

  it('usage lists every flag with its default and env var', () => {
    const text = usage('hades', SPECS);
    for (const s of SPECS) assert.match(text, new RegExp(`-${s.name}\\b`));
    assert.match(text, /default "127\.0\.0\.1:53"/);
    assert.match(text, /\$HADES_READ_TIMEOUT/);
  });
});

describe('parseDuration', () => {
  const cases: [string, number | undefined][] = [
    ['2s', 2000],
    ['500ms', 500],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['3', 3000],
    ['1.5s', 1500],
    ['', undefined],
    ['s', undefined],
    ['2x', undefined],
    ['2s3', undefined],
  ];
  for (const [text, want] of cases) it(JSON.stringify(text), () => assert.equal(parseDuration(text), want));
});
