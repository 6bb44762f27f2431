/**
 * The batched UDP socket (native/udp_batch.c, src/dns/udp-batch.ts) under DnsServer: the addon is
 * built and loads on Linux (CI notices a broken build), bursts larger than a batch are answered
 * in full and in fewer batches than datagrams, each reply goes to its own source (address and
 * port), oversize datagrams are dropped and counted, clients on several 127.x addresses are told
 * apart, and a process running hades over real etcd answers dig through it. The C file compiles
 * without a warning against the headers of the node running the test (npm test runs it on Node 20
 * and on Node 24, the Dockerfile builds on Node 24) and that build loads.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TRANSPORT_UDP } from '../../src/dns/query-counters.js';
import { DnsServer } from '../../src/dns/server.js';
import { BATCH, udpBatchUnavailable } from '../../src/dns/udp-batch.js';
import { RRType } from '../../src/dns/wire/constants.js';
import { decode } from '../../src/dns/wire/decode.js';
import { encodeQuery } from '../../src/dns/wire/encode.js';
import { dig, digStatus, testHandler, udpFrom, waitFor } from './clients.js';

const linux = process.platform === 'linux';

describe('batched UDP', () => {
  it('the addon is built and loads (Linux)', { skip: !linux && 'Linux only' }, () => {
    assert.equal(udpBatchUnavailable(), '', 'build/udp_batch.node: run `node scripts/build-native.mjs`');
  });

  it("the C file compiles against this node's own headers, without a warning, and loads", {
    skip: !linux && 'Linux only',
  }, () => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const include = path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node');
    assert.ok(existsSync(path.join(include, 'node_api.h')), `${process.version}: no headers in ${include}`);
    const dir = mkdtempSync(path.join(tmpdir(), 'hades-udp-batch-'));
    try {
      const out = path.join(dir, 'udp_batch.node');
      const env = { ...process.env };
      delete env.npm_config_nodedir; // the headers beside process.execPath, not a configured folder
      const r = spawnSync(
        process.execPath,
        [path.join(root, 'scripts', 'build-native.mjs'), `--out=${out}`],
        {
          env,
          encoding: 'utf8',
        },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '', 'cc printed warnings (or the build was skipped)');
      const addon = createRequire(import.meta.url)(out) as Record<string, unknown>;
      for (const f of ['bind', 'open', 'addressText', 'sendTo', 'localPort', 'closeFd', 'close'])
        assert.equal(typeof addon[f], 'function', f);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const handler = testHandler();
  let server: DnsServer;
  before(async () => {
    server = new DnsServer({ udpBatch: linux, handler, host: '127.0.0.1', port: 0 });
    await server.listen();
  });
  after(async () => {
    await server.close();
  });

  it('answers a burst of several batches from many sockets, each reply to its own source', async (t) => {
    if (!linux) return t.skip('Linux only');
    assert.equal(server.udpMode, 'batch');
    const sockets = 10;
    const perSocket = 30; // 300 datagrams: more than four batches
    const clients: dgram.Socket[] = [];
    const got = new Map<number, number>(); // id → socket index that received it
    for (let s = 0; s < sockets; s++) {
      const c = dgram.createSocket('udp4');
      c.on('message', (m) => {
        const id = m.readUInt16BE(0);
        assert.equal(got.has(id), false, `reply ${id} twice`);
        got.set(id, s);
      });
      c.bind(0, '127.0.0.1');
      await once(c, 'listening');
      clients.push(c);
    }
    const batchesBefore = server.udpBatches;
    // all sent before the server's socket is read (same process: it reads once we yield)
    for (let s = 0; s < sockets; s++)
      for (let k = 0; k < perSocket; k++) {
        const id = s * perSocket + k + 1;
        clients[s].send(
          encodeQuery({ id, name: `n${id}.example.`, type: RRType.A, edns: null }),
          server.port,
          '127.0.0.1',
        );
      }
    try {
      await waitFor('every reply', () => got.size === sockets * perSocket, 10_000);
      for (const [id, s] of got)
        assert.equal(s, Math.floor((id - 1) / perSocket), `reply ${id} went to socket ${s}`);
      const batches = server.udpBatches - batchesBefore;
      assert.ok(batches >= Math.ceil((sockets * perSocket) / BATCH), `${batches} batches`);
      assert.ok(
        batches < sockets * perSocket,
        `${batches} batches for ${sockets * perSocket} datagrams: no batching`,
      );
    } finally {
      for (const c of clients) c.close();
    }
  });

  it('replies carry the question they answer', async (t) => {
    if (!linux) return t.skip('Linux only');
    const c = dgram.createSocket('udp4');
    const replies = new Map<number, Buffer>();
    c.on('message', (m) => replies.set(m.readUInt16BE(0), m));
    c.bind(0, '127.0.0.1');
    await once(c, 'listening');
    try {
      for (let i = 1; i <= 100; i++)
        c.send(
          encodeQuery({ id: i, name: `q${i}.example.`, type: RRType.A, edns: null }),
          server.port,
          '127.0.0.1',
        );
      await waitFor('100 replies', () => replies.size === 100, 10_000);
      for (const [id, m] of replies) {
        const d = decode(m);
        assert.equal(d.questions[0].name, `q${id}.example.`);
        assert.equal(d.answers[0].data, '192.0.2.1');
      }
    } finally {
      c.close();
    }
  });

  it('drops a datagram longer than a slot, counts it, and answers the next', async (t) => {
    if (!linux) return t.skip('Linux only');
    const before = server.stats.dropped;
    const c = dgram.createSocket('udp4');
    let replies = 0;
    c.on('message', () => replies++);
    c.bind(0, '127.0.0.1');
    await once(c, 'listening');
    try {
      const q = encodeQuery({ id: 9, name: 'big.example.', type: RRType.A, edns: null });
      c.send(Buffer.concat([q, Buffer.alloc(6000)]), server.port, '127.0.0.1');
      await waitFor('the drop counted', () => server.stats.dropped === before + 1, 5000);
      assert.equal(replies, 0);
      const r = decode(await udpFrom(server.port, '127.0.0.1', q));
      assert.equal(r.id, 9);
    } finally {
      c.close();
    }
  });

  it('tells clients on different addresses apart', async (t) => {
    if (!linux) return t.skip('Linux only');
    handler.seen.length = 0;
    for (const src of ['127.0.0.2', '127.0.0.3', '127.0.0.2', '127.0.0.4']) {
      const r = decode(
        await udpFrom(
          server.port,
          src,
          encodeQuery({ id: 5, name: 'a.example.', type: RRType.A, edns: null }),
        ),
      );
      assert.equal(r.id, 5);
    }
    assert.deepEqual(
      handler.seen.map((s) => s.address),
      ['127.0.0.2', '127.0.0.3', '127.0.0.2', '127.0.0.4'],
    );
    assert.ok(handler.seen.every((s) => s.transport === 'udp' && s.family === 4 && s.port > 0));
  });

  it('answers dig, and the metrics-facing stats count the queries', async (t) => {
    if (!linux) return t.skip('Linux only');
    const before = server.counters.requestsOn(TRANSPORT_UDP);
    const r = await dig(server.port, ['www.example.', 'A']);
    assert.equal(digStatus(r.stdout), 'NOERROR', r.stdout);
    assert.ok(server.counters.requestsOn(TRANSPORT_UDP) > before);
    assert.equal(server.stats.udpSendErrors, 0);
  });
});
