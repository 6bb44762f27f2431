/**
 * The forwarder against upstream DNS servers this test runs itself on loopback (127.0.0.x, ::1):
 * small UDP+TCP servers built with the wire codec whose behaviour each test sets. Timeouts in the
 * options are generous where nothing should time out and short where a timeout is the point;
 * nothing asserts on elapsed time, only on outcomes and on which upstream saw what.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { testHandler } from '../../../test/dns/clients.js';
import { freePort } from '../../../test/harness/ports.js';
import { formatHostPort, type HostPort } from '../../common/host-port.js';
import { NOOP_LOGGER } from '../../common/logger.js';
import { NoisyLog } from '../noisy-log.js';
import { QueryPipeline } from '../pipeline/pipeline.js';
import { QueryCounters } from '../query-counters.js';
import { newServerStats } from '../server-stats.js';
import { PENDING } from '../types.js';
import { Rcode, RRType } from '../wire/constants.js';
import { decode, type Message } from '../wire/decode.js';
import { encode, encodeQuery, type MessageInput, type RRInput } from '../wire/encode.js';
import { ResponseWriter } from '../wire/writer.js';
import type { ExternalAnswer } from './external.js';
import { Forwarder, type ForwarderOptions } from './forwarder.js';

// ---- a loopback upstream ---------------------------------------------------------------------------

type Transport = 'udp' | 'tcp';

function loopback(port: number): HostPort {
  return { host: '127.0.0.1', port, family: 4 };
}

interface Seen {
  transport: Transport;
  msg: Message;
  /** Where the query came from (the forwarder's socket). */
  from: { address: string; port: number };
}

type Send = (reply: Buffer) => void;
type Behavior = (msg: Message, transport: Transport, send: Send, seen: Seen) => void;

class TestUpstream {
  readonly received: Seen[] = [];
  behavior: Behavior;
  private readonly conns = new Set<net.Socket>();

  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server | null,
    behavior: Behavior,
  ) {
    this.behavior = behavior;
    udp.on('message', (buf, rinfo) => {
      let msg: Message;
      try {
        msg = decode(buf);
      } catch {
        return;
      }
      const seen: Seen = { transport: 'udp', msg, from: { address: rinfo.address, port: rinfo.port } };
      this.received.push(seen);
      this.behavior(msg, 'udp', (r) => udp.send(r, rinfo.port, rinfo.address), seen);
    });
    tcp?.on('connection', (s) => {
      this.conns.add(s);
      s.on('close', () => this.conns.delete(s));
      s.on('error', () => {});
      let pending = Buffer.alloc(0);
      s.on('data', (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2) {
          const n = pending.readUInt16BE(0);
          if (pending.length < n + 2) break;
          const frame = pending.subarray(2, n + 2);
          pending = pending.subarray(n + 2);
          let msg: Message;
          try {
            msg = decode(frame);
          } catch {
            continue;
          }
          const seen: Seen = {
            transport: 'tcp',
            msg,
            from: { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 },
          };
          this.received.push(seen);
          this.behavior(
            msg,
            'tcp',
            (r) => {
              const out = Buffer.alloc(r.length + 2);
              out.writeUInt16BE(r.length, 0);
              r.copy(out, 2);
              if (!s.destroyed) s.write(out);
            },
            seen,
          );
        }
      });
    });
  }

  /** UDP and TCP on the same port (`port` 0: a free one). `tcp: false`: UDP only. */
  static async start(
    host = '127.0.0.1',
    behavior: Behavior = answerA('192.0.2.1'),
    port = 0,
    tcp = true,
  ): Promise<TestUpstream> {
    for (let attempt = 0; ; attempt++) {
      let server: net.Server | null = null;
      let p = port;
      try {
        if (tcp) {
          const srv = net.createServer();
          server = srv;
          await new Promise<void>((resolve, reject) => {
            srv.once('error', reject);
            srv.listen({ host, port }, () => resolve());
          });
          p = (srv.address() as net.AddressInfo).port;
        }
        const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(p, host, () => resolve());
        });
        return new TestUpstream(host, (udp.address() as net.AddressInfo).port, udp, server, behavior);
      } catch (err) {
        const s = server as net.Server | null;
        if (s !== null) await new Promise<void>((r) => s.close(() => r()));
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port !== 0 || attempt > 20) throw err;
      }
    }
  }

  get hostPort(): HostPort {
    return { host: this.host, port: this.port, family: this.host.includes(':') ? 6 : 4 };
  }

  get address(): string {
    return formatHostPort(this.hostPort);
  }

  /** Queries other than the health probe (`. NS`). */
  get queries(): Seen[] {
    return this.received.filter((s) => s.msg.questions[0]?.name !== '.');
  }

  get probes(): Seen[] {
    return this.received.filter((s) => s.msg.questions[0]?.name === '.');
  }

  async close(): Promise<void> {
    for (const s of this.conns) s.destroy();
    await new Promise<void>((r) => this.udp.close(() => r()));
    const tcp = this.tcp;
    if (tcp) await new Promise<void>((r) => tcp.close(() => r()));
  }
}

/** A reply to `m` (question echoed as received unless given). */
function reply(m: Message, o: Partial<MessageInput> = {}): Buffer {
  return encode({
    id: m.id,
    qr: true,
    rd: m.rd,
    ra: true,
    questions: m.questions,
    edns: m.edns ? { udpSize: 1232 } : null,
    ...o,
  });
}

function aRecords(m: Message, n: number, base = '192.0.2'): RRInput[] {
  const out: RRInput[] = [];
  for (let i = 0; i < n; i++)
    out.push({ name: m.questions[0].name, type: RRType.A, ttl: 60, data: `${base}.${i + 1}` });
  return out;
}

/** Answers every query with one A record `ip` (the question echoed in lower case, like some resolvers). */
function answerA(ip: string): Behavior {
  return (m, _t, send) => {
    const name = m.questions[0].name.toLowerCase();
    send(
      reply(m, {
        questions: [{ ...m.questions[0], name }],
        answers: [{ name, type: RRType.A, ttl: 60, data: ip }],
      }),
    );
  };
}

const silent: Behavior = () => {};

function query(name: string, id = 0x1234, edns: number | null = 1232, type: number = RRType.A): Buffer {
  return encodeQuery({ id, name, type, edns: edns === null ? null : { udpSize: edns } });
}

interface Outcome {
  reply: Buffer | null;
  rcode: number | undefined;
  msg: Message | null;
  /** done ran before forward() returned. */
  sync: boolean;
}

function forward(f: Forwarder, req: Buffer, transport: Transport = 'udp'): Promise<Outcome> {
  return new Promise((resolve) => {
    let returned = false;
    let calls = 0;
    f.forward(req, req.length, transport, (r, rcode) => {
      calls++;
      assert.equal(calls, 1, 'done called once');
      resolve({ reply: r, rcode, msg: r ? decode(r) : null, sync: !returned });
    });
    returned = true;
  });
}

function firstA(o: Outcome): string | undefined {
  const rr = o.msg?.answers.find((a) => a.type === RRType.A);
  return rr?.data as string | undefined;
}

async function until(what: string, cond: () => boolean, limitMs = 15000): Promise<void> {
  const end = Date.now() + limitMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanup: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function upstream(
  host?: string,
  behavior?: Behavior,
  port?: number,
  tcp?: boolean,
): Promise<TestUpstream> {
  const u = await TestUpstream.start(host, behavior, port, tcp);
  cleanup.push(() => u.close());
  return u;
}

function forwarder(o: ForwarderOptions): Forwarder {
  const f = new Forwarder({ readTimeoutMs: 3000, ...o });
  cleanup.push(() => f.close());
  return f;
}

function stat(f: Forwarder, u: TestUpstream) {
  const x = f.upstreams().find((a) => a.address === u.address);
  assert.ok(x, `upstream ${u.address}`);
  return x;
}

/**
 * A loopback port with nothing listening (UDP: ICMP port unreachable; TCP: RST): one of this
 * process's own (test/harness/ports.ts), which nobody binds meanwhile.
 */
const closedPort = freePort;

// ---- tests -------------------------------------------------------------------------------------------

describe('Forwarder: relaying', () => {
  it('relays the answer with the client ID, the client question case, RA and our EDNS size', async () => {
    const up = await upstream();
    const f = forwarder({ nameservers: [up.hostPort] });
    const o = await forward(f, query('WwW.ExAmple.COM.', 0xbeef, 4096));
    assert.ok(o.msg);
    assert.equal(o.rcode, Rcode.NOERROR);
    assert.equal(o.msg.id, 0xbeef);
    assert.equal(o.msg.ra, true);
    assert.deepEqual(o.msg.questions, [{ name: 'WwW.ExAmple.COM.', type: RRType.A, class: 1 }]);
    assert.equal(firstA(o), '192.0.2.1');
    assert.equal(o.msg.edns?.udpSize, 1232);
    // upstream side: the client's question as sent, its OPT with our size, a fresh ID
    const seen = up.queries;
    assert.equal(seen.length, 1);
    assert.equal(seen[0].transport, 'udp');
    assert.equal(seen[0].msg.questions[0].name, 'WwW.ExAmple.COM.');
    assert.equal(seen[0].msg.edns?.udpSize, 1232);
    assert.equal(f.inflight, 0);
    assert.equal(f.stats.answered, 1);
    assert.equal(stat(f, up).stats.latencyCount, 1);
  });

  it('uses a fresh random ID and a fresh source port per query', async () => {
    const up = await upstream();
    const f = forwarder({ nameservers: [up.hostPort] });
    for (let i = 0; i < 20; i++) assert.equal((await forward(f, query('x.example.', 7))).msg?.id, 7);
    const ids = new Set(up.queries.map((s) => s.msg.id));
    const ports = new Set(up.queries.map((s) => s.from.port));
    assert.ok(ids.size >= 18, `ids ${[...ids]}`); // 20 draws from 65536: a collision or two at most
    assert.ok(ports.size >= 18, `ports ${[...ports]}`);
  });

  it('passes a client without EDNS through without an OPT', async () => {
    const up = await upstream();
    const f = forwarder({ nameservers: [up.hostPort] });
    const o = await forward(f, query('plain.example.', 1, null));
    assert.equal(o.msg?.edns, null);
    assert.equal(up.queries[0].msg.edns, null);
  });

  it('rotates the first upstream per query', async () => {
    const ups = await Promise.all([1, 2, 3].map((i) => upstream('127.0.0.1', answerA(`192.0.2.${i}`))));
    const f = forwarder({ nameservers: ups.map((u) => u.hostPort) });
    const got: (string | undefined)[] = [];
    for (let i = 0; i < 6; i++) got.push(firstA(await forward(f, query(`r${i}.example.`))));
    assert.deepEqual(got, ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.1', '192.0.2.2', '192.0.2.3']);
    for (const u of ups) assert.equal(u.queries.length, 2);
  });

  it('works over IPv6 (::1)', async (t) => {
    let up: TestUpstream;
    try {
      up = await upstream('::1');
    } catch {
      t.skip('no ::1 here');
      return;
    }
    const f = forwarder({ nameservers: [up.hostPort] });
    assert.equal(firstA(await forward(f, query('v6.example.'))), '192.0.2.1');
    assert.equal(firstA(await forward(f, query('v6.example.'), 'tcp')), '192.0.2.1');
  });
});

describe('Forwarder: timeouts, TC, errors', () => {
  it('moves to the next upstream when one does not answer in time', async () => {
    const dead = await upstream('127.0.0.1', silent);
    const live = await upstream('127.0.0.1', answerA('192.0.2.7'));
    const f = forwarder({ nameservers: [dead.hostPort, live.hostPort], readTimeoutMs: 200 });
    const o = await forward(f, query('slow.example.'));
    assert.equal(firstA(o), '192.0.2.7');
    assert.equal(dead.queries.length, 1);
    assert.equal(live.queries.length, 1);
    assert.equal(stat(f, dead).stats.timeouts, 1);
    assert.equal(stat(f, dead).stats.failures, 1);
    assert.equal(stat(f, live).stats.failures, 0);
  });

  it('retries the same upstream over TCP when the UDP answer has TC', async () => {
    const up = await upstream('127.0.0.1', (m, t, send) => {
      if (t === 'udp') send(reply(m, { tc: true }));
      else send(reply(m, { answers: aRecords(m, 40) }));
    });
    const other = await upstream('127.0.0.1', answerA('192.0.2.99'));
    const f = forwarder({ nameservers: [up.hostPort, other.hostPort] });
    const o = await forward(f, query('big.example.', 5, 4096));
    assert.equal(o.msg?.tc, false);
    assert.equal(o.msg?.answers.length, 40);
    assert.deepEqual(
      up.queries.map((s) => s.transport),
      ['udp', 'tcp'],
    );
    assert.equal(other.queries.length, 0);
    assert.equal(stat(f, up).stats.tcpRetries, 1);
  });

  it('cuts an answer too big for the client to TC, and forwards a TCP client over TCP', async () => {
    const up = await upstream('127.0.0.1', (m, t, send) => {
      if (t === 'udp') send(reply(m, { tc: true }));
      else send(reply(m, { answers: aRecords(m, 60) }));
    });
    const f = forwarder({ nameservers: [up.hostPort] });
    const udp = await forward(f, query('huge.example.', 9, null));
    assert.equal(udp.msg?.tc, true);
    assert.equal(udp.msg?.answers.length, 0);
    assert.ok(udp.reply!.length <= 512);
    assert.equal(f.stats.truncated, 1);
    const before = up.queries.length;
    const tcp = await forward(f, query('huge.example.', 10, null), 'tcp');
    assert.equal(tcp.msg?.tc, false);
    assert.equal(tcp.msg?.answers.length, 60);
    assert.deepEqual(
      up.queries.slice(before).map((s) => s.transport),
      ['tcp'],
    );
  });

  it('relays the truncated answer when TCP fails everywhere', async () => {
    const up = await upstream('127.0.0.1', (m, _t, send) => send(reply(m, { tc: true })), 0, false);
    const f = forwarder({ nameservers: [up.hostPort] });
    const o = await forward(f, query('tc-only.example.', 3));
    assert.equal(o.rcode, Rcode.NOERROR);
    assert.equal(o.msg?.tc, true);
    assert.equal(o.msg?.id, 3);
    assert.ok(stat(f, up).stats.failures >= 1, 'the TCP tries failed');
    const ext = await new Promise((resolve) => f.resolveExternal('tc-only.example.', RRType.A, resolve));
    assert.equal(ext, null);
  });

  it('tries the next upstream on SERVFAIL/REFUSED, and relays the error when every one gives it', async () => {
    const bad = await upstream('127.0.0.1', (m, _t, send) => send(reply(m, { rcode: Rcode.SERVFAIL })));
    const refusing = await upstream('127.0.0.1', (m, _t, send) => send(reply(m, { rcode: Rcode.REFUSED })));
    const good = await upstream('127.0.0.1', answerA('192.0.2.5'));
    const f = forwarder({ nameservers: [bad.hostPort, good.hostPort] });
    assert.equal(firstA(await forward(f, query('sf.example.'))), '192.0.2.5');
    assert.equal(bad.queries.length, 1);
    const g = forwarder({ nameservers: [bad.hostPort, refusing.hostPort] });
    const o = await forward(g, query('sf2.example.', 77));
    assert.ok(o.reply);
    assert.equal(o.msg?.id, 77);
    assert.ok(o.rcode === Rcode.SERVFAIL || o.rcode === Rcode.REFUSED);
    assert.equal(stat(g, bad).stats.failures, 0); // an answer, even an error, is not a health failure
  });

  it('answers SERVFAIL (reply null) at the deadline when nobody answers', async () => {
    const a = await upstream('127.0.0.1', silent);
    const b = await upstream('127.0.0.1', silent);
    const f = forwarder({
      nameservers: [a.hostPort, b.hostPort],
      readTimeoutMs: 100,
      deadlineMs: 700,
      maxTries: 1000, // the deadline ends it, not the tries
      maxFails: 0,
    });
    const o = await forward(f, query('void.example.'));
    assert.equal(o.reply, null);
    assert.equal(o.rcode, Rcode.SERVFAIL);
    assert.equal(f.stats.servfail, 1);
    assert.ok(a.queries.length >= 1 && b.queries.length >= 1, 'both upstreams tried');
    assert.equal(f.inflight, 0);
  });

  it('answers SERVFAIL when every try fails at once (ports closed)', async () => {
    const p1 = await closedPort();
    const p2 = await closedPort();
    const f = forwarder({ nameservers: [loopback(p1), loopback(p2)], maxFails: 0 });
    const o = await forward(f, query('refused.example.'));
    assert.equal(o.rcode, Rcode.SERVFAIL);
    const tries = f.upstreams().reduce((n, u) => n + u.stats.requests, 0);
    assert.equal(tries, 4); // maxTries: 2 × the list
  });
});

describe('Forwarder: spoofed replies', () => {
  // each spoof arrives before the real answer; the real one must win
  const spoofs: [string, (m: Message, seen: Seen, send: Send, spoofer: dgram.Socket) => void][] = [
    [
      'a wrong ID',
      (m, _s, send) => send(reply(m, { id: (m.id + 1) & 0xffff, answers: aRecords(m, 1, '6.6.6') })),
    ],
    [
      'a wrong question name',
      (m, _s, send) =>
        send(
          reply(m, {
            questions: [{ ...m.questions[0], name: 'evil.example.' }],
            answers: [{ name: 'evil.example.', type: RRType.A, data: '6.6.6.6' }],
          }),
        ),
    ],
    [
      'a wrong question type',
      (m, _s, send) => send(reply(m, { questions: [{ ...m.questions[0], type: RRType.AAAA }], answers: [] })),
    ],
    [
      'a query instead of a response',
      (m, _s, send) => send(reply(m, { qr: false, answers: aRecords(m, 1, '6.6.6') })),
    ],
    [
      'another source port',
      (m, seen, _send, spoofer) =>
        spoofer.send(reply(m, { answers: aRecords(m, 1, '6.6.6') }), seen.from.port, seen.from.address),
    ],
  ];
  for (const [what, spoof] of spoofs) {
    it(`ignores ${what} and takes the real answer`, async () => {
      const spoofer = dgram.createSocket('udp4');
      await new Promise<void>((r) => spoofer.bind(0, '127.0.0.1', () => r()));
      cleanup.push(() => new Promise<void>((r) => spoofer.close(() => r())));
      const up = await upstream('127.0.0.1', (m, t, send, seen) => {
        if (t !== 'udp') return;
        spoof(m, seen, send, spoofer);
        setTimeout(() => send(reply(m, { answers: aRecords(m, 1) })), 50);
      });
      const f = forwarder({ nameservers: [up.hostPort] });
      const o = await forward(f, query('target.example.'));
      assert.equal(firstA(o), '192.0.2.1');
      assert.equal(up.queries.length, 1, 'no retry: the try kept waiting');
    });
  }

  it('ignores an answer from another address', async () => {
    const spoofer = dgram.createSocket('udp4');
    await new Promise<void>((r) => spoofer.bind(0, '127.0.0.2', () => r()));
    cleanup.push(() => new Promise<void>((r) => spoofer.close(() => r())));
    const up = await upstream('127.0.0.1', (m, t, send, seen) => {
      if (t !== 'udp') return;
      spoofer.send(reply(m, { answers: aRecords(m, 1, '6.6.6') }), seen.from.port, seen.from.address);
      setTimeout(() => send(reply(m, { answers: aRecords(m, 1) })), 50);
    });
    const f = forwarder({ nameservers: [up.hostPort] });
    assert.equal(firstA(await forward(f, query('target.example.'))), '192.0.2.1');
  });

  it('counts the spoofs it saw', async () => {
    const up = await upstream('127.0.0.1', (m, _t, send) => {
      send(reply(m, { id: (m.id + 1) & 0xffff }));
      send(reply(m, { questions: [{ ...m.questions[0], name: 'other.example.' }] }));
      setTimeout(() => send(reply(m, { answers: aRecords(m, 1) })), 50);
    });
    const f = forwarder({ nameservers: [up.hostPort] });
    assert.equal(firstA(await forward(f, query('count.example.'))), '192.0.2.1');
    assert.equal(stat(f, up).stats.spoofed, 2);
  });
});

describe('Forwarder: limits and lifecycle', () => {
  it('refuses at once above maxInflight, and takes queries again when they finish', async () => {
    const held: (() => void)[] = [];
    const up = await upstream('127.0.0.1', (m, _t, send) =>
      held.push(() => send(reply(m, { answers: aRecords(m, 1) }))),
    );
    const f = forwarder({ nameservers: [up.hostPort], maxInflight: 2 });
    const p1 = forward(f, query('a.example.', 1));
    const p2 = forward(f, query('b.example.', 2));
    const refused = await forward(f, query('c.example.', 3));
    assert.equal(refused.reply, null);
    assert.equal(refused.rcode, Rcode.REFUSED);
    assert.equal(refused.sync, true);
    assert.equal(f.stats.refusedInflight, 1);
    assert.equal(f.inflight, 2);
    await until('the upstream to hold both queries', () => held.length === 2);
    for (const h of held) h();
    assert.equal((await p1).msg?.id, 1);
    assert.equal((await p2).msg?.id, 2);
    held.length = 0;
    const p4 = forward(f, query('d.example.', 4));
    await until('the fourth query', () => held.length === 1);
    held[0]();
    assert.equal((await p4).rcode, Rcode.NOERROR);
  });

  it('close() answers what is in flight with SERVFAIL and refuses new work', async () => {
    const up = await upstream('127.0.0.1', silent);
    const f = forwarder({ nameservers: [up.hostPort] });
    const pending = forward(f, query('pending.example.'));
    await until('the query to reach the upstream', () => up.queries.length === 1);
    f.close();
    const o = await pending;
    assert.equal(o.reply, null);
    assert.equal(o.rcode, Rcode.SERVFAIL);
    const after = await forward(f, query('late.example.'));
    assert.equal(after.rcode, Rcode.SERVFAIL);
    assert.equal(after.sync, true);
  });

  it("behind the query pipeline: REFUSED at the cap in the request's turn, SERVFAIL later from the kept request", async () => {
    const up = await upstream('127.0.0.1', silent);
    const f = forwarder({ nameservers: [up.hostPort], readTimeoutMs: 100, deadlineMs: 250, maxInflight: 1 });
    const pipeline = new QueryPipeline(
      { handler: testHandler(), forwarder: f },
      newServerStats(),
      new QueryCounters(),
      new NoisyLog(NOOP_LOGGER),
    );
    const client = { address: '127.0.0.1', port: 1, family: 4 as const, transport: 'udp' as const };
    const w = new ResponseWriter();
    const late = new Promise<Buffer | null>((resolve) => {
      const req = query('fwd.Sf.Example.', 0x4321, 1232);
      const n = pipeline.run(req, req.length, client, w, 0, {
        later: (_c, r, len) => {
          resolve(r === null ? null : Buffer.from(r.subarray(0, len)));
          return true;
        },
      });
      assert.equal(n, PENDING);
      req.fill(0); // the transport reuses its buffer at once
    });
    const req2 = query('fwd.Ref.Example.', 0x1111, null);
    const n2 = pipeline.run(req2, req2.length, client, w, 0, {
      later: () => assert.fail('answered in its turn'),
    });
    assert.ok(n2 > 0, "REFUSED at the cap, in the request's turn");
    const rm = decode(w.buf.subarray(0, n2));
    assert.equal(rm.id, 0x1111);
    assert.equal(rm.rcode, Rcode.REFUSED);
    assert.equal(rm.questions[0].name, 'fwd.Ref.Example.');
    assert.equal(rm.edns, null);
    const r = await late;
    assert.ok(r);
    const m = decode(r);
    assert.equal(m.id, 0x4321);
    assert.equal(m.rcode, Rcode.SERVFAIL);
    assert.equal(m.questions[0].name, 'fwd.Sf.Example.');
    assert.equal(m.edns?.udpSize, 1232);
  });

  it('refuses zone transfers', async () => {
    const up = await upstream();
    const f = forwarder({ nameservers: [up.hostPort] });
    for (const t of [RRType.AXFR, RRType.IXFR]) {
      const o = await forward(f, query('example.com.', 1, null, t), 'tcp');
      assert.equal(o.rcode, Rcode.REFUSED);
      assert.equal(o.sync, true);
    }
    assert.equal(up.received.length, 0);
  });

  it('REFUSED when no upstream serves the name', async () => {
    const f = forwarder({ nameservers: [] });
    const o = await forward(f, query('nowhere.example.'));
    assert.equal(o.rcode, Rcode.REFUSED);
    assert.equal(f.stats.noUpstream, 1);
  });
});

describe('Forwarder: upstream health', () => {
  const kinds: [
    string,
    () => Promise<{ hostPort: HostPort; address: string; port: number }>,
    Partial<ForwarderOptions>,
  ][] = [
    [
      'a closed port',
      async () => {
        const port = await closedPort();
        return { hostPort: loopback(port), address: `127.0.0.1:${port}`, port };
      },
      {},
    ],
    [
      'an upstream that never answers',
      async () => {
        // bound on UDP, never answering
        const s = await TestUpstream.start('127.0.0.1', silent, 0, false);
        cleanup.push(() => s.close().catch(() => {}));
        deadServers.set(s.port, s);
        return { hostPort: s.hostPort, address: s.address, port: s.port };
      },
      { readTimeoutMs: 150 },
    ],
  ];
  const deadServers = new Map<number, TestUpstream>();

  for (const [what, makeDead, extra] of kinds) {
    it(`skips ${what} after maxFails failures and re-admits it once it answers a probe`, async () => {
      const dead = await makeDead();
      const live = await upstream('127.0.0.1', answerA('192.0.2.8'));
      const f = forwarder({
        nameservers: [dead.hostPort, live.hostPort],
        maxFails: 3,
        probeIntervalMs: 30,
        ...extra,
      });
      const d = f.upstreams().find((u) => u.address === dead.address)!;
      // rotation alternates the first try: every other query fails on the dead one first
      for (let i = 0; i < 6; i++)
        assert.equal(firstA(await forward(f, query(`h${i}.example.`))), '192.0.2.8');
      assert.equal(d.stats.failures, 3);
      assert.equal(d.down, true);
      assert.equal(d.stats.downEvents, 1);
      const requests = d.stats.requests;
      for (let i = 0; i < 6; i++)
        assert.equal(firstA(await forward(f, query(`s${i}.example.`))), '192.0.2.8');
      assert.equal(d.stats.requests, requests, 'skipped while down');
      await until('a probe to be sent', () => d.stats.probes >= 1);
      assert.equal(d.stats.probeSuccesses, 0);

      // bring it back on the same port: the probe (. NS) re-admits it
      await deadServers.get(dead.port)?.close();
      const revived = await upstream('127.0.0.1', answerA('192.0.2.9'), dead.port);
      await until('the upstream to be re-admitted', () => !d.down);
      assert.ok(d.stats.probeSuccesses >= 1);
      assert.ok(revived.probes.length >= 1);
      assert.equal(revived.probes[0].msg.questions[0].type, RRType.NS);
      const got = new Set<string | undefined>();
      for (let i = 0; i < 4; i++) got.add(firstA(await forward(f, query(`back${i}.example.`))));
      assert.deepEqual([...got].sort(), ['192.0.2.8', '192.0.2.9']);
    });
  }

  it('still tries upstreams that are down when all of them are (fail-open)', async () => {
    let answering = false;
    const up = await upstream('127.0.0.1', (m, t, send) => {
      if (answering) answerA('192.0.2.4')(m, t, send, undefined as unknown as Seen);
    });
    const f = forwarder({
      nameservers: [up.hostPort],
      maxFails: 1,
      readTimeoutMs: 100,
      deadlineMs: 2000,
      probeIntervalMs: 60_000,
    });
    assert.equal((await forward(f, query('fo1.example.'))).rcode, Rcode.SERVFAIL);
    const u = f.upstreams()[0];
    assert.equal(u.down, true);
    answering = true;
    const o = await forward(f, query('fo2.example.'));
    assert.equal(firstA(o), '192.0.2.4');
    assert.ok(f.stats.failOpen >= 1);
    assert.equal(u.down, false, 'an answer re-admits it without waiting for the probe');
  });
});

describe('Forwarder: stub zones', () => {
  it('routes names to the longest matching stub zone, else the default nameservers', async () => {
    const def = await upstream('127.0.0.1', answerA('192.0.2.1'));
    const corp = await upstream('127.0.0.2', answerA('192.0.2.2'));
    const sub = await upstream('127.0.0.3', answerA('192.0.2.3'));
    const f = forwarder({
      nameservers: [def.hostPort],
      stubs: new Map([
        ['corp.example.', [corp.hostPort]],
        ['lab.corp.example.', [sub.hostPort]],
      ]),
    });
    const table: [string, string][] = [
      ['www.example.com.', '192.0.2.1'],
      ['corp.example.', '192.0.2.2'],
      ['Host.CORP.example.', '192.0.2.2'],
      ['xcorp.example.', '192.0.2.1'],
      ['lab.corp.example.', '192.0.2.3'],
      ['a.b.lab.corp.example.', '192.0.2.3'],
      ['lab.corp.example.org.', '192.0.2.1'],
      ['a\\.lab.corp.example.', '192.0.2.2'], // one label "a.lab": in corp.example., not lab.
    ];
    for (const [name, want] of table) assert.equal(firstA(await forward(f, query(name))), want, name);
  });
});

describe('Forwarder: out-of-zone CNAME targets', () => {
  const chain: Behavior = (m, _t, send) => {
    const q = m.questions[0];
    const name = q.name.toLowerCase();
    if (name === 'missing.example.net.') {
      send(
        reply(m, {
          rcode: Rcode.NXDOMAIN,
          authorities: [
            {
              name: 'example.net.',
              type: RRType.SOA,
              ttl: 300,
              data: {
                mname: 'ns.example.net.',
                rname: 'hostmaster.example.net.',
                serial: 1,
                refresh: 2,
                retry: 3,
                expire: 4,
                minimum: 60,
              },
            },
          ],
        }),
      );
      return;
    }
    if (name === 'broken.example.net.') {
      send(reply(m, { rcode: Rcode.SERVFAIL }));
      return;
    }
    send(
      reply(m, {
        answers: [
          { name: 'cdn.example.org.', type: RRType.A, ttl: 30, data: '192.0.2.20' },
          { name: q.name, type: RRType.CNAME, ttl: 60, data: 'cdn.example.org.' },
          { name: 'unrelated.example.', type: RRType.A, ttl: 60, data: '6.6.6.6' },
          { name: 'cdn.example.org.', type: RRType.TXT, ttl: 60, data: 'not asked' },
        ],
      }),
    );
  };

  function external(f: Forwarder, name: string, qtype: number = RRType.A): Promise<ExternalAnswer | null> {
    return new Promise((resolve) => f.resolveExternal(name, qtype, resolve));
  }

  it('resolveExternal returns the chain records only', async () => {
    const up = await upstream('127.0.0.1', chain);
    const f = forwarder({ nameservers: [up.hostPort] });
    const a = await external(f, 'www.example.net.');
    assert.ok(a);
    assert.equal(a.rcode, Rcode.NOERROR);
    assert.deepEqual(
      a.answers.map((rr) => `${rr.name} ${rr.type} ${rr.data}`),
      ['cdn.example.org. 1 192.0.2.20', `www.example.net. 5 cdn.example.org.`],
    );
    assert.deepEqual(a.authorities, []);
    const nx = await external(f, 'missing.example.net.');
    assert.equal(nx?.rcode, Rcode.NXDOMAIN);
    assert.equal(nx?.answers.length, 0);
    assert.equal(nx?.authorities[0].type, RRType.SOA);
    assert.equal(await external(f, 'broken.example.net.'), null);
    assert.equal(await external(f, 'bad..name.'), null);
  });

  it('completeExternal appends the target records after our CNAME', async () => {
    const up = await upstream('127.0.0.1', chain);
    const f = forwarder({ nameservers: [up.hostPort] });
    const req = query('Alias.Hades.Local.', 0x77, 1232);
    const ours = (target: string) =>
      encode({
        id: 0x77,
        qr: true,
        aa: true,
        rd: true,
        questions: [{ name: 'Alias.Hades.Local.', type: RRType.A, class: 1 }],
        answers: [{ name: 'Alias.Hades.Local.', type: RRType.CNAME, ttl: 300, data: target }],
        edns: { udpSize: 1232 },
      });
    const complete = (target: string, replyTarget = target) =>
      new Promise<Message | 'declined'>((resolve) => {
        const r = ours(replyTarget);
        const took = f.completeExternal(req, req.length, r, r.length, target, 'udp', (out) =>
          resolve(decode(out)),
        );
        if (!took) resolve('declined');
      });

    const m = await complete('www.example.net.');
    assert.notEqual(m, 'declined');
    if (m === 'declined') return;
    assert.equal(m.id, 0x77);
    assert.equal(m.aa, true);
    assert.equal(m.rcode, Rcode.NOERROR);
    assert.equal(m.questions[0].name, 'Alias.Hades.Local.');
    assert.deepEqual(
      m.answers.map((rr) => `${rr.name} ${rr.type} ${rr.data}`),
      [
        'Alias.Hades.Local. 5 www.example.net.',
        'cdn.example.org. 1 192.0.2.20',
        'www.example.net. 5 cdn.example.org.',
      ],
    );
    assert.ok(m.edns);

    const nx = await complete('missing.example.net.');
    assert.notEqual(nx, 'declined');
    if (nx === 'declined') return;
    assert.equal(nx.rcode, Rcode.NXDOMAIN);
    assert.equal(nx.answers.length, 1);
    assert.equal(nx.authorities[0].type, RRType.SOA);

    // the target cannot be resolved: our reply unchanged
    const sf = await complete('broken.example.net.');
    assert.notEqual(sf, 'declined');
    if (sf === 'declined') return;
    assert.equal(sf.rcode, Rcode.NOERROR);
    assert.equal(sf.answers.length, 1);

    // a stale or wrong target, or no target: declined, the caller sends its own reply
    assert.equal(await complete('other.example.net.', 'www.example.net.'), 'declined');
    assert.equal(await complete(''), 'declined');
  });
});

describe('Forwarder options', () => {
  const bad: [string, Partial<ForwarderOptions>][] = [
    ['deadlineMs', { deadlineMs: 6000 }],
    ['readTimeoutMs', { readTimeoutMs: 0 }],
    ['maxInflight', { maxInflight: 0 }],
    ['udpSize', { udpSize: 100 }],
  ];
  for (const [name, o] of bad) {
    it(`rejects a bad ${name}`, () => {
      assert.throws(() => new Forwarder({ nameservers: [loopback(53)], ...o }), new RegExp(name));
    });
  }
  it('rejects a stub zone without nameservers, naming it', () => {
    assert.throws(
      () => new Forwarder({ nameservers: [], stubs: new Map([['corp.example.', []]]) }),
      /corp\.example\./,
    );
  });
});
