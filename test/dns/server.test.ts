/**
 * DnsServer (src/dns/server.ts) in process, with a tiny test handler: UDP and TCP on one port,
 * framing across partial reads and coalesced frames, pipelining in order, idle timeout,
 * connection cap, backpressure, FORWARD → REFUSED and the forwarder seam, SERVFAIL on a handler
 * exception, IPv6, and the real dig over both transports.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Upstreams } from '../../src/dns/pipeline/forward.js';
import { TRANSPORT_TCP, TRANSPORT_UDP } from '../../src/dns/query-counters.js';
import { DnsServer } from '../../src/dns/server.js';
import { Rcode, RRType } from '../../src/dns/wire/constants.js';
import { decode } from '../../src/dns/wire/decode.js';
import { encode, encodeQuery } from '../../src/dns/wire/encode.js';
import { dig, digStatus, frame, sleep, TcpClient, testHandler, udpQuery, waitFor } from './clients.js';

function q(id: number, name: string, type: number = RRType.A, edns = false): Buffer {
  return encodeQuery({ id, name, type, edns: edns ? { udpSize: 4096 } : null });
}

/** Responses sent with `rcode`, both transports. */
function responses(server: DnsServer, rcode: number): number {
  return (
    server.counters.responses[TRANSPORT_UDP * 16 + rcode] +
    server.counters.responses[TRANSPORT_TCP * 16 + rcode]
  );
}

// every case runs on both UDP paths: the batched socket (recvmmsg/sendmmsg) and node:dgram
for (const udpBatch of [true, false]) {
  const mode = udpBatch ? 'batched UDP' : 'node:dgram';

  describe(`DnsServer (${mode})`, () => {
    const handler = testHandler();
    let server: DnsServer;
    let port: number;

    before(async () => {
      server = new DnsServer({
        udpBatch,
        handler,
        host: '127.0.0.1',
        port: 0,
        udpSize: 4096, // big10 (2 KB) fits a 4096-octet EDNS client
        tcpIdleTimeoutMs: 300,
        maxTcpConnections: 4,
      });
      await server.listen();
      port = server.port;
    });
    after(async () => {
      await server.close();
    });

    it('binds UDP and TCP on the same port and answers both', async () => {
      assert.ok(port > 0);
      const u = decode(await udpQuery(port, q(7, 'www.example.')));
      assert.equal(u.id, 7);
      assert.equal(u.answers[0].data, '192.0.2.1');
      const c = await TcpClient.connect(port);
      await c.write(frame(q(8, 'www.example.')));
      const [f] = await c.waitFrames(1);
      assert.equal(decode(f).id, 8);
      c.destroy();
      assert.ok(
        handler.seen.some((s) => s.transport === 'udp' && s.address === '127.0.0.1' && s.family === 4),
      );
      assert.ok(handler.seen.some((s) => s.transport === 'tcp' && s.address === '127.0.0.1'));
    });

    it('answers real dig over UDP and TCP', async () => {
      const u = await dig(port, ['www.example.', 'A']);
      assert.equal(digStatus(u.stdout), 'NOERROR', u.stdout);
      const t = await dig(port, ['+tcp', 'www.example.', 'A']);
      assert.equal(digStatus(t.stdout), 'NOERROR', t.stdout);
      assert.match(t.stdout, /192\.0\.2\.1/);
    });

    it('answers pipelined queries in order, frames coalesced into one write', async () => {
      const c = await TcpClient.connect(port);
      const n = 300;
      await c.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame(q(i, `n${i}.example.`)))));
      const frames = await c.waitFrames(n);
      frames.forEach((f, i) => {
        const m = decode(f);
        assert.equal(m.id, i);
        assert.equal(m.questions[0].name, `n${i}.example.`);
      });
      c.destroy();
    });

    it('reassembles frames split at every byte, and frames split across writes', async () => {
      const c = await TcpClient.connect(port);
      const a = frame(q(1, 'split.example.'));
      // the thing under test: the pauses make each write arrive as a read of its own
      for (const byte of a) {
        await c.write(Buffer.from([byte]));
        await sleep(1);
      }
      await c.waitFrames(1);
      // one and a half frames, then the rest with another whole frame
      const b = frame(q(2, 'b.example.'));
      const d = frame(q(3, 'd.example.'));
      const e = frame(q(4, 'e.example.'));
      const all = Buffer.concat([b, d, e]);
      const cut = b.length + 5;
      await c.write(all.subarray(0, cut));
      await sleep(20);
      await c.write(all.subarray(cut, cut + 1));
      await sleep(20);
      await c.write(all.subarray(cut + 1));
      const frames = await c.waitFrames(4);
      assert.deepEqual(
        frames.map((f) => decode(f).id),
        [1, 2, 3, 4],
      );
      c.destroy();
    });

    it('skips zero-length frames and answers what follows', async () => {
      const before = server.stats.tcpEmptyFrames;
      const c = await TcpClient.connect(port);
      await c.write(Buffer.concat([Buffer.from([0, 0]), frame(q(9, 'after.example.'))]));
      const [f] = await c.waitFrames(1);
      assert.equal(decode(f).id, 9);
      assert.equal(server.stats.tcpEmptyFrames, before + 1);
      c.destroy();
    });

    it('answers a query sent before a half-close, then closes', async () => {
      const c = await TcpClient.connect(port);
      c.socket.end(frame(q(11, 'halfclose.example.')));
      const [f] = await c.waitFrames(1);
      assert.equal(decode(f).id, 11);
      await c.waitClosed();
    });

    it('closes idle connections (idle timeout)', async () => {
      const before = server.stats.tcpIdleTimeouts;
      const c = await TcpClient.connect(port);
      await c.write(Buffer.from([0x00])); // half a length prefix, then nothing
      await c.waitClosed();
      assert.ok(server.stats.tcpIdleTimeouts > before);
    });

    it('caps concurrent connections: the ones beyond are closed, later ones accepted again', async () => {
      await waitFor('no open connections', () => server.tcpOpen === 0);
      const rejectedBefore = server.stats.tcpRejected;
      const held: TcpClient[] = [];
      for (let i = 0; i < 4; i++) held.push(await TcpClient.connect(port));
      await waitFor('4 open', () => server.tcpOpen === 4);
      const extra = await TcpClient.connect(port);
      await extra.waitClosed();
      assert.equal(server.stats.tcpRejected, rejectedBefore + 1);
      // the held ones still work
      await held[0].write(frame(q(21, 'held.example.')));
      assert.equal(decode((await held[0].waitFrames(1))[0]).id, 21);
      for (const h of held) h.destroy();
      await waitFor('connections gone', () => server.tcpOpen === 0);
      const again = await TcpClient.connect(port);
      await again.write(frame(q(22, 'again.example.')));
      assert.equal(decode((await again.waitFrames(1))[0]).id, 22);
      again.destroy();
    });

    it('stops reading from a client that does not read its replies, and resumes when it does', async () => {
      const big = new DnsServer({ udpBatch, handler, host: '127.0.0.1', port: 0, tcpIdleTimeoutMs: 10_000 });
      await big.listen();
      try {
        const c = await TcpClient.connect(big.port);
        c.socket.pause(); // read nothing for now
        const n = 400; // 400 replies of ~60 KB: 24 MB if nothing held us back
        const reqs = Buffer.concat(Array.from({ length: n }, (_, i) => frame(q(i, 'big290.example.'))));
        c.socket.write(reqs);
        await waitFor('backpressure', () => big.stats.tcpBackpressure > 0);
        // a negative check: the server must not answer all n while the client reads nothing; 200 ms
        // for it to (wrongly) carry on
        await sleep(200);
        assert.ok(
          big.counters.requestsOn(TRANSPORT_TCP) < n,
          `answered ${big.counters.requestsOn(TRANSPORT_TCP)} of ${n} without the client reading`,
        );
        c.socket.resume();
        const frames = await c.waitFrames(n, 60_000);
        assert.deepEqual(
          frames.map((f) => decode(f).id),
          Array.from({ length: n }, (_, i) => i),
        );
        assert.equal(decode(frames[0]).answers.length, 290);
        c.destroy();
      } finally {
        await big.close();
      }
    });

    it('truncates on UDP (TC) and answers in full on TCP', async () => {
      const u = decode(await udpQuery(port, q(31, 'big10.example.', RRType.TXT)));
      assert.equal(u.tc, true);
      assert.equal(u.answers.length, 0);
      const e = decode(await udpQuery(port, q(32, 'big10.example.', RRType.TXT, true)));
      assert.equal(e.tc, false);
      assert.equal(e.answers.length, 10);
      const c = await TcpClient.connect(port);
      await c.write(frame(q(33, 'big10.example.', RRType.TXT)));
      const t = decode((await c.waitFrames(1))[0]);
      assert.equal(t.tc, false);
      assert.equal(t.answers.length, 10);
      c.destroy();
      const d = await dig(port, ['+noedns', 'big10.example.', 'TXT']);
      assert.match(d.stdout, /Truncated, retrying in TCP mode/);
      assert.equal(digStatus(d.stdout), 'NOERROR');
    });

    it('answers REFUSED when the handler forwards and there is no forwarder; SERVFAIL when it throws; nothing for DROP', async () => {
      const s0 = { ...server.stats };
      const refused0 = responses(server, Rcode.REFUSED);
      const servfail0 = responses(server, Rcode.SERVFAIL);
      const r = decode(await udpQuery(port, q(41, 'fwd.example.', RRType.A, true)));
      assert.equal(r.rcode, 5);
      assert.equal(r.id, 41);
      assert.equal(r.questions[0].name, 'fwd.example.');
      assert.ok(r.edns, 'OPT echoed');
      const s = decode(await udpQuery(port, q(42, 'throw.example.')));
      assert.equal(s.rcode, 2);
      await assert.rejects(udpQuery(port, q(43, 'drop.example.'), '127.0.0.1', 300));
      const c = await TcpClient.connect(port);
      await c.write(
        Buffer.concat([
          frame(q(44, 'fwd.example.')),
          frame(q(45, 'throw.example.')),
          frame(q(46, 'drop.example.')),
          frame(q(47, 'ok.example.')),
        ]),
      );
      const frames = await c.waitFrames(3);
      assert.deepEqual(
        frames.map((f) => [decode(f).id, decode(f).rcode]),
        [
          [44, 5],
          [45, 2],
          [47, 0],
        ],
      );
      c.destroy();
      assert.equal(responses(server, Rcode.REFUSED), refused0 + 2);
      assert.equal(responses(server, Rcode.SERVFAIL), servfail0 + 2);
      assert.equal(server.stats.forwarded, s0.forwarded + 2);
      assert.equal(server.stats.handlerErrors, s0.handlerErrors + 2);
      assert.ok(server.stats.dropped >= s0.dropped + 2);
    });

    it('drops unreadable packets and answers FORMERR when the header is readable', async () => {
      await assert.rejects(udpQuery(port, Buffer.from([1, 2, 3]), '127.0.0.1', 300));
      const bad = Buffer.from(q(51, 'x.example.'));
      bad.writeUInt16BE(2, 4); // qdcount 2
      const r = decode(await udpQuery(port, bad));
      assert.equal(r.rcode, 1);
      assert.equal(r.id, 51);
    });
  });

  describe(`DnsServer with a forwarder (${mode})`, () => {
    it('keeps TCP replies in order around slow forwarded queries and sends forwarded UDP replies', async () => {
      const handler = testHandler();
      let delay = 400;
      const forwarder: Upstreams = {
        completeExternal: () => false,
        forward(req, len, _transport, done) {
          const m = decode(Buffer.from(req.subarray(0, len)));
          const reply = encode({
            id: m.id,
            qr: true,
            rcode: 0,
            questions: m.questions,
            answers: [{ name: m.questions[0].name, type: RRType.A, ttl: 5, data: '198.51.100.7' }],
          });
          delay = Math.max(0, delay - 100);
          setTimeout(() => done(reply, 0), delay);
        },
      };
      // forwarded replies take longer than the idle timeout: the connection must wait for them
      const server = new DnsServer({
        udpBatch,
        handler,
        forwarder,
        host: '127.0.0.1',
        port: 0,
        tcpIdleTimeoutMs: 100,
      });
      await server.listen();
      try {
        const u = decode(await udpQuery(server.port, q(1, 'fwd.example.')));
        assert.equal(u.answers[0].data, '198.51.100.7');
        const c = await TcpClient.connect(server.port);
        await c.write(
          Buffer.concat([
            frame(q(10, 'fwd.a.')),
            frame(q(11, 'local.a.')),
            frame(q(12, 'fwd.b.')),
            frame(q(13, 'fwd.c.')),
            frame(q(14, 'local.b.')),
          ]),
        );
        const frames = await c.waitFrames(5);
        assert.deepEqual(
          frames.map((f) => decode(f).id),
          [10, 11, 12, 13, 14],
        );
        c.destroy();
      } finally {
        await server.close();
      }
    });
  });

  describe(`DnsServer lifecycle (${mode})`, () => {
    it('rejects listen on a port in use, and a second listen', async () => {
      const a = new DnsServer({ udpBatch, handler: testHandler(), host: '127.0.0.1', port: 0 });
      await a.listen();
      await assert.rejects(a.listen(), /listen/);
      const b = new DnsServer({ udpBatch, handler: testHandler(), host: '127.0.0.1', port: a.port });
      await assert.rejects(b.listen(), (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE');
      await b.close();
      // close with a connection open
      const c = await TcpClient.connect(a.port);
      await a.close();
      await c.waitClosed();
      await a.close(); // idempotent
    });

    it('serves IPv6 on [::1]', async (t) => {
      const probe = net.createServer();
      const ok = await new Promise<boolean>((resolve) => {
        probe.once('error', () => resolve(false));
        probe.listen(0, '::1', () => probe.close(() => resolve(true)));
      });
      if (!ok) {
        t.skip('no IPv6 loopback here');
        return;
      }
      const handler = testHandler();
      const s = new DnsServer({ udpBatch, handler, host: '::1', port: 0 });
      await s.listen();
      try {
        const u = decode(await udpQuery(s.port, q(5, 'v6.example.'), '::1'));
        assert.equal(u.id, 5);
        const d = await dig(s.port, ['+tcp', 'v6.example.'], '::1');
        assert.equal(digStatus(d.stdout), 'NOERROR', d.stdout + d.stderr);
        assert.ok(handler.seen.some((c) => c.family === 6 && c.address === '::1'));
      } finally {
        await s.close();
      }
    });
  });
}
