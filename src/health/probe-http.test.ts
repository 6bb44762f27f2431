/**
 * The httpGet probe against real servers on loopback: node:http and node:https (certificates made
 * by openssl here), and raw TCP servers that answer badly or not at all. Reasons are asserted
 * exactly; no assertion is about time. Every connection a server accepted is closed by the end.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type tls from 'node:tls';
import { makeSelfSigned, makeServerCert } from '../../test/harness/certs.js';
import { freePort } from '../../test/harness/ports.js';
import {
  ConnectionCount,
  close,
  headersOf,
  listen,
  type RawHandler,
  rawServer,
} from '../../test/lib/probe-servers.js';
import { waitFor } from '../../test/lib/wait.js';
import { type HttpGetProbe, MAX_PROBE_BODY, parseProbe } from '../records/probe.js';
import { VERSION } from '../version.js';
import type { ProbeContext, ProbeResult } from './probe.js';
import {
  closeIdleProbeConnections,
  hostHeader,
  httpCheck,
  idleProbeConnections,
  requestBytes,
} from './probe-http.js';

const CTX: ProbeContext = { timeoutMs: 5000, pingCount: 1 };

function httpGet(o: object): HttpGetProbe {
  const h = parseProbe({ httpGet: o }).handler;
  assert.equal(h.kind, 'httpGet');
  return h as HttpGetProbe;
}

const pass = (reason: string): ProbeResult => ({ ok: true, reason, class: 'ok' });
const fail = (reason: string, cls: ProbeResult['class']): ProbeResult => ({ ok: false, reason, class: cls });

/** Every server of this file, with its connection count, closed in `after`. */
const servers: { server: net.Server; count: ConnectionCount }[] = [];

async function start(
  server: net.Server,
  host = '127.0.0.1',
): Promise<{ port: number; count: ConnectionCount }> {
  const count = new ConnectionCount().track(server);
  servers.push({ server, count });
  return { port: await listen(server, host), count };
}

async function raw(handler: RawHandler, onConnect?: (s: net.Socket) => void): Promise<number> {
  return (await start(rawServer(handler, onConnect))).port;
}

/** The requests node:http servers saw, by path. */
const seen = new Map<string, { headers: string[]; servername?: string }>();
let redirectedTo = 0;

function app(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '/';
  seen.set(url, {
    headers: req.rawHeaders,
    servername: (req.socket as tls.TLSSocket).servername || undefined,
  });
  const m = /^\/status\/([0-9]{3})$/.exec(url);
  if (m) {
    res.writeHead(Number(m[1]), { 'content-type': 'text/plain' });
    res.end('ok');
  } else if (url === '/redirect') {
    res.writeHead(302, { location: '/redirected' });
    res.end();
  } else if (url === '/redirected') {
    redirectedTo++;
    res.end('ok');
  } else if (url === '/length') {
    res.writeHead(200, { 'content-length': '20' });
    res.end('the service is ready');
  } else if (url === '/chunked') {
    // two writes, two chunks: the match spans them
    res.write('the service is re');
    setImmediate(() => res.end('ady'));
  } else if (url.startsWith('/big/')) {
    // 'ready' starting at the given offset of a body larger than the limit
    const at = Number(url.slice(5));
    const body = Buffer.alloc(MAX_PROBE_BODY + 1000, 'x');
    body.write('ready', at);
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  } else if (url.startsWith('/big-chunked/')) {
    const at = Number(url.slice(13));
    const body = Buffer.alloc(MAX_PROBE_BODY + 1000, 'x');
    body.write('ready', at);
    for (let i = 0; i < body.length; i += 4096) res.write(body.subarray(i, i + 4096));
    res.end();
  } else res.end('hello');
}

let port = 0;
let v6Port = 0;
let httpsPort = 0;
let httpsPort2 = 0;
let selfSignedPort = 0;
let closedPort = 0;
/** The test CA, a certificate it signed for probe.test and 127.0.0.1, a self-signed one. */
let tlsm: { ca: Buffer; cert: Buffer; key: Buffer; selfCert: Buffer; selfKey: Buffer };
let certDir = '';

before(async () => {
  port = (await start(http.createServer(app))).port;
  v6Port = (await start(http.createServer(app), '::1')).port;
  certDir = mkdtempSync(path.join(tmpdir(), 'hades-probe-http-'));
  const signed = await makeServerCert(certDir, { dns: ['probe.test'], ips: ['127.0.0.1'] });
  const self = await makeSelfSigned(certDir, { dns: ['probe.test'], ips: ['127.0.0.1'] });
  tlsm = { ca: signed.ca, cert: signed.cert, key: signed.key, selfCert: self.cert, selfKey: self.key };
  httpsPort = (await start(https.createServer({ cert: tlsm.cert, key: tlsm.key }, app))).port;
  // the same certificate (for probe.test and 127.0.0.1) served on an address it does not name
  httpsPort2 = (await start(https.createServer({ cert: tlsm.cert, key: tlsm.key }, app), '127.0.0.2')).port;
  selfSignedPort = (await start(https.createServer({ cert: tlsm.selfCert, key: tlsm.selfKey }, app))).port;
  closedPort = await freePort();
});

after(async () => {
  closeIdleProbeConnections();
  await waitFor(
    'every connection the servers accepted to be closed',
    () => servers.every((s) => s.count.open === 0),
    10_000,
    { diag: () => servers.map((s) => `${s.count.opened} opened, ${s.count.closed} closed`).join('\n') },
  );
  for (const s of servers) await close(s.server);
  rmSync(certDir, { recursive: true, force: true });
});

describe('httpGet: status', () => {
  const cases: [name: string, probe: object, want: ProbeResult][] = [
    ['200, default 200-399', { path: '/status/200' }, pass('HTTP 200')],
    ['204, default', { path: '/status/204' }, pass('HTTP 204')],
    ['302 is not followed and passes 200-399', { path: '/redirect' }, pass('HTTP 302')],
    [
      '302 with expectStatus 200',
      { path: '/redirect', expectStatus: '200' },
      fail('HTTP 302', 'http_status'),
    ],
    ['404, default', { path: '/status/404' }, fail('HTTP 404', 'http_status')],
    ['503, default', { path: '/status/503' }, fail('HTTP 503', 'http_status')],
    ['503 in a list', { path: '/status/503', expectStatus: '200,503' }, pass('HTTP 503')],
    ['404 in a range', { path: '/status/404', expectStatus: '400-499' }, pass('HTTP 404')],
    [
      '204 outside the ranges',
      { path: '/status/204', expectStatus: '200-203,205-299' },
      fail('HTTP 204', 'http_status'),
    ],
    ['200 in a list', { path: '/status/200', expectStatus: '204,200' }, pass('HTTP 200')],
    [
      'a status failure comes before the body',
      { path: '/status/503', expectBody: 'ok' },
      fail('HTTP 503', 'http_status'),
    ],
  ];
  for (const [name, probe, want] of cases)
    it(name, async () => {
      assert.deepEqual(await httpCheck('127.0.0.1', httpGet({ port, ...probe }), CTX), want);
    });

  it('the redirect was never followed', () => {
    assert.equal(redirectedTo, 0);
  });
});

describe('httpGet: body', () => {
  const limit = MAX_PROBE_BODY;
  const cases: [name: string, probe: object, want: ProbeResult][] = [
    ['content-length, contains', { path: '/length', expectBody: 'ready' }, pass('HTTP 200')],
    [
      'content-length, does not contain',
      { path: '/length', expectBody: 'ok' },
      fail('body does not contain "ok"', 'body'),
    ],
    ['chunked, the match across chunks', { path: '/chunked', expectBody: 'is ready' }, pass('HTTP 200')],
    [
      'chunked, does not contain',
      { path: '/chunked', expectBody: 'not here' },
      fail('body does not contain "not here"', 'body'),
    ],
    [
      'larger than the limit, the match within it',
      { path: `/big/${limit - 5}`, expectBody: 'ready' },
      pass('HTTP 200'),
    ],
    [
      'larger than the limit, the match across it',
      { path: `/big/${limit - 2}`, expectBody: 'ready' },
      fail('body does not contain "ready"', 'body'),
    ],
    [
      'larger than the limit, the match beyond it',
      { path: `/big/${limit + 100}`, expectBody: 'ready' },
      fail('body does not contain "ready"', 'body'),
    ],
    [
      'chunked, larger than the limit, the match within',
      { path: `/big-chunked/${limit - 5000}`, expectBody: 'ready' },
      pass('HTTP 200'),
    ],
    [
      'chunked, larger than the limit, the match beyond it',
      { path: `/big-chunked/${limit + 10}`, expectBody: 'ready' },
      fail('body does not contain "ready"', 'body'),
    ],
    ['a body larger than the limit without expectBody', { path: `/big/0` }, pass('HTTP 200')],
    [
      'a long expectBody is shortened in the reason',
      { path: '/length', expectBody: 'a'.repeat(50) },
      fail(`body does not contain "${'a'.repeat(40)}…"`, 'body'),
    ],
    [
      'quotes in expectBody are escaped in the reason',
      { path: '/length', expectBody: '{"status":"UP"}' },
      fail('body does not contain "{\\"status\\":\\"UP\\"}"', 'body'),
    ],
  ];
  for (const [name, probe, want] of cases)
    it(name, async () => {
      assert.deepEqual(await httpCheck('127.0.0.1', httpGet({ port, ...probe }), CTX), want);
    });

  it('read to close: contains, and does not', async () => {
    const p = await raw((s) => s.end('HTTP/1.1 200 OK\r\n\r\nthe service is ready'));
    assert.deepEqual(
      await httpCheck('127.0.0.1', httpGet({ port: p, expectBody: 'ready' }), CTX),
      pass('HTTP 200'),
    );
    assert.deepEqual(
      await httpCheck('127.0.0.1', httpGet({ port: p, expectBody: 'down' }), CTX),
      fail('body does not contain "down"', 'body'),
    );
  });
});

describe('httpGet: request headers', () => {
  const header = (path: string, name: string): string[] => {
    const raw = seen.get(path)?.headers ?? [];
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === name) out.push(raw[i + 1]);
    return out;
  };

  it('ours: Host (the address and port), User-Agent, Accept, Connection: close', async () => {
    assert.deepEqual(await httpCheck('127.0.0.1', httpGet({ port, path: '/h1' }), CTX), pass('HTTP 200'));
    assert.deepEqual(seen.get('/h1')?.headers, [
      'Host',
      `127.0.0.1:${port}`,
      'User-Agent',
      `hades-probe/${VERSION}`,
      'Accept',
      '*/*',
      'Connection',
      'close',
    ]);
  });

  it("the probe's host and headers; a user Host or User-Agent replaces ours", async () => {
    const headers = [
      { name: 'X-Probe', value: 'hades' },
      { name: 'X-Multi', value: 'a' },
      { name: 'X-Multi', value: 'b' },
    ];
    await httpCheck(
      '127.0.0.1',
      httpGet({ port, path: '/h2', host: 'api.example.com', httpHeaders: headers }),
      CTX,
    );
    assert.deepEqual(header('/h2', 'host'), [`api.example.com:${port}`]);
    assert.deepEqual(header('/h2', 'x-probe'), ['hades']);
    assert.deepEqual(header('/h2', 'x-multi'), ['a', 'b']);
    await httpCheck(
      '127.0.0.1',
      httpGet({
        port,
        path: '/h3',
        host: 'api.example.com',
        httpHeaders: [
          { name: 'host', value: 'override.example' },
          { name: 'User-Agent', value: 'kube-probe/1.31' },
          { name: 'Accept', value: 'application/json' },
        ],
      }),
      CTX,
    );
    assert.deepEqual(header('/h3', 'host'), ['override.example']);
    assert.deepEqual(header('/h3', 'user-agent'), ['kube-probe/1.31']);
    assert.deepEqual(header('/h3', 'accept'), ['application/json']);
  });

  it('hostHeader: the default port left out, IPv6 in brackets', () => {
    const cases: [probe: object, ip: string, want: string][] = [
      [{ port: 80 }, '10.0.0.1', '10.0.0.1'],
      [{ port: 8080 }, '10.0.0.1', '10.0.0.1:8080'],
      [{ port: 443, scheme: 'HTTPS' }, '10.0.0.1', '10.0.0.1'],
      [{ port: 80, scheme: 'HTTPS' }, '10.0.0.1', '10.0.0.1:80'],
      [{ port: 443 }, '10.0.0.1', '10.0.0.1:443'],
      [{ port: 80 }, 'fd00::1', '[fd00::1]'],
      [{ port: 8080 }, 'fd00::1', '[fd00::1]:8080'],
      [{ port: 8080, host: 'fd00::2' }, '10.0.0.1', '[fd00::2]:8080'],
      [{ port: 80, host: 'api.example.com' }, 'fd00::1', 'api.example.com'],
    ];
    for (const [probe, ip, want] of cases)
      assert.equal(hostHeader(httpGet(probe), ip), want, JSON.stringify(probe));
  });

  it('requestBytes: the request as sent, with and without keep-alive', () => {
    const p = httpGet({ port: 8080, path: '/healthz?x=1', httpHeaders: [{ name: 'X-A', value: 'b c' }] });
    assert.equal(
      requestBytes(p, '10.0.0.1', false).toString('latin1'),
      `GET /healthz?x=1 HTTP/1.1\r\nHost: 10.0.0.1:8080\r\nUser-Agent: hades-probe/${VERSION}\r\nAccept: */*\r\nConnection: close\r\nX-A: b c\r\n\r\n`,
    );
    assert.equal(
      requestBytes(p, '10.0.0.1', true).toString('latin1'),
      `GET /healthz?x=1 HTTP/1.1\r\nHost: 10.0.0.1:8080\r\nUser-Agent: hades-probe/${VERSION}\r\nAccept: */*\r\nX-A: b c\r\n\r\n`,
    );
  });
});

describe('httpGet: servers that answer badly or not at all', () => {
  it('a closed port: connect ECONNREFUSED', async () => {
    assert.deepEqual(
      await httpCheck('127.0.0.1', httpGet({ port: closedPort }), CTX),
      fail('connect ECONNREFUSED', 'connect'),
    );
  });

  it('accepts and never answers: timeout after the timeout as given', async () => {
    const p = await raw(() => {});
    assert.deepEqual(
      await httpCheck('127.0.0.1', httpGet({ port: p }), { ...CTX, timeoutMs: 1000 }),
      fail('timeout after 1s', 'timeout'),
    );
    assert.deepEqual(
      await httpCheck('127.0.0.1', httpGet({ port: p }), { ...CTX, timeoutMs: 500 }),
      fail('timeout after 0.5s', 'timeout'),
    );
  });

  it('answers the head and never the body: timeout', async () => {
    const p = await raw((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok'));
    assert.deepEqual(
      await httpCheck('127.0.0.1', httpGet({ port: p, expectBody: 'ok' }), { ...CTX, timeoutMs: 500 }),
      fail('timeout after 0.5s', 'timeout'),
    );
  });

  const cases: [name: string, handler: RawHandler, probe: object, want: ProbeResult][] = [
    ['garbage', (s) => s.write('hello world\r\n\r\n'), {}, fail('HTTP: malformed response', 'error')],
    [
      'an SSH banner',
      (s) => s.write('SSH-2.0-OpenSSH_9.2\r\n'),
      {},
      fail('HTTP: malformed response', 'error'),
    ],
    [
      'a bad header line',
      (s) => s.write('HTTP/1.1 200 OK\r\nbad\r\n\r\n'),
      {},
      fail('HTTP: malformed response', 'error'),
    ],
    [
      'huge headers, never ending',
      (s) => s.write(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(64 * 1024)}`),
      {},
      fail('HTTP: headers too large', 'error'),
    ],
    ['closes without a byte', (s) => s.end(), {}, fail('HTTP: empty response', 'error')],
    [
      'closes within the head',
      (s) => s.end('HTTP/1.1 200 OK\r\nContent-'),
      {},
      fail('HTTP: connection closed early', 'error'),
    ],
    [
      'closes within a content-length body',
      (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nready'),
      { expectBody: 'ready' },
      fail('HTTP: connection closed early', 'error'),
    ],
    [
      'closes within a chunked body',
      (s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nready\r\n'),
      {},
      fail('HTTP: connection closed early', 'error'),
    ],
    [
      'bad chunk framing',
      (s) => s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nnope\r\n'),
      {},
      fail('HTTP: malformed response', 'error'),
    ],
    [
      'HTTP/1.0, read to close',
      (s) => s.end('HTTP/1.0 200 OK\r\n\r\nok'),
      { expectBody: 'ok' },
      pass('HTTP 200'),
    ],
    [
      'an interim 100 Continue first',
      (s) => s.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n'),
      {},
      fail('HTTP 503', 'http_status'),
    ],
    [
      'the head in many small writes',
      (s) => {
        const text = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nready';
        let i = 0;
        const next = (): void => {
          if (i < text.length && !s.destroyed) s.write(text.slice(i, i + 3), next);
          i += 3;
        };
        next();
      },
      { expectBody: 'ready' },
      pass('HTTP 200'),
    ],
  ];
  for (const [name, handler, probe, want] of cases)
    it(name, async () => {
      const p = await raw(handler);
      assert.deepEqual(await httpCheck('127.0.0.1', httpGet({ port: p, ...probe }), CTX), want);
    });
});

describe('httpGet: HTTPS', () => {
  const cases: [name: string, ip: string, probe: object, withCa: boolean, want: ProbeResult][] = [
    ['verified with the CA, by address', '127.0.0.1', {}, true, pass('HTTP 200')],
    [
      'verified with the CA, by name',
      '127.0.0.1',
      { host: 'probe.test', path: '/sni' },
      true,
      pass('HTTP 200'),
    ],
    ['without the CA', '127.0.0.1', {}, false, fail('TLS: unable to verify the first certificate', 'tls')],
    [
      'insecureSkipVerify, without the CA',
      '127.0.0.1',
      { insecureSkipVerify: true },
      false,
      pass('HTTP 200'),
    ],
    [
      'a name the certificate does not have',
      '127.0.0.1',
      { host: 'other.test' },
      true,
      fail(
        "TLS: Host: other.test. is not in the cert's altnames: DNS:probe.test, IP Address:127.0.0.1",
        'tls',
      ),
    ],
    [
      'an address the certificate does not have',
      '127.0.0.2',
      {},
      true,
      fail("TLS: IP: 127.0.0.2 is not in the cert's list: 127.0.0.1", 'tls'),
    ],
    [
      'the address in host, the certificate has it',
      '127.0.0.2',
      { host: '127.0.0.1' },
      true,
      pass('HTTP 200'),
    ],
    [
      'insecureSkipVerify, a name the certificate does not have',
      '127.0.0.1',
      { host: 'other.test', insecureSkipVerify: true },
      false,
      pass('HTTP 200'),
    ],
  ];
  for (const [name, ip, probe, withCa, want] of cases)
    it(name, async () => {
      const p = ip === '127.0.0.2' ? httpsPort2 : httpsPort;
      const ctx = withCa ? { ...CTX, ca: tlsm.ca } : CTX;
      assert.deepEqual(await httpCheck(ip, httpGet({ port: p, scheme: 'HTTPS', ...probe }), ctx), want);
    });

  it('the name goes as SNI and Host', () => {
    const r = seen.get('/sni');
    assert.equal(r?.servername, 'probe.test');
    assert.equal(r?.headers[1], `probe.test:${httpsPort}`);
  });

  it('a self-signed certificate', async () => {
    assert.deepEqual(
      await httpCheck('127.0.0.1', httpGet({ port: selfSignedPort, scheme: 'HTTPS' }), {
        ...CTX,
        ca: tlsm.ca,
      }),
      fail('TLS: self-signed certificate', 'tls'),
    );
  });

  it('HTTPS to a plain HTTP server', async () => {
    assert.deepEqual(
      await httpCheck('127.0.0.1', httpGet({ port, scheme: 'HTTPS' }), CTX),
      fail('TLS: wrong version number', 'tls'),
    );
  });

  it('a closed port: connect ECONNREFUSED', async () => {
    assert.deepEqual(
      await httpCheck('127.0.0.1', httpGet({ port: closedPort, scheme: 'HTTPS' }), CTX),
      fail('connect ECONNREFUSED', 'connect'),
    );
  });

  it('a server that closes during the handshake', async () => {
    const p = await raw(
      () => {},
      (s) => s.once('data', () => s.end()),
    );
    assert.deepEqual(
      await httpCheck('127.0.0.1', httpGet({ port: p, scheme: 'HTTPS' }), CTX),
      fail('TLS: connection closed during the handshake', 'tls'),
    );
  });

  it('a server that accepts and never starts the handshake: timeout', async () => {
    const p = await raw(() => {});
    assert.deepEqual(
      await httpCheck('127.0.0.1', httpGet({ port: p, scheme: 'HTTPS' }), { ...CTX, timeoutMs: 500 }),
      fail('timeout after 0.5s', 'timeout'),
    );
  });
});

describe('httpGet: IPv6', () => {
  it('::1, Host in brackets', async () => {
    assert.deepEqual(await httpCheck('::1', httpGet({ port: v6Port, path: '/v6' }), CTX), pass('HTTP 200'));
    assert.equal(seen.get('/v6')?.headers[1], `[::1]:${v6Port}`);
  });
});

describe('httpGet: connections', () => {
  it('many checks at once: each its own connection, every one closed', async () => {
    const server = http.createServer(app);
    const { port: p, count } = await start(server);
    const results = await Promise.all(
      Array.from({ length: 200 }, () => httpCheck('127.0.0.1', httpGet({ port: p, path: '/length' }), CTX)),
    );
    assert.deepEqual(new Set(results.map((r) => r.reason)), new Set(['HTTP 200']));
    assert.equal(count.opened, 200);
    await waitFor('200 connections closed', () => count.closed === 200);
  });

  it('keepAlive: one connection for sequential checks, closed with the idle ones', async () => {
    const { port: p, count } = await start(http.createServer(app));
    const ka = { ...CTX, keepAlive: true };
    for (let i = 0; i < 5; i++)
      assert.deepEqual(
        await httpCheck('127.0.0.1', httpGet({ port: p, path: '/length', expectBody: 'ready' }), ka),
        pass('HTTP 200'),
      );
    assert.equal(count.opened, 1);
    assert.ok(idleProbeConnections() >= 1);
    closeIdleProbeConnections();
    assert.equal(idleProbeConnections(), 0);
    await waitFor('the kept-alive connection closed', () => count.closed === 1);
  });

  it('keepAlive over TLS: one connection, one handshake', async () => {
    const server = https.createServer({ cert: tlsm.cert, key: tlsm.key }, app);
    let handshakes = 0;
    server.on('secureConnection', () => handshakes++);
    const { port: p, count } = await start(server);
    const ka = { ...CTX, keepAlive: true, ca: tlsm.ca };
    for (let i = 0; i < 3; i++)
      assert.deepEqual(
        await httpCheck('127.0.0.1', httpGet({ port: p, scheme: 'HTTPS', host: 'probe.test' }), ka),
        pass('HTTP 200'),
      );
    assert.equal(count.opened, 1);
    assert.equal(handshakes, 1);
    closeIdleProbeConnections();
    await waitFor('the kept-alive connection closed', () => count.closed === 1);
  });

  it('keepAlive: a response with Connection: close is not reused', async () => {
    const { port: p, count } = await start(
      rawServer((s) => s.end('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok')),
    );
    for (let i = 0; i < 3; i++)
      assert.deepEqual(
        await httpCheck('127.0.0.1', httpGet({ port: p }), { ...CTX, keepAlive: true }),
        pass('HTTP 200'),
      );
    assert.equal(count.opened, 3);
  });

  it('keepAlive: a kept connection the server drops gets the request again on a new one', async () => {
    // each connection answers its first request and drops the second unanswered
    const { port: p, count } = await start(
      rawServer((s, _req, nth) => {
        if (nth === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
        else s.destroy();
      }),
    );
    for (let i = 0; i < 3; i++)
      assert.deepEqual(
        await httpCheck('127.0.0.1', httpGet({ port: p }), { ...CTX, keepAlive: true }),
        pass('HTTP 200'),
      );
    assert.equal(count.opened, 3);
    closeIdleProbeConnections();
  });

  it('keepAlive: the headers as sent (no Connection: close)', async () => {
    let request = '';
    const { port: p } = await start(
      rawServer((s, req) => {
        request = req;
        s.write('HTTP/1.1 204 No Content\r\n\r\n');
      }),
    );
    await httpCheck('127.0.0.1', httpGet({ port: p }), { ...CTX, keepAlive: true });
    assert.deepEqual(headersOf(request), [
      ['host', `127.0.0.1:${p}`],
      ['user-agent', `hades-probe/${VERSION}`],
      ['accept', '*/*'],
    ]);
    closeIdleProbeConnections();
  });

  it('no timer or socket of a check outlives it', async () => {
    const mine = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;
    const silent = await raw(() => {});
    const baseline = mine();
    const probes: [string, HttpGetProbe][] = [
      ['127.0.0.1', httpGet({ port, path: '/length', expectBody: 'ready' })],
      ['127.0.0.1', httpGet({ port, path: '/status/503' })],
      ['127.0.0.1', httpGet({ port: closedPort })],
      ['127.0.0.1', httpGet({ port: silent })],
      ['127.0.0.1', httpGet({ port: httpsPort, scheme: 'HTTPS' })],
      ['::1', httpGet({ port: v6Port })],
    ];
    await Promise.all(probes.map(([ip, p]) => httpCheck(ip, p, { ...CTX, timeoutMs: 500 })));
    await waitFor('the checks’ sockets and timers gone', () => mine() <= baseline, 5000, {
      diag: () => JSON.stringify(process.getActiveResourcesInfo()),
    });
  });
});
