/**
 * A request body over the limit (MAX_BODY) while the client is still writing it: the server
 * answers 413 at once and reads and discards the rest (lingering close, bounded by LINGER_BYTES),
 * so a client that streams 8 MB reads the 413 instead of EPIPE / ECONNRESET. A raw TCP client
 * that writes its whole body whatever the answer (the strictest: any RST shows), Node's
 * http.request (Content-Length and chunked) and curl (with and without `Expect: 100-continue`);
 * a 401 on a large body lingers the same way; past the bound the server does close.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { ApiServer } from '../../src/api/server.js';
import { LINGER_BYTES, MAX_BODY } from '../../src/api/server.js';
import { type EmbeddedStore, openEmbeddedStore } from '../../src/store/embedded/embedded.js';
import { startLocalApi, TOKEN } from './helpers.js';

const run = promisify(execFile);
const BIG = 8 * 1024 * 1024;

/**
 * POSTs `size` bytes in 64 KiB writes with Node's http.request and resolves with the status, the
 * body read, any error, and whether the connection closed.
 */
function streamPost(
  port: number,
  size: number,
  headers: Record<string, string>,
  chunked: boolean,
): Promise<{ status?: number; body: string; error?: string; closed: boolean }> {
  return new Promise((resolve) => {
    const out: { status?: number; body: string; error?: string; closed: boolean } = {
      body: '',
      closed: false,
    };
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/records',
      // keep-alive, as agents are by default: with `Connection: close` Node's client half-closes
      // its own socket once the answer is read and its next body write fails with EPIPE locally
      agent: new http.Agent({ keepAlive: true }),
      headers: {
        ...headers,
        'content-type': 'application/json',
        ...(chunked ? {} : { 'content-length': size }),
      },
    });
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve(out);
    };
    req.on('error', (e) => {
      out.error = `${(e as NodeJS.ErrnoException).code ?? e.message} (response ${out.status === undefined ? 'not read' : 'read'})`;
      // an error after the whole answer was read still counts: report it
      setTimeout(finish, 50);
    });
    req.on('response', (res) => {
      out.status = res.statusCode;
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        out.body += c;
      });
      res.on('end', () => {
        res.socket?.once('close', () => {
          out.closed = true;
          // give a late EPIPE/ECONNRESET the chance to show
          setTimeout(finish, 50);
        });
      });
    });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    // every chunk queued at once: the socket still sends as fast as the server reads (the wire
    // is the stream), and Node's client stops relaying 'drain' once the response has ended
    for (let sent = 0; sent < size; sent += chunk.length) req.write(chunk);
    req.end();
  });
}

/**
 * A raw HTTP/1.1 POST of `size` bytes over TCP, written in full whatever comes back (then FIN),
 * while the answer is read: what was read, and the first socket error with how much was written.
 */
function rawPost(
  port: number,
  size: number,
  headers: string,
  chunked: boolean,
): Promise<{ answer: string; error?: string; written: number }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let answer = '';
    let error: string | undefined;
    let written = 0;
    sock.setEncoding('latin1');
    sock.on('data', (c: string) => {
      answer += c;
    });
    sock.on('error', (e) => {
      error ??= (e as NodeJS.ErrnoException).code ?? e.message;
    });
    sock.on('close', () => resolve({ answer, error, written }));
    sock.write(
      `POST /v1/records HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${headers}` +
        (chunked ? 'transfer-encoding: chunked\r\n\r\n' : `content-length: ${size}\r\n\r\n`),
    );
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const framed = chunked
      ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')])
      : chunk;
    const write = (): void => {
      while (written < size && !sock.destroyed) {
        written += chunk.length;
        if (!sock.write(framed)) {
          sock.once('drain', write);
          return;
        }
      }
      if (!sock.destroyed) sock.end(chunked ? '0\r\n\r\n' : '');
    };
    write();
  });
}

describe('request body over the limit: 413 read by a client still writing (lingering close)', () => {
  let dir: string;
  let store: EmbeddedStore;
  let api: ApiServer;
  let port: number;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-body-'));
    store = await openEmbeddedStore({ dir: path.join(dir, 'data') });
    const local = await startLocalApi(store);
    api = local.api;
    port = api.port;
    await writeFile(path.join(dir, 'big'), Buffer.alloc(BIG, 0x20));
  });
  after(async () => {
    await api?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const chunked of [false, true])
    it(`a raw client writing all of 8 MB (${chunked ? 'chunked' : 'Content-Length'}): no reset, the 413, then the server closes`, async () => {
      const r = await rawPost(port, BIG, `authorization: Bearer ${TOKEN}\r\n`, chunked);
      assert.equal(r.error, undefined, `the client saw ${r.error} after writing ${r.written} bytes`);
      assert.equal(r.written, BIG);
      assert.match(r.answer, /^HTTP\/1\.1 413 /);
      assert.match(r.answer, new RegExp(`larger than ${MAX_BODY}`));
    });

  it('a 401 before the body is read lingers too (no token, 8 MB)', async () => {
    const r = await rawPost(port, BIG, '', false);
    assert.equal(r.error, undefined, `the client saw ${r.error} after writing ${r.written} bytes`);
    assert.match(r.answer, /^HTTP\/1\.1 401 /);
  });

  it('the linger is bounded: past LINGER_BYTES the server closes (the 413 was sent first)', async () => {
    const r = await rawPost(
      port,
      LINGER_BYTES + 16 * 1024 * 1024,
      `authorization: Bearer ${TOKEN}\r\n`,
      false,
    );
    assert.ok(r.written < LINGER_BYTES + 16 * 1024 * 1024, 'the server stopped reading');
    assert.match(r.answer, /^HTTP\/1\.1 413 /);
  });

  for (const chunked of [false, true])
    it(`Node http.request streaming 8 MB (${chunked ? 'chunked' : 'Content-Length'}): reads the 413`, async () => {
      const r = await streamPost(port, BIG, { authorization: `Bearer ${TOKEN}` }, chunked);
      assert.equal(r.status, 413, r.error);
      assert.match(JSON.parse(r.body).error, new RegExp(`larger than ${MAX_BODY}`));
      assert.equal(r.error, undefined, `the client saw ${r.error}`);
      assert.ok(r.closed, 'the connection is closed after the answer');
    });

  it('a body under the limit still works on the same server', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'small.hades.local', type: 'A', address: '10.0.0.1' }),
    });
    assert.equal(res.status, 201, await res.text());
  });

  for (const expect of [false, true])
    it(`curl --data-binary @8MB ${expect ? '(Expect: 100-continue)' : '(no Expect: the body streams)'}: exit 0, 413`, async () => {
      const { stdout } = await run('curl', [
        '-sS',
        '-o',
        path.join(dir, `out-${expect}`),
        '-w',
        '%{http_code}',
        '-H',
        `Authorization: Bearer ${TOKEN}`,
        '-H',
        'content-type: application/json',
        ...(expect ? [] : ['-H', 'Expect:']),
        '--data-binary',
        `@${path.join(dir, 'big')}`,
        `http://127.0.0.1:${port}/v1/records`,
      ]);
      assert.equal(stdout, '413');
    });
});
