/**
 * The grpc probe against a real grpc.health.v1 server (grpc-js with grpc-health-check) on
 * loopback, reached through a counting TCP relay so the test sees each check's connection open
 * and close; and against servers that are not one.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type Server, status } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { freePort } from '../../test/harness/ports.js';
import { ConnectionCount, close, grpcServer, listen, rawServer } from '../../test/lib/probe-servers.js';
import { waitFor } from '../../test/lib/wait.js';
import type { GrpcProbe } from '../records/probe.js';
import type { ProbeContext, ProbeResult } from './probe.js';
import { callFailed, decodeCheckResponse, encodeCheckRequest, grpcCheck } from './probe-grpc.js';

const CTX: ProbeContext = { timeoutMs: 5000, pingCount: 1 };
const probe = (port: number, service = ''): GrpcProbe => ({ kind: 'grpc', port, service });
const pass: ProbeResult = { ok: true, reason: 'gRPC SERVING', class: 'ok' };
const fail = (reason: string, cls: ProbeResult['class'] = 'grpc'): ProbeResult => ({
  ok: false,
  reason,
  class: cls,
});

/** A TCP relay to `port`, so the connections a check makes can be counted and seen closed. */
function relay(host: string, port: number): net.Server {
  return net.createServer((c) => {
    const u = net.connect({ host, port });
    const end = (): void => {
      c.destroy();
      u.destroy();
    };
    c.on('error', end).on('close', end);
    u.on('error', end).on('close', end);
    c.pipe(u);
    u.pipe(c);
  });
}

const health = new HealthImplementation({
  '': 'SERVING',
  'hades.Api': 'SERVING',
  'hades.Unknown': 'UNKNOWN',
});
const grpcServers: Server[] = [];
const netServers: net.Server[] = [];
let relayPort = 0;
let relayCount: ConnectionCount;
let v6Port = 0;
let bareGrpcPort = 0;
let closedPort = 0;

before(async () => {
  const s = await grpcServer('127.0.0.1', health);
  grpcServers.push(s.server);
  const r = relay('127.0.0.1', s.port);
  relayCount = new ConnectionCount().track(r);
  netServers.push(r);
  relayPort = await listen(r);
  const v6 = await grpcServer('[::1]', health);
  grpcServers.push(v6.server);
  v6Port = v6.port;
  const bare = await grpcServer('127.0.0.1');
  grpcServers.push(bare.server);
  bareGrpcPort = bare.port;
  closedPort = await freePort();
});

after(async () => {
  for (const s of grpcServers) s.forceShutdown();
  for (const s of netServers) await close(s);
});

describe('grpc: a health server', () => {
  it('SERVING → NOT_SERVING → SERVING', async () => {
    const steps: ['SERVING' | 'NOT_SERVING', ProbeResult][] = [
      ['SERVING', pass],
      ['NOT_SERVING', fail('gRPC NOT_SERVING')],
      ['SERVING', pass],
    ];
    for (const [set, want] of steps) {
      health.setStatus('', set);
      assert.deepEqual(await grpcCheck('127.0.0.1', probe(relayPort), CTX), want, set);
    }
  });

  it('services by name', async () => {
    const cases: [service: string, want: ProbeResult][] = [
      ['hades.Api', pass],
      ['hades.Unknown', fail('gRPC UNKNOWN')],
      ['not.Registered', fail('gRPC SERVICE_UNKNOWN')],
    ];
    for (const [service, want] of cases)
      assert.deepEqual(await grpcCheck('127.0.0.1', probe(relayPort, service), CTX), want, service);
  });

  it('each check its own connection, closed after it', async () => {
    const first = relayCount.opened;
    const results = await Promise.all(
      Array.from({ length: 10 }, () => grpcCheck('127.0.0.1', probe(relayPort), CTX)),
    );
    assert.deepEqual(results, Array(10).fill(pass));
    await waitFor('10 connections', () => relayCount.opened - first === 10);
    await waitFor('every connection closed', () => relayCount.open === 0, 15_000, {
      diag: () => `${relayCount.opened} opened, ${relayCount.closed} closed`,
    });
  });

  it('IPv6 ::1', async () => {
    assert.deepEqual(await grpcCheck('::1', probe(v6Port), CTX), pass);
  });
});

describe('grpc: not a health server', () => {
  it('a closed port: connect ECONNREFUSED', async () => {
    assert.deepEqual(
      await grpcCheck('127.0.0.1', probe(closedPort), CTX),
      fail('connect ECONNREFUSED', 'connect'),
    );
  });

  it('a gRPC server without the health service: UNIMPLEMENTED', async () => {
    const r = await grpcCheck('127.0.0.1', probe(bareGrpcPort), CTX);
    assert.deepEqual(
      r,
      fail('gRPC UNIMPLEMENTED: The server does not implement the method /grpc.health.v1.Health/Check'),
    );
  });

  it('accepts and never answers: timeout after the timeout as given', async () => {
    // reads (so it sees the end of the connection) and never writes
    const silent = rawServer(
      () => {},
      (s) => s.resume(),
    );
    const count = new ConnectionCount().track(silent);
    netServers.push(silent);
    const p = await listen(silent);
    assert.deepEqual(
      await grpcCheck('127.0.0.1', probe(p), { ...CTX, timeoutMs: 500 }),
      fail('timeout after 0.5s', 'timeout'),
    );
    // the check's connection does not outlive it, though the server never said a word
    await waitFor('the connection closed', () => count.opened === 1 && count.open === 0);
  });

  it('an HTTP/1.1 server: not a gRPC answer', async () => {
    const h = http.createServer((_req, res) => res.end('hello'));
    netServers.push(h);
    const p = await listen(h);
    assert.deepEqual(await grpcCheck('127.0.0.1', probe(p), CTX), fail('gRPC UNAVAILABLE: ERR_HTTP2_ERROR'));
  });

  it('no timer or socket of a check outlives it', async () => {
    const mine = (): number =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'Timeout').length;
    const baseline = mine();
    await Promise.all([
      grpcCheck('127.0.0.1', probe(relayPort), CTX),
      grpcCheck('127.0.0.1', probe(relayPort, 'not.Registered'), CTX),
      grpcCheck('127.0.0.1', probe(closedPort), CTX),
      grpcCheck('::1', probe(v6Port), CTX),
    ]);
    await waitFor('the checks’ sockets and timers gone', () => mine() <= baseline, 15_000, {
      diag: () => JSON.stringify(process.getActiveResourcesInfo()),
    });
  });
});

describe('grpc: HTTP/2 servers that answer oddly', () => {
  /** An HTTP/2 server answering every stream with `answer`; its connections counted. */
  async function h2(
    answer: (stream: http2.ServerHttp2Stream) => void,
  ): Promise<{ port: number; count: ConnectionCount }> {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      stream.on('error', () => {});
      // the request is read whole before the answer, as a gRPC server does
      stream.resume();
      stream.on('end', () => answer(stream));
    });
    const count = new ConnectionCount().track(server);
    netServers.push(server);
    return { port: await listen(server), count };
  }
  const grpcHead = { ':status': 200, 'content-type': 'application/grpc' };
  const message = (bytes: number[], compressed = 0): Buffer => {
    const b = Buffer.alloc(5 + bytes.length);
    b[0] = compressed;
    b.writeUInt32BE(bytes.length, 1);
    Buffer.from(bytes).copy(b, 5);
    return b;
  };
  const reply =
    (bytes: Buffer | undefined, trailers: Record<string, string>) =>
    (s: http2.ServerHttp2Stream): void => {
      s.respond(grpcHead, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers(trailers));
      s.end(bytes);
    };

  const cases: [name: string, answer: (s: http2.ServerHttp2Stream) => void, want: ProbeResult][] = [
    ['SERVING by hand', reply(message([0x08, 0x01]), { 'grpc-status': '0' }), pass],
    [
      'trailers only, a percent-encoded message',
      (s) => s.respond({ ...grpcHead, 'grpc-status': '7', 'grpc-message': 'no%20way' }, { endStream: true }),
      fail('gRPC PERMISSION_DENIED: no way'),
    ],
    [
      'an HTTP status other than 200',
      (s) => s.respond({ ':status': 404 }, { endStream: true }),
      fail('gRPC: HTTP 404'),
    ],
    [
      'no grpc-status',
      (s) => s.respond(grpcHead, { endStream: true }),
      fail('gRPC INTERNAL: no grpc-status'),
    ],
    [
      'a message that is not protobuf',
      reply(message([0x08]), { 'grpc-status': '0' }),
      fail('gRPC INTERNAL: malformed response message'),
    ],
    [
      'a compressed message',
      reply(message([0x08, 0x01], 1), { 'grpc-status': '0' }),
      fail('gRPC INTERNAL: compressed response'),
    ],
    [
      'a length that does not match',
      reply(Buffer.from([0, 0, 0, 0, 9, 0x08, 0x01]), { 'grpc-status': '0' }),
      fail('gRPC INTERNAL: not one response message'),
    ],
    [
      'a message over the limit',
      reply(message(Array(5000).fill(0)), { 'grpc-status': '0' }),
      fail('gRPC RESOURCE_EXHAUSTED: response too large'),
    ],
    [
      'a reset stream',
      (s) => s.close(http2.constants.NGHTTP2_REFUSED_STREAM),
      fail('gRPC UNAVAILABLE: stream reset REFUSED_STREAM'),
    ],
  ];
  for (const [name, answer, want] of cases)
    it(name, async () => {
      const { port, count } = await h2(answer);
      assert.deepEqual(await grpcCheck('127.0.0.1', probe(port), CTX), want);
      await waitFor('the connection closed', () => count.opened === 1 && count.open === 0);
    });

  it('a stream never answered: timeout, the connection closed', async () => {
    const { port, count } = await h2(() => {});
    assert.deepEqual(
      await grpcCheck('127.0.0.1', probe(port), { ...CTX, timeoutMs: 500 }),
      fail('timeout after 0.5s', 'timeout'),
    );
    await waitFor('the connection closed', () => count.opened === 1 && count.open === 0);
  });

  it('the request as a gRPC server sees it', async () => {
    let seen: http2.IncomingHttpHeaders = {};
    let body = Buffer.alloc(0);
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      seen = headers;
      stream.on('data', (d: Buffer) => {
        body = Buffer.concat([body, d]);
      });
      stream.on('end', () => reply(message([0x08, 0x01]), { 'grpc-status': '0' })(stream));
    });
    netServers.push(server);
    const port = await listen(server);
    assert.deepEqual(
      await grpcCheck('127.0.0.1', probe(port, 'hades.Api'), { ...CTX, timeoutMs: 2000 }),
      pass,
    );
    assert.equal(seen[':method'], 'POST');
    assert.equal(seen[':path'], '/grpc.health.v1.Health/Check');
    assert.equal(seen['content-type'], 'application/grpc');
    assert.equal(seen.te, 'trailers');
    assert.equal(seen['grpc-timeout'], '2000m');
    assert.deepEqual(body, Buffer.concat([Buffer.from([0, 0, 0, 0, 11]), encodeCheckRequest('hades.Api')]));
  });
});

describe('grpc: messages and reasons', () => {
  it('encodeCheckRequest', () => {
    assert.deepEqual(encodeCheckRequest(''), Buffer.alloc(0));
    assert.deepEqual(encodeCheckRequest('a'), Buffer.from([0x0a, 0x01, 0x61]));
    const long = 'x'.repeat(200);
    assert.deepEqual(
      encodeCheckRequest(long),
      Buffer.concat([Buffer.from([0x0a, 0xc8, 0x01]), Buffer.from(long)]),
    );
    assert.deepEqual(encodeCheckRequest('é'), Buffer.from([0x0a, 0x02, 0xc3, 0xa9]));
  });

  it('decodeCheckResponse', () => {
    const cases: [bytes: number[], want: number][] = [
      [[], 0],
      [[0x08, 0x01], 1],
      [[0x08, 0x02], 2],
      [[0x08, 0x03], 3],
      [[0x10, 0x05, 0x08, 0x01], 1], // an unknown varint field first
      [[0x1a, 0x02, 0x61, 0x62, 0x08, 0x02], 2], // an unknown bytes field
      [[0x21, 1, 2, 3, 4, 5, 6, 7, 8, 0x08, 0x01], 1], // fixed64
      [[0x2d, 1, 2, 3, 4, 0x08, 0x02], 2], // fixed32
      [[0x08, 0x01, 0x08, 0x02], 2], // the last value wins
    ];
    for (const [bytes, want] of cases)
      assert.equal(decodeCheckResponse(Buffer.from(bytes)), want, String(bytes));
    for (const bad of [[0x08], [0x08, 0x80], [0x1a, 0x05, 0x61], [0x0b], [0x21, 1, 2]])
      assert.throws(() => decodeCheckResponse(Buffer.from(bad)), Error, String(bad));
  });

  it('callFailed', () => {
    const cases: [code: number, details: string, want: ProbeResult][] = [
      [status.DEADLINE_EXCEEDED, 'Deadline exceeded', fail('timeout after 1s', 'timeout')],
      [status.NOT_FOUND, 'unknown service', fail('gRPC SERVICE_UNKNOWN')],
      [status.UNAVAILABLE, 'ECONNRESET', fail('gRPC UNAVAILABLE: ECONNRESET')],
      [status.UNAVAILABLE, '', fail('gRPC UNAVAILABLE')],
      [status.UNIMPLEMENTED, 'no such method', fail('gRPC UNIMPLEMENTED: no such method')],
      [status.INTERNAL, 'x'.repeat(100), fail(`gRPC INTERNAL: ${'x'.repeat(79)}…`)],
      [99, '', fail('gRPC status 99')],
    ];
    for (const [code, details, want] of cases)
      assert.deepEqual(callFailed(code, details, 1000), want, details);
  });
});
