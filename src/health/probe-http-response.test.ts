import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_PROBE_BODY } from '../records/probe.js';
import { MAX_HEAD, ResponseReader } from './probe-http-response.js';

interface Outcome {
  status: number;
  headDone: boolean;
  bodyDone: boolean;
  found: boolean;
  reusable: boolean;
  error: string | undefined;
}

/** Reads `parts` (then the end of the connection when `eof`) and says what the reader made of it. */
function read(parts: readonly Buffer[], needle: string | undefined, eof: boolean): Outcome {
  const r = new ResponseReader(needle === undefined ? undefined : Buffer.from(needle));
  for (const p of parts) r.push(p);
  if (eof) r.end();
  return {
    status: r.status,
    headDone: r.headDone,
    bodyDone: r.bodyDone,
    found: r.found,
    reusable: r.reusable,
    error: r.error,
  };
}

const ok = (o: Partial<Outcome>): Outcome => ({
  status: 200,
  headDone: true,
  bodyDone: true,
  found: false,
  reusable: true,
  error: undefined,
  ...o,
});
const bad = (error: string, o: Partial<Outcome> = {}): Outcome => ({
  status: 0,
  headDone: false,
  bodyDone: false,
  found: false,
  reusable: false,
  error,
  ...o,
});

describe('ResponseReader', () => {
  const cases: [name: string, response: string, needle: string | undefined, eof: boolean, want: Outcome][] = [
    ['content-length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 'ok', false, ok({ found: true })],
    [
      'content-length, not found',
      'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfail',
      'ok',
      false,
      ok({ found: false }),
    ],
    ['no reason phrase', 'HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n', undefined, false, ok({ status: 503 })],
    [
      'headers case-insensitive, spaces around values',
      'HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh:   3  \r\n\r\nabc',
      'bc',
      false,
      ok({ found: true }),
    ],
    [
      'chunked, the match across chunks, extensions and trailers',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nall \r\n6\r\nis rea\r\n3\r\ndy!\r\n0\r\nX-T: 1\r\n\r\n',
      'is ready',
      false,
      ok({ found: true }),
    ],
    [
      'chunked, upper-case hex size',
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1A\r\n${'z'.repeat(25)}!\r\n0\r\n\r\n`,
      'z!',
      false,
      ok({ found: true }),
    ],
    [
      'chunked body not finished yet',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n',
      'ok',
      false,
      ok({ found: true, bodyDone: false, reusable: false }),
    ],
    [
      'read to close: done at the end',
      'HTTP/1.1 200 OK\r\n\r\nall ok',
      'ok',
      true,
      ok({ found: true, reusable: false }),
    ],
    [
      'read to close: not done before the end',
      'HTTP/1.1 200 OK\r\n\r\nall ok',
      'ok',
      false,
      ok({ found: true, bodyDone: false, reusable: false }),
    ],
    [
      'HTTP/1.0 without keep-alive: not reusable',
      'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n',
      undefined,
      false,
      ok({ reusable: false }),
    ],
    [
      'HTTP/1.0 with keep-alive',
      'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n',
      undefined,
      false,
      ok({}),
    ],
    [
      'Connection: close',
      'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
      undefined,
      false,
      ok({ reusable: false }),
    ],
    ['204 has no body', 'HTTP/1.1 204 No Content\r\n\r\n', undefined, false, ok({ status: 204 })],
    [
      '304 has no body even with a length',
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n',
      undefined,
      false,
      ok({ status: 304 }),
    ],
    [
      'an interim 100 before the response',
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      'ok',
      false,
      ok({ found: true }),
    ],
    [
      'a repeated, agreeing content-length',
      'HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok',
      undefined,
      false,
      ok({}),
    ],
    [
      'transfer-encoding beside content-length: chunked wins, never reused',
      'HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      'ok',
      false,
      ok({ found: true, reusable: false }),
    ],
    [
      'bytes after the response: not reusable',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n',
      undefined,
      false,
      ok({ reusable: false }),
    ],
    ['not HTTP', 'SSH-2.0-OpenSSH_9.2\r\n', undefined, false, bad('malformed response')],
    ['not HTTP, first bytes', 'hello', undefined, false, bad('malformed response')],
    ['HTTP/2 preface', 'HTTP/2 200\r\n\r\n', undefined, false, bad('malformed response')],
    ['a bad status', 'HTTP/1.1 2000 OK\r\n\r\n', undefined, false, bad('malformed response')],
    ['status 099', 'HTTP/1.1 099 OK\r\n\r\n', undefined, false, bad('malformed response')],
    [
      'a header without a colon',
      'HTTP/1.1 200 OK\r\nbad header\r\n\r\n',
      undefined,
      false,
      bad('malformed response', { status: 200 }),
    ],
    [
      'a folded header',
      'HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\n\r\n',
      undefined,
      false,
      bad('malformed response', { status: 200 }),
    ],
    [
      'content-length not a number',
      'HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\n',
      undefined,
      false,
      bad('malformed response', { status: 200 }),
    ],
    [
      'content-lengths that disagree',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok',
      undefined,
      false,
      bad('malformed response', { status: 200 }),
    ],
    [
      'a chunk size that is not hex',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      undefined,
      false,
      bad('malformed response', { status: 200, headDone: true }),
    ],
    [
      'a chunk without its CRLF',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n',
      undefined,
      false,
      bad('malformed response', { status: 200, headDone: true }),
    ],
    [
      'a chunk-size line with a bare LF',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n',
      undefined,
      false,
      bad('malformed response', { status: 200, headDone: true }),
    ],
    ['nothing at all', '', undefined, true, bad('empty response')],
    [
      'the end within the head',
      'HTTP/1.1 200 OK\r\nContent-Le',
      undefined,
      true,
      bad('connection closed early'),
    ],
    [
      'the end within a content-length body',
      'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok',
      'ok',
      true,
      bad('connection closed early', { status: 200, headDone: true, found: true }),
    ],
    [
      'the end within a chunked body',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n',
      undefined,
      true,
      bad('connection closed early', { status: 200, headDone: true }),
    ],
  ];

  for (const [name, response, needle, eof, want] of cases)
    it(`${name}: whole, split anywhere, and byte by byte`, () => {
      const bytes = Buffer.from(response, 'latin1');
      assert.deepEqual(read([bytes], needle, eof), want, 'whole');
      for (let i = 1; i < bytes.length; i++)
        assert.deepEqual(read([bytes.subarray(0, i), bytes.subarray(i)], needle, eof), want, `split at ${i}`);
      const single = [...bytes].map((b) => Buffer.from([b]));
      assert.deepEqual(read(single, needle, eof), want, 'byte by byte');
    });

  it('headers over MAX_HEAD: too large, whether or not they ever end', () => {
    const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD)}`;
    assert.equal(read([Buffer.from(big)], undefined, false).error, 'headers too large');
    assert.equal(read([Buffer.from(`${big}\r\n\r\n`)], undefined, false).error, 'headers too large');
    const pieces = [Buffer.from('HTTP/1.1 200 OK\r\n')];
    for (let i = 0; i < 100; i++) pieces.push(Buffer.from(`X-H${i}: ${'b'.repeat(200)}\r\n`));
    assert.equal(read(pieces, undefined, false).error, 'headers too large');
    // just under the limit is fine
    const fits = `HTTP/1.1 200 OK\r\nX-A: ${'c'.repeat(MAX_HEAD - 60)}\r\nContent-Length: 0\r\n\r\n`;
    assert.ok(fits.length <= MAX_HEAD, String(fits.length));
    assert.equal(read([Buffer.from(fits)], undefined, false).error, undefined);
  });

  it('a chunk-size line without end is malformed, not read forever', () => {
    const r = new ResponseReader(undefined);
    r.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'));
    for (let i = 0; i < 200 && r.error === undefined; i++) r.push(Buffer.from('0000000000'));
    assert.equal(r.error, 'malformed response');
  });

  it('endless trailers are malformed', () => {
    const r = new ResponseReader(undefined);
    r.push(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n'));
    for (let i = 0; i < 5000 && r.error === undefined; i++) r.push(Buffer.from(`X-T${i}: 1\r\n`));
    assert.equal(r.error, 'malformed response');
  });

  it('the body is searched in its first MAX_PROBE_BODY bytes only', () => {
    const head = (n: number): Buffer => Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${n}\r\n\r\n`);
    const cases: [name: string, body: Buffer, found: boolean][] = [
      [
        'ending at the limit',
        Buffer.concat([Buffer.alloc(MAX_PROBE_BODY - 5, 'x'), Buffer.from('ready')]),
        true,
      ],
      [
        'straddling the limit',
        Buffer.concat([Buffer.alloc(MAX_PROBE_BODY - 2, 'x'), Buffer.from('ready')]),
        false,
      ],
      [
        'beyond the limit',
        Buffer.concat([Buffer.alloc(MAX_PROBE_BODY + 10, 'x'), Buffer.from('ready')]),
        false,
      ],
    ];
    for (const [name, body, found] of cases) {
      for (const size of [1, 1000, 16 * 1024, body.length]) {
        const r = new ResponseReader(Buffer.from('ready'));
        r.push(head(body.length));
        for (let i = 0; i < body.length; i += size) r.push(body.subarray(i, i + size));
        assert.equal(r.found, found, `${name}, pieces of ${size}`);
        assert.equal(r.bodySeen, body.length);
        assert.equal(r.bodyDone, true);
      }
    }
  });
});
