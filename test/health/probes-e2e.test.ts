/**
 * Issue 13 end to end: real etcd, hades, hades-schedule and hades-scanner started from the seed's
 * INI layout, and real servers this test opens on 127.0.2.x — node:http, node:https with a
 * certificate made by openssl now (trusted through the scanner's `probe-ca-file`), a gRPC health
 * server, TCP listeners (one that accepts and never answers). Each address has a `probe` in its
 * status key; each goes UP → DOWN → UP through its probe, with the reason the scanner writes, and
 * leaves and rejoins hades's answer.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Server as GrpcServer } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { leafKey, serializeRecordValue } from '../../src/records/record.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { makeServerCert, type ServerCert } from '../harness/certs.js';
import { type EtcdProcess, freePort, startEtcd } from '../harness/etcd.js';
import { grpcServer } from '../lib/probe-servers.js';
import { digA, type Proc, spawnBin, waitFor } from './procs.js';

const STATUS = '/hades/monitor/status/';
const ZONE = 'probes.hades.local.';
const FAST = { periodSeconds: 1, failureThreshold: 1, successThreshold: 1, timeoutSeconds: 1 };

/** One address under test: a name of its own with an unmonitored partner (so DOWN leaves the answer). */
interface Case {
  name: string;
  ip: string;
  /** Starts its server; returns the probe to write. */
  start: () => Promise<object>;
  /** Makes the check fail. */
  fail: () => Promise<void>;
  /** Makes it pass again. */
  recover: () => Promise<void>;
  /** The reason written when it goes DOWN, and when it comes back UP. */
  downReason: string;
  upReason: string;
}

describe('probes end to end: httpGet, HTTPS, grpc, tcpSocket, timeout (issue 13)', () => {
  let etcd: EtcdProcess;
  let store: Store;
  let dir: string;
  let dnsPort: number;
  let cert: ServerCert;
  const procs = new Map<string, Proc>();
  const closers: (() => Promise<void>)[] = [];
  const diag = (): string =>
    [...procs].map(([n, p]) => `--- ${n} ---\n${p.output().slice(-3000)}`).join('\n');

  const listen = (srv: net.Server, ip: string, port = 0): Promise<number> =>
    new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host: ip, port, exclusive: true }, () => {
        closers.push(() => close(srv));
        resolve((srv.address() as net.AddressInfo).port);
      });
    });
  const close = (srv: net.Server | undefined): Promise<void> =>
    new Promise((r) => {
      if (!srv?.listening) return r();
      (srv as http.Server).closeAllConnections?.();
      srv.close(() => r());
    });
  /** Read, change the probe, put (the status is steady then: the scanner is not writing). */
  const setProbe = async (ip: string, probe: object): Promise<void> => {
    const cur = JSON.parse((await store.get(STATUS + ip))?.value ?? '{}');
    await store.put(STATUS + ip, JSON.stringify({ ...cur, probe }));
  };

  let httpCode = 200;
  let bodyPort = 0;
  let httpsServer: https.Server | undefined;
  let httpsPort = 0;
  const health = new HealthImplementation({ '': 'SERVING' });
  let grpc: GrpcServer | undefined;
  let tcpServer: net.Server | undefined;
  let tcpPort = 0;
  const silent = new Set<net.Socket>();
  let silentServer: net.Server | undefined;
  let silentPort = 0;
  const cases: Case[] = [
    {
      name: 'http',
      ip: '127.0.2.1',
      start: async () => {
        const srv = http.createServer((_req, res) => {
          res.writeHead(httpCode, { 'content-type': 'text/plain' });
          res.end('ok');
        });
        const port = await listen(srv, '127.0.2.1');
        return { httpGet: { path: '/healthz', port, expectStatus: '200,204', expectBody: 'ok' }, ...FAST };
      },
      fail: async () => {
        httpCode = 503;
      },
      recover: async () => {
        httpCode = 200;
      },
      downReason: 'HTTP 503',
      upReason: 'HTTP 200',
    },
    {
      name: 'body',
      ip: '127.0.2.2',
      start: async () => {
        bodyPort = await listen(
          http.createServer((_req, res) => res.end('ok')),
          '127.0.2.2',
        );
        return { httpGet: { port: bodyPort, expectBody: 'ok' }, ...FAST };
      },
      fail: () => setProbe('127.0.2.2', { httpGet: { port: bodyPort, expectBody: 'ready' }, ...FAST }),
      recover: () => setProbe('127.0.2.2', { httpGet: { port: bodyPort, expectBody: 'ok' }, ...FAST }),
      downReason: 'body does not contain "ready"',
      upReason: 'HTTP 200',
    },
    {
      name: 'https',
      ip: '127.0.2.3',
      start: async () => {
        httpsServer = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end('ok'));
        httpsPort = await listen(httpsServer, '127.0.2.3', httpsPort);
        // verified: the name is in the certificate, its CA comes from probe-ca-file
        return { httpGet: { scheme: 'HTTPS', host: 'svc.probes.test', port: httpsPort }, ...FAST };
      },
      fail: () => close(httpsServer),
      recover: async () => {
        httpsServer = https.createServer({ key: cert.key, cert: cert.cert }, (_req, res) => res.end('ok'));
        await listen(httpsServer, '127.0.2.3', httpsPort);
      },
      downReason: 'connect ECONNREFUSED',
      upReason: 'HTTP 200',
    },
    {
      name: 'grpc',
      ip: '127.0.2.4',
      start: async () => {
        health.setStatus('hades.Test', 'SERVING');
        const g = await grpcServer('127.0.2.4', health);
        grpc = g.server;
        return { grpc: { port: g.port, service: 'hades.Test' }, ...FAST };
      },
      fail: async () => health.setStatus('hades.Test', 'NOT_SERVING'),
      recover: async () => health.setStatus('hades.Test', 'SERVING'),
      downReason: 'gRPC NOT_SERVING',
      upReason: 'gRPC SERVING',
    },
    {
      name: 'tcp',
      ip: '127.0.2.5',
      start: async () => {
        tcpServer = net.createServer((c) => c.end());
        tcpPort = await listen(tcpServer, '127.0.2.5');
        return { tcpSocket: { port: tcpPort }, ...FAST };
      },
      fail: () => close(tcpServer),
      recover: async () => {
        tcpServer = net.createServer((c) => c.end());
        await listen(tcpServer, '127.0.2.5', tcpPort);
      },
      downReason: 'connect ECONNREFUSED',
      upReason: 'connected',
    },
    {
      name: 'timeout',
      ip: '127.0.2.6',
      // an HTTP probe against a listener that accepts and never answers, then a real HTTP server
      start: async () => {
        silentServer = net.createServer((c) => {
          silent.add(c);
          c.on('close', () => silent.delete(c));
        });
        silentPort = await listen(silentServer, '127.0.2.6');
        return { httpGet: { port: silentPort }, ...FAST };
      },
      fail: async () => {},
      recover: async () => {
        for (const c of silent) c.destroy();
        await close(silentServer);
        await listen(
          http.createServer((_req, res) => res.end('ok')),
          '127.0.2.6',
          silentPort,
        );
      },
      downReason: 'timeout after 1s',
      upReason: 'HTTP 200',
    },
  ];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hades-probes-e2e-'));
    cert = await makeServerCert(dir, { dns: ['svc.probes.test'], ips: ['127.0.2.3'] });
    etcd = await startEtcd();
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    dnsPort = await freePort();
    procs.set(
      'hades',
      spawnBin('hades', [
        '-addr',
        `127.0.0.1:${dnsPort}`,
        '-machines',
        etcd.endpoint,
        '-domain',
        'hades.local.',
        '-logtostderr',
      ]),
    );
    const ini = path.join(dir, 'hades-scanner.conf');
    writeFileSync(
      ini,
      `[General]
core = 0
enable-check = true
hostname = probes-1
log-dir =
log-level = 1
heartbeat-interval = 1
[Check]
check-timeout = 1
check-interval = 1
scann-ports =
enable-icmp = false
fall = 3
rise = 2
max-concurrency = 16
probe-ca-file = ${cert.caFile}
[Etcd]
etcd-machine = ${etcd.endpoint}
status-path = /hades/monitor/status
report-path = /hades/monitor/report
heart-path = /hades/monitor/heart
`,
    );
    const sched = path.join(dir, 'hades-schedule.conf');
    writeFileSync(
      sched,
      `[General]
schedule-interval = 2
agent-downtime = 2
hostname = sched-1
lock-ttl = 2
[Etcd]
etcd-machine = ${etcd.endpoint}
status-path = /hades/monitor/status
report-path = /hades/monitor/report
heart-path = /hades/monitor/heart
lock-path = /hades/monitor/lock
`,
    );
    procs.set('scanner', spawnBin('hades-scanner', ['-config-file', ini]));
    procs.set('schedule', spawnBin('hades-schedule', ['-config-file', sched]));
  });

  after(async () => {
    for (const p of procs.values()) await p.stop();
    await store?.close();
    await etcd?.stop();
    for (const c of silent) c.destroy();
    for (const c of closers) await c();
    grpc?.forceShutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const statusOf = async (
    ip: string,
  ): Promise<{ status?: string; reason?: string; changed?: string; admin?: string }> =>
    JSON.parse((await store.get(STATUS + ip))?.value ?? '{}');

  for (const c of cases) {
    test(`${c.name}: UP → DOWN (${c.downReason}) → UP (${c.upReason}), out of and back in the answer`, async () => {
      const name = `${c.name}.${ZONE}`;
      const partner = c.ip.replace(/\.(\d+)$/, (_m, d) => `.${Number(d) + 100}`); // unmonitored: always served
      const nameKey = `/hades/local/hades/probes/${c.name}`;
      for (const host of [c.ip, partner]) {
        const v = serializeRecordValue({ host, select: 'all', ttl: 1 });
        await store.put(leafKey(nameKey, v), v);
      }
      await store.put(STATUS + c.ip, JSON.stringify({ status: 'UP', probe: await c.start(), admin: 'none' }));
      await waitFor(
        `${c.name} served`,
        async () => (await digA(dnsPort, name))?.includes(c.ip) === true,
        30_000,
        {
          diag,
        },
      );
      await c.fail();
      await waitFor(`${c.name} DOWN`, async () => (await statusOf(c.ip)).status === 'DOWN', 30_000, { diag });
      const down = await statusOf(c.ip);
      assert.equal(down.reason, c.downReason);
      assert.match(down.changed ?? '', /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
      assert.equal(down.admin, 'none', 'the scanner keeps the fields it does not own');
      await waitFor(
        `${c.name} out of the answer`,
        async () => {
          const a = (await digA(dnsPort, name)) ?? [];
          return a.includes(partner) && !a.includes(c.ip);
        },
        30_000,
        { diag },
      );
      await c.recover();
      await waitFor(`${c.name} UP`, async () => (await statusOf(c.ip)).status === 'UP', 30_000, { diag });
      assert.equal((await statusOf(c.ip)).reason, c.upReason);
      await waitFor(
        `${c.name} back in the answer`,
        async () => (await digA(dnsPort, name))?.includes(c.ip) === true,
        30_000,
        {
          diag,
        },
      );
    });
  }
});
