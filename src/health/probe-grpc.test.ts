/**
 * The grpc probe against a real grpc.health.v1 server (grpc-js with grpc-health-check) on
 * loopback, reached through a counting TCP relay so the test sees each check's connection open
 * and close; and against servers that are not one.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { freePort } from '../../test/harness/ports.js';
import { ConnectionCount, close, listen, rawServer } from '../../test/lib/probe-servers.js';
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

async function grpcServer(
  host: string,
  health?: HealthImplementation,
): Promise<{ server: Server; port: number }> {
  const server = new Server();
  health?.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { server, port };
}

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
