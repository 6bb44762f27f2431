/**
 * runProbe dispatches each handler kind to its check, with the context's timeout, CA, ping and
 * keep-alive settings; nothing it is given makes it reject.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Server } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { freePort } from '../../test/harness/ports.js';
import { ConnectionCount, close, grpcServer, listen, rawServer } from '../../test/lib/probe-servers.js';
import { waitFor } from '../../test/lib/wait.js';
import { type ProbeHandler, parseProbe } from '../records/probe.js';
import type { ProbeContext, ProbeResult } from './probe.js';
import { closeIdleProbeConnections } from './probe-http.js';
import { runProbe } from './run-probe.js';

let httpPort = 0;
let httpCount: ConnectionCount;
let silentPort = 0;
let grpcPort = 0;
let closedPort = 0;
let dir = '';
const servers: net.Server[] = [];
let grpc: Server;

before(async () => {
  const h = http.createServer((req, res) => {
    res.writeHead(req.url === '/down' ? 503 : 200);
    res.end('ok');
  });
  httpCount = new ConnectionCount().track(h);
  servers.push(h);
  httpPort = await listen(h);
  const silent = rawServer(() => {});
  servers.push(silent);
  silentPort = await listen(silent);
  ({ server: grpc, port: grpcPort } = await grpcServer(
    '127.0.0.1',
    new HealthImplementation({ '': 'SERVING', down: 'NOT_SERVING' }),
  ));
  closedPort = await freePort();
  dir = mkdtempSync(path.join(tmpdir(), 'hades-run-probe-'));
});

after(async () => {
  closeIdleProbeConnections();
  grpc.forceShutdown();
  for (const s of servers) await close(s);
  rmSync(dir, { recursive: true, force: true });
});

const CTX: ProbeContext = { timeoutMs: 5000, pingCount: 1 };
const handler = (probe: object): ProbeHandler => parseProbe(probe).handler;
const pass = (reason: string): ProbeResult => ({ ok: true, reason, class: 'ok' });
const fail = (reason: string, cls: ProbeResult['class']): ProbeResult => ({ ok: false, reason, class: cls });

describe('runProbe', () => {
  it('each kind, up and down', async () => {
    const cases: [name: string, probe: () => object, ctx: ProbeContext, want: ProbeResult][] = [
      ['httpGet up', () => ({ httpGet: { port: httpPort } }), CTX, pass('HTTP 200')],
      [
        'httpGet down',
        () => ({ httpGet: { port: httpPort, path: '/down' } }),
        CTX,
        fail('HTTP 503', 'http_status'),
      ],
      [
        'httpGet, the context timeout',
        () => ({ httpGet: { port: silentPort } }),
        { ...CTX, timeoutMs: 300 },
        fail('timeout after 0.3s', 'timeout'),
      ],
      ['tcpSocket up', () => ({ tcpSocket: { port: httpPort } }), CTX, pass('connected')],
      [
        'tcpSocket down',
        () => ({ tcpSocket: { port: closedPort } }),
        CTX,
        fail('connect ECONNREFUSED', 'connect'),
      ],
      ['grpc up', () => ({ grpc: { port: grpcPort } }), CTX, pass('gRPC SERVING')],
      [
        'grpc down',
        () => ({ grpc: { port: grpcPort, service: 'down' } }),
        CTX,
        fail('gRPC NOT_SERVING', 'grpc'),
      ],
      ['grpc closed', () => ({ grpc: { port: closedPort } }), CTX, fail('connect ECONNREFUSED', 'connect')],
      ['icmp up (loopback)', () => ({ icmp: {} }), CTX, pass('echo reply')],
    ];
    for (const [name, probe, ctx, want] of cases)
      assert.deepEqual(await runProbe('127.0.0.1', handler(probe()), ctx), want, name);
  });

  it('icmp: the context’s ping program and count', async () => {
    const args = path.join(dir, 'args');
    const ping = path.join(dir, 'ping.sh');
    writeFileSync(ping, `#!/bin/sh\nprintf '%s ' "$@" > ${args}\nexit 1\n`);
    chmodSync(ping, 0o755);
    assert.deepEqual(
      await runProbe('127.0.0.1', handler({ icmp: {} }), { timeoutMs: 700, pingCount: 3, pingBinary: ping }),
      fail('no echo reply', 'icmp'),
    );
    const { readFileSync } = await import('node:fs');
    assert.equal(readFileSync(args, 'utf8').trim(), '-n -q -c 3 -i 0.2 -W 0.7 127.0.0.1');
  });

  it('httpGet: keepAlive from the context', async () => {
    const first = httpCount.opened;
    for (let i = 0; i < 3; i++)
      assert.deepEqual(
        await runProbe('127.0.0.1', handler({ httpGet: { port: httpPort } }), { ...CTX, keepAlive: true }),
        pass('HTTP 200'),
      );
    assert.equal(httpCount.opened - first, 1);
    closeIdleProbeConnections();
    await waitFor('every connection closed', () => httpCount.open === 0);
  });

  it('never rejects, whatever it is handed', async () => {
    const odd: ProbeHandler[] = [
      { kind: 'tcpSocket', port: 70000 },
      { kind: 'grpc', port: -1, service: '' },
      {
        kind: 'httpGet',
        path: '/',
        port: 0,
        host: undefined,
        scheme: 'HTTP',
        httpHeaders: [],
        expectStatus: [],
        expectBody: undefined,
        insecureSkipVerify: false,
      },
      { kind: 'unknown' } as unknown as ProbeHandler,
    ];
    for (const h of odd) {
      const r = await runProbe('127.0.0.1', h, { ...CTX, timeoutMs: 500 });
      assert.equal(r.ok, false, JSON.stringify(h));
      assert.equal(typeof r.reason, 'string');
    }
    const bad = await runProbe('not an address', handler({ tcpSocket: { port: 80 } }), {
      ...CTX,
      timeoutMs: 500,
    });
    assert.equal(bad.ok, false);
  });
});
