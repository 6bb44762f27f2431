/**
 * Fuzz: the real hades binary (on a real etcd, with the test records) receives ≥ 100k random and
 * mutated packets over UDP and thousands of frames over TCP (garbage length prefixes, partial
 * frames, frames split and coalesced, abrupt closes). Afterwards it is still running and answers
 * a normal query, and every reply it sent parses with src/dns/wire's decode.
 *
 * Seeded: HADES_TEST_SEED=<n> replays a run; HADES_FUZZ_UDP=<n> changes the packet count.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RRType } from '../../src/dns/wire/constants.js';
import { decode } from '../../src/dns/wire/decode.js';
import { encode } from '../../src/dns/wire/encode.js';
import { RandomGen } from '../lib/prng.js';
import { dig, digStatus, frame, sleep } from './clients.js';
import { type EtcdHades, type HadesProc, startEtcdHades } from './hades-proc.js';

const SEED = Number(process.env.HADES_TEST_SEED ?? 0x5eed1);
const UDP_PACKETS = Number(process.env.HADES_FUZZ_UDP ?? 100_000);
const TCP_CONNECTIONS = 400;

class Gen extends RandomGen {
  private static readonly NAMES = [
    'web.hades.local.',
    'WeB.hAdEs.LoCaL.',
    'multi.hades.local.',
    'alias2.hades.local.',
    'loop1.hades.local.',
    'ext.hades.local.',
    '_http._tcp.svc.hades.local.',
    'long.hades.local.',
    'big.hades.local.',
    'mail.hades.local.',
    'hades.local.',
    '*.default.svc.hades.local.',
    'nope.hades.local.',
    '1.0.0.10.in-addr.arpa.',
    'www.example.com.',
    'version.bind.',
    '.',
    `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.hades.local.`,
  ];
  private static readonly TYPES = [1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 65, 99, 252, 255, 257, 65535];

  /** A well-formed query, sometimes with EDNS (DO, ECS, padding). */
  query(): Buffer {
    const edns =
      this.r() < 0.6
        ? {
            udpSize: this.pick([0, 100, 512, 1232, 4096, 65535]),
            do: this.r() < 0.3,
            ecs:
              this.r() < 0.3
                ? this.r() < 0.5
                  ? { family: 1, sourcePrefix: this.int(33), address: '192.0.2.0' }
                  : { family: 2, sourcePrefix: this.int(129), address: '2001:db8::' }
                : undefined,
          }
        : null;
    try {
      return encode({
        id: this.int(65536),
        rd: this.r() < 0.5,
        opcode: this.r() < 0.05 ? this.int(16) : 0,
        questions: [
          {
            name: this.pick(Gen.NAMES),
            type: this.pick(Gen.TYPES),
            class: this.r() < 0.1 ? this.pick([3, 4, 254, 255, 7]) : 1,
          },
        ],
        edns,
      });
    } catch {
      return encode({ id: this.int(65536), questions: [{ name: 'web.hades.local.', type: 1, class: 1 }] });
    }
  }

  /** A mutated query: the kinds of damage the issue names, and then some. */
  mutated(): Buffer {
    const b = Buffer.from(this.query());
    switch (this.int(12)) {
      case 0: {
        // bit flips
        const n = 1 + this.int(8);
        for (let i = 0; i < n; i++) b[this.int(b.length)] ^= 1 << this.int(8);
        return b;
      }
      case 1: {
        // huge or wrong counts
        const at = 4 + 2 * this.int(4);
        b.writeUInt16BE(this.pick([0, 2, 3, 255, 0x7fff, 0xffff]), at);
        return b;
      }
      case 2:
        // truncated anywhere
        return b.subarray(0, this.int(b.length));
      case 3:
        // garbage appended
        return Buffer.concat([b, this.bytes(1 + this.int(200))]);
      case 4: {
        // compression loop in an answer record: a name pointing at itself, or forward
        const at = b.length;
        const self = Buffer.from([0xc0 | (at >> 8), at & 0xff, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        const fwd = Buffer.from([
          0xc0 | ((at + 2) >> 8),
          (at + 2) & 0xff,
          0xc0,
          at & 0xff,
          0,
          1,
          0,
          1,
          0,
          0,
          0,
          0,
          0,
          0,
        ]);
        const out = Buffer.concat([b, this.r() < 0.5 ? self : fwd]);
        out.writeUInt16BE(1, this.pick([6, 8, 10]));
        return out;
      }
      case 5: {
        // pointer in the question, or a pointer loop there
        const out = Buffer.from(b);
        out[12] = 0xc0;
        out[13] = this.pick([12, 13, 0, 0xff]);
        return out;
      }
      case 6: {
        // bad EDNS: OPT with a non-root owner, two OPTs, bad option lengths, versions
        const opt = Buffer.from([0, 0, 41, 0x10, 0, 0, this.int(256), 0, 0, 0, 4, 0, 8, 0, this.int(256)]);
        if (this.r() < 0.3) opt[0] = 1; // owner not root (and then the rest shifts)
        const n = 1 + this.int(3);
        const out = Buffer.concat([b.subarray(0, b.length), ...Array.from({ length: n }, () => opt)]);
        out.writeUInt16BE(((b[10] << 8) | b[11]) + n, 10);
        return out;
      }
      case 7: {
        // reserved label types and oversize labels
        const out = Buffer.from(b);
        out[12] = this.pick([0x40, 0x80, 0x3f, 0xff]);
        return out;
      }
      case 8: {
        // a name longer than 255 octets
        const labels = Buffer.concat(
          Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])),
        );
        return Buffer.concat([b.subarray(0, 12), labels, Buffer.from([0, 0, 1, 0, 1])]);
      }
      case 9:
        // QR set (a response): must be dropped, never answered
        b[2] |= 0x80;
        return b;
      case 10: {
        // ECS with a bad family / prefix / address length
        const ecs = Buffer.from([
          0,
          8,
          0,
          8,
          0,
          this.pick([0, 1, 2, 3]),
          this.int(256),
          this.int(256),
          1,
          2,
          3,
          4,
        ]);
        const opt = Buffer.concat([Buffer.from([0, 0, 41, 4, 0, 0, 0, 0, 0, 0, ecs.length]), ecs]);
        const out = Buffer.concat([b, opt]);
        out.writeUInt16BE(((b[10] << 8) | b[11]) + 1, 10);
        return out;
      }
      default:
        // random bytes over a valid header
        return Buffer.concat([b.subarray(0, 12), this.bytes(this.int(300))]);
    }
  }

  packet(): Buffer {
    const k = this.r();
    if (k < 0.15) return this.bytes(this.int(40));
    if (k < 0.3) return this.bytes(12 + this.int(600));
    if (k < 0.4) return this.query();
    return this.mutated();
  }
}

interface BadReply {
  transport: string;
  hex: string;
  err: string;
}

function check(reply: Buffer, transport: string, bad: BadReply[]): void {
  try {
    const m = decode(reply);
    if (!m.qr) throw new Error('QR not set in a reply');
  } catch (err) {
    if (bad.length < 10) bad.push({ transport, hex: reply.toString('hex'), err: (err as Error).message });
  }
}

describe(`fuzz (seed ${SEED})`, () => {
  let fx: EtcdHades;
  let hades: HadesProc;
  let port: number;

  before(async () => {
    fx = await startEtcdHades([
      '-select',
      'all',
      '-read_timeout',
      '500ms',
      // no forwarding: every reply is sent before the next request is read (the batches rely on it)
      '-nameservers',
      'none',
    ]);
    await fx.store.close(); // the records are in: no client of ours on etcd during the fuzz
    ({ hades, port } = fx);
  });
  after(async () => {
    await fx?.stop('SIGKILL');
  });

  it(`survives ${UDP_PACKETS} random and mutated UDP packets; every reply parses`, async (t) => {
    const g = new Gen(SEED);
    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 });
    await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
    const bad: BadReply[] = [];
    let replies = 0;
    let marker = '';
    let markerSeen = false;
    let ids = new Set<number>();
    let strayIds = 0;
    sock.on('message', (m) => {
      replies++;
      check(m, 'udp', bad);
      if (m.length >= 2 && !ids.has(m.readUInt16BE(0))) strayIds++;
      if (marker !== '' && m.length > 20) {
        try {
          const d = decode(m);
          if (d.questions[0]?.name === marker) markerSeen = true;
        } catch {
          // checked above
        }
      }
    });
    const BATCH = 500;
    let sent = 0;
    for (let batch = 0; sent < UDP_PACKETS; batch++) {
      ids = new Set<number>();
      for (let i = 0; i < BATCH && sent < UDP_PACKETS; i++, sent++) {
        const p = g.packet();
        if (p.length >= 2) ids.add(p.readUInt16BE(0));
        sock.send(p, port, '127.0.0.1');
      }
      // a marker query: once it is answered, the batch has been processed (one socket, in order)
      marker = `m${batch}.marker.hades.local.`;
      markerSeen = false;
      const mq = encode({ id: 0, questions: [{ name: marker, type: RRType.A, class: 1 }] });
      ids.add(0);
      for (let tries = 0; !markerSeen; tries++) {
        assert.ok(tries < 100, `no reply to the marker of batch ${batch}\n${hades.stderr().slice(-2000)}`);
        sock.send(mq, port, '127.0.0.1');
        for (let w = 0; w < 50 && !markerSeen; w++) await sleep(2);
      }
    }
    sock.close();
    t.diagnostic(`UDP: ${sent} packets sent, ${replies} replies`);
    assert.deepEqual(bad, [], 'every UDP reply parses');
    assert.equal(strayIds, 0, 'every reply carries the ID of a query of its batch');
    assert.ok(replies > UDP_PACKETS / 4, `only ${replies} replies`);
    assert.equal(hades.child.exitCode, null, 'hades still running');
  });

  it(`survives ${TCP_CONNECTIONS} TCP connections of garbage, partial and abruptly closed frames`, async (t) => {
    const g = new Gen(SEED + 1);
    const bad: BadReply[] = [];
    let frames = 0;
    let replies = 0;
    const one = async (): Promise<void> => {
      const sock = net.connect({ port, host: '127.0.0.1' });
      sock.on('error', () => {});
      let buf = Buffer.alloc(0);
      sock.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2) {
          const n = buf.readUInt16BE(0);
          if (buf.length < n + 2) break;
          replies++;
          check(buf.subarray(2, n + 2), 'tcp', bad);
          buf = buf.subarray(n + 2);
        }
      });
      const closed = new Promise<void>((resolve) => sock.once('close', () => resolve()));
      await new Promise<void>((resolve) => {
        sock.once('connect', () => resolve());
        sock.once('error', () => resolve());
      });
      // a stream of well-framed packets (good, mutated, random, zero length), then maybe a bad
      // tail: a length prefix that lies (longer or shorter than what follows) or raw garbage
      const parts: Buffer[] = [];
      const n = 1 + g.int(30);
      for (let i = 0; i < n; i++) {
        parts.push(g.r() < 0.05 ? Buffer.from([0, 0]) : frame(g.packet()));
        frames++;
      }
      const tail = g.r();
      if (tail < 0.3) {
        const p = g.packet();
        const len = Buffer.alloc(2);
        len.writeUInt16BE(
          g.pick([0xffff, p.length + 1 + g.int(100), Math.max(0, p.length - 1 - g.int(10))]),
          0,
        );
        parts.push(len, p, frame(g.query()));
      } else if (tail < 0.45) parts.push(g.bytes(1 + g.int(100)));
      const stream = Buffer.concat(parts);
      // written in random pieces (partial frames, coalesced frames)
      let off = 0;
      const ending = g.int(4); // 0: abrupt close mid-way, 1: half-close, 2/3: leave it to the idle timeout
      const stopAt = ending === 0 ? g.int(stream.length + 1) : stream.length;
      while (off < stopAt && !sock.destroyed) {
        const take = Math.min(stopAt - off, 1 + g.int(g.r() < 0.3 ? 3 : 400));
        sock.write(stream.subarray(off, off + take));
        off += take;
        if (g.r() < 0.3) await new Promise((r) => setImmediate(r));
      }
      if (ending === 0) sock.destroy();
      else if (ending === 1) sock.end();
      await closed; // the server closes on end, on a partial frame's idle timeout, or on idle
    };
    const queue = Array.from({ length: TCP_CONNECTIONS }, (_, i) => i);
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (queue.length > 0) {
          queue.pop();
          await one();
        }
      }),
    );
    t.diagnostic(`TCP: ${TCP_CONNECTIONS} connections, ${frames} frames sent, ${replies} replies`);
    assert.deepEqual(bad, [], 'every TCP reply parses');
    assert.ok(replies > 0 && frames > 0);
    assert.equal(hades.child.exitCode, null, 'hades still running');
  });

  it('is still up and answers a normal query over UDP and TCP', async () => {
    const u = await dig(port, ['web.hades.local', 'A']);
    assert.equal(digStatus(u.stdout), 'NOERROR', u.stdout);
    assert.match(u.stdout, /10\.0\.0\.1/);
    const t = await dig(port, ['+tcp', 'web.hades.local', 'A']);
    assert.equal(digStatus(t.stdout), 'NOERROR', t.stdout);
    assert.equal(hades.child.exitCode, null);
    assert.doesNotMatch(hades.stderr(), /uncaught|"level":60/);
  });
});
