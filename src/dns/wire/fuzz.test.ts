/**
 * Property test: random and mutated packets through parseQuery and decode. The only exception
 * allowed is WireError (from decode); nothing hangs; every reply the writer builds from a
 * parse decodes cleanly and respects its size limit. Seeded: a failure prints the seed, the
 * iteration and the packet. Override with WIRE_FUZZ_SEED / WIRE_FUZZ_N.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { RandomGen } from '../../../test/lib/prng.js';
import { Flag, Rcode, RRType, Section } from './constants.js';
import { decode, type Message } from './decode.js';
import { encode, type RRInput } from './encode.js';
import { WireError } from './errors.js';
import { newQuery, ParseStatus, parseQuery, type Query } from './query.js';
import { QNAME, ResponseWriter } from './writer.js';

const SEED = Number(process.env.WIRE_FUZZ_SEED ?? 0x5eed1e55);
const N = Number(process.env.WIRE_FUZZ_N ?? 100_000);

class Gen extends RandomGen {
  label(): string {
    const len = 1 + this.int(this.chance(0.05) ? 63 : 12);
    let s = '';
    for (let i = 0; i < len; i++) {
      if (this.chance(0.03)) s += `\\${String(this.int(256)).padStart(3, '0')}`;
      else if (this.chance(0.02)) s += '\\.';
      else s += this.pick('abcXYZ019-_*'.split(''));
    }
    return s;
  }

  name(maxLabels = 5): string {
    const n = this.int(maxLabels + 1);
    const labels: string[] = [];
    for (let i = 0; i < n; i++) labels.push(this.label());
    return labels.length === 0 ? '.' : `${labels.join('.')}.`;
  }

  safeName(): string {
    for (;;) {
      const n = this.name();
      try {
        encode({ questions: [{ name: n, type: 1, class: 1 }] });
        return n;
      } catch {
        // too long: try again
      }
    }
  }

  rr(): RRInput {
    const name = this.chance(0.5) ? 'x.example.' : this.safeName();
    switch (this.int(6)) {
      case 0:
        return { name, type: RRType.A, ttl: this.int(1000), data: '10.1.2.3' };
      case 1:
        return { name, type: RRType.CNAME, ttl: 1, data: this.safeName() };
      case 2:
        return { name, type: RRType.TXT, ttl: 1, data: ['t'.repeat(this.int(300))] };
      case 3:
        return { name, type: RRType.MX, data: { preference: 1, exchange: this.safeName() } };
      case 4:
        return { name, type: 65280 + this.int(100), data: this.bytes(this.int(20)) };
      default:
        return { name, type: RRType.AAAA, data: '2001:db8::7' };
    }
  }

  query(): Buffer {
    const ecs = this.chance(0.3)
      ? this.chance(0.5)
        ? { address: '192.0.2.99', sourcePrefix: this.int(33) }
        : { address: '2001:db8:1:2:3::9', sourcePrefix: this.int(129) }
      : undefined;
    return encode({
      id: this.int(65536),
      opcode: this.chance(0.03) ? this.int(16) : 0,
      rd: this.chance(0.5),
      cd: this.chance(0.2),
      questions: [
        {
          name: this.safeName(),
          type: this.chance(0.8) ? this.pick([1, 28, 33, 5, 16, 15, 6, 2, 12, 255]) : this.int(65536),
          class: this.chance(0.9) ? 1 : this.int(65536),
        },
      ],
      answers: this.chance(0.05) ? [this.rr()] : [],
      additionals: this.chance(0.05) ? [this.rr()] : [],
      edns: this.chance(0.6)
        ? {
            udpSize: this.pick([0, 512, 1232, 4096, 65535, this.int(65536)]),
            do: this.chance(0.5),
            version: this.chance(0.05) ? this.int(256) : 0,
            ecs,
            options: this.chance(0.2)
              ? [{ code: this.pick([10, 12, 3, this.int(65536)]), data: this.bytes(this.int(40)) }]
              : [],
          }
        : null,
    });
  }

  response(): Buffer {
    const answers: RRInput[] = [];
    const n = this.int(8);
    for (let i = 0; i < n; i++) answers.push(this.rr());
    return encode({
      id: this.int(65536),
      qr: true,
      rcode: this.int(16),
      questions: [{ name: this.safeName(), type: 1, class: 1 }],
      answers,
      authorities: this.chance(0.3) ? [this.rr()] : [],
      additionals: this.chance(0.3) ? [this.rr()] : [],
      edns: this.chance(0.5) ? { udpSize: 1232 } : null,
    });
  }

  mutate(src: Buffer): Buffer {
    let b = Buffer.from(src);
    const k = 1 + this.int(4);
    for (let i = 0; i < k; i++) {
      const at = b.length > 0 ? this.int(b.length) : 0;
      switch (this.int(10)) {
        case 0: // flip a bit
          if (b.length) b[at] ^= 1 << this.int(8);
          break;
        case 1: // random byte
          if (b.length) b[at] = this.int(256);
          break;
        case 2: // truncate
          b = b.subarray(0, at);
          break;
        case 3: // append garbage
          b = Buffer.concat([b, this.bytes(1 + this.int(20))]);
          break;
        case 4: // a count field, often huge
          if (b.length >= 12) b.writeUInt16BE(this.chance(0.5) ? 0xffff : this.int(8), 4 + 2 * this.int(4));
          break;
        case 5: // a compression pointer somewhere (often backwards, sometimes forwards)
          if (b.length >= 2) {
            const t = this.chance(0.7) ? this.int(at + 1) : this.int(0x4000);
            b[at] = 0xc0 | (t >> 8);
            if (at + 1 < b.length) b[at + 1] = t & 0xff;
          }
          break;
        case 6: // a pointer loop: a pointer to itself
          if (b.length >= 14) {
            const p = 12 + this.int(b.length - 13);
            b[p] = 0xc0 | (p >> 8);
            b[p + 1] = p & 0xff;
          }
          break;
        case 7: // a length field made big (label or rdlength)
          if (b.length) b[at] = this.pick([0x3f, 0x40, 0x80, 0xff, 0]);
          break;
        case 8: // duplicate a slice (e.g. a second OPT)
          if (b.length > 12) {
            const s = 12 + this.int(b.length - 12);
            const e = s + this.int(b.length - s + 1);
            b = Buffer.concat([b, b.subarray(s, e)]);
            if (this.chance(0.5)) b.writeUInt16BE((b.readUInt16BE(10) + 1) & 0xffff, 10);
          }
          break;
        default: // QR/opcode bits
          if (b.length >= 3) b[2] ^= this.pick([0x80, 0x78, 0x08, 0x02]);
      }
    }
    return b;
  }

  packet(): Buffer {
    const c = this.int(10);
    if (c === 0) return this.bytes(this.int(this.chance(0.5) ? 16 : 600));
    if (c === 1) return this.mutate(this.response());
    if (c <= 4) return this.query();
    return this.mutate(this.query());
  }
}

/** ASCII lower case, as parseQuery folds. */
const lower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

function decodeOrWireError(buf: Buffer): Message | null {
  try {
    return decode(buf);
  } catch (e) {
    if (e instanceof WireError) return null;
    throw e;
  }
}

/** Builds a reply for q, the way the server would, and checks it. */
function replyAndCheck(g: Gen, w: ResponseWriter, q: Query, st: number): void {
  const rcode =
    st === ParseStatus.OK
      ? Rcode.NOERROR
      : st === ParseStatus.FORMERR
        ? Rcode.FORMERR
        : st === ParseStatus.NOTIMP
          ? Rcode.NOTIMP
          : Rcode.BADVERS;
  w.start(q, rcode, Flag.AA);
  let rrs = 0;
  if (st === ParseStatus.OK) {
    const n = g.int(g.chance(0.1) ? 200 : 6);
    for (let i = 0; i < n; i++) {
      const section = (i < n / 2 ? Section.ANSWER : g.chance(0.5) ? Section.AUTHORITY : Section.ADDITIONAL) as
        | 1
        | 2
        | 3;
      const before = w.count(section);
      const target = g.safeName();
      try {
        switch (g.int(7)) {
          case 0:
            w.addA(section, QNAME, 30, g.int(2 ** 32));
            break;
          case 1:
            w.addCNAME(section, QNAME, 30, target);
            if (w.targetOffset > 0 && g.chance(0.5)) w.addA(section, w.targetOffset, 30, 1);
            break;
          case 2:
            w.addTXT(section, g.chance(0.5) ? QNAME : target, 30, ['x'.repeat(g.int(600)), 'y']);
            break;
          case 3:
            w.addSRV(section, QNAME, 30, 1, 2, 3, target);
            break;
          case 4:
            w.addMX(section, target, 30, 5, q.qname);
            break;
          case 5:
            w.addSOA(section, QNAME, 30, target, target === '.' ? 'h.' : `h.${target}`, 1, 2, 3, 4, 5);
            break;
          default:
            w.addAAAA(section, target, 30, '2001:db8::1');
        }
      } catch (e) {
        // "h." + a generated name can exceed 255 octets: the writer refuses it and drops only that record
        if (!(e instanceof WireError && e.code === 'BADNAME')) throw e;
      }
      rrs += w.count(section) - before;
      if (section !== Section.ANSWER) break;
    }
  }
  if (q.edns) w.addOPT(1232, 0, q.do, q, g.int(25));
  const limit = g.chance(0.5) ? q.udpSize : g.pick([512, 1232, 65535]);
  const len = w.finish(limit);
  assert.ok(len <= Math.max(512, Math.min(limit, 65535)), `reply of ${len} octets over limit ${limit}`);
  const out = Buffer.from(w.buf.subarray(0, len));
  const m = decode(out); // must not throw
  // and an independent decoder reads the same records
  const p = dnsPacket.decode(out);
  assert.equal(p.answers?.length ?? 0, m.answers.length);
  assert.equal(p.authorities?.length ?? 0, m.authorities.length);
  assert.equal(p.additionals?.length ?? 0, m.additionals.length);
  assert.equal(m.trailing, 0);
  assert.equal(m.id, q.id);
  assert.ok(m.qr);
  assert.equal(m.questions.length, q.hasQuestion ? 1 : 0);
  if (q.hasQuestion) {
    assert.equal(lower(m.questions[0].name), q.qname);
    assert.equal(m.questions[0].type, q.qtype);
  }
  assert.equal((m.edns !== null) as boolean, q.edns);
  if (m.tc) assert.equal(m.answers.length + m.authorities.length, 0);
  else assert.ok(m.answers.length + m.authorities.length + m.additionals.length <= rrs + 1);
  if (m.edns) assert.equal((m.edns.extRcode << 4) | m.rcode, rcode);
}

describe('fuzz: parseQuery, decode and the writer on random and mutated packets', () => {
  it(`${N} packets (seed ${SEED})`, { timeout: 600_000 }, () => {
    const g = new Gen(SEED);
    const q = newQuery();
    const w = new ResponseWriter();
    const tally = { ok: 0, formerr: 0, drop: 0, notimp: 0, badvers: 0, decoded: 0 };
    for (let i = 0; i < N; i++) {
      const buf = g.packet();
      try {
        const st = parseQuery(buf, buf.length, q);
        const m = decodeOrWireError(buf);
        if (m) tally.decoded++;
        switch (st) {
          case ParseStatus.OK:
            tally.ok++;
            // a parse that succeeded agrees with the general decoder when that one succeeds too
            if (m) {
              assert.equal(lower(m.questions[0].name), q.qname);
              assert.equal(m.questions[0].type, q.qtype);
              assert.equal(m.edns !== null, q.edns);
              if (m.edns) assert.equal(Math.max(512, m.edns.udpSize), q.udpSize);
            }
            break;
          case ParseStatus.FORMERR:
            tally.formerr++;
            break;
          case ParseStatus.DROP:
            tally.drop++;
            assert.ok(buf.length < 12 || (buf[2] & 0x80) !== 0);
            continue;
          case ParseStatus.NOTIMP:
            tally.notimp++;
            break;
          case ParseStatus.BADVERS:
            tally.badvers++;
            break;
          default:
            assert.fail(`unknown status ${st}`);
        }
        replyAndCheck(g, w, q, st);
      } catch (e) {
        throw new Error(`seed ${SEED} packet #${i} (${buf.toString('hex')}): ${(e as Error).stack}`);
      }
    }
    if (process.env.WIRE_FUZZ_VERBOSE) console.log(tally);
    // the generator must actually reach every outcome
    for (const [k, v] of Object.entries(tally)) assert.ok(v > N / 1000, `${k}: ${v}`);
  });
});
