/**
 * Test only: a tiny primary on 127.0.0.1 (UDP and TCP on one port) that verifies TSIG-signed
 * requests with verifyRequest and signs every reply with TsigSigner: an A record for any name,
 * the SOA, and a 4-message AXFR of `zone` (also the answer to an IXFR). Used by the kdig/dig interop tests and the Knot
 * secondary test.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { RRType } from '../wire/constants.js';
import { decode, type Question } from '../wire/decode.js';
import { encode, type RRInput } from '../wire/encode.js';
import { appendTsigError, readTsig, TsigError, type TsigKey, TsigSigner, verifyRequest } from './tsig.js';

/** 'mac': break every reply's MAC; a number: break that message of an AXFR. */
export type Corrupt = 'none' | 'mac' | number;

export class TestPrimary {
  corrupt: Corrupt = 'none';
  /** verifyRequest's result per signed request, in order. */
  verdicts: number[] = [];
  /** `TYPE transport` of every request, in order (`6 udp`, `252 tcp`). */
  requests: string[] = [];
  serial = 7;
  port = 0;
  private readonly udp = dgram.createSocket('udp4');
  private readonly tcp = net.createServer();
  private readonly conns = new Set<net.Socket>();

  constructor(
    private readonly key: TsigKey,
    private readonly zone = 'example.',
  ) {}

  async start(port = 0): Promise<void> {
    this.tcp.on('connection', (c) => this.onConnection(c));
    await new Promise<void>((resolve) => this.tcp.listen(port, '127.0.0.1', resolve));
    this.port = (this.tcp.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => this.udp.bind(this.port, '127.0.0.1', resolve));
    this.udp.on('message', (m, r) => {
      for (const out of this.reply(m, 'udp')) this.udp.send(out, r.port, r.address);
    });
  }

  async close(): Promise<void> {
    this.udp.close();
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }

  private onConnection(c: net.Socket): void {
    this.conns.add(c);
    c.on('close', () => this.conns.delete(c));
    let buf = Buffer.alloc(0);
    c.on('error', () => {});
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + m.length);
        for (const out of this.reply(m, 'tcp')) {
          const l = Buffer.alloc(2);
          l.writeUInt16BE(out.length);
          c.write(Buffer.concat([l, out]));
        }
      }
    });
  }

  private reply(m: Buffer, transport: string): Buffer[] {
    const now = Math.floor(Date.now() / 1000);
    const req = decode(m);
    const q = req.questions[0];
    this.requests.push(`${q.type} ${transport}`);
    const rec = readTsig(m, m.length);
    if (rec === undefined || rec === 'formerr')
      return [this.message(req.id, q, rec === 'formerr' ? 1 : 5, [])];
    const v = verifyRequest(this.key, m, m.length, rec, now);
    this.verdicts.push(v);
    if (v !== 0) {
      const out = Buffer.alloc(1024);
      const base = this.message(req.id, q, 0, []);
      base.copy(out);
      const k = v === TsigError.BADTIME ? this.key : undefined;
      return [out.subarray(0, appendTsigError(k, rec.keyName, rec.algorithm, out, base.length, rec, v, now))];
    }
    const signer = new TsigSigner(this.key, rec.mac, rec.originalId);
    const z = this.zone;
    const msgs: RRInput[][] =
      // an IXFR is answered AXFR-style (RFC 1995 §4 allows it)
      q.type === RRType.AXFR || q.type === RRType.IXFR
        ? [
            [this.soa(), { name: z, type: RRType.NS, ttl: 60, data: `ns.${z}` }, a(`ns.${z}`, 53)],
            [1, 2, 3].map((i) => a(`h${i}.${z}`, i)),
            [4, 5].map((i) => a(`h${i}.${z}`, i)),
            [a(`h6.${z}`, 6), this.soa()],
          ]
        : q.type === RRType.SOA
          ? [[this.soa()]]
          : [[a(q.name, 1)]];
    return msgs.map((answers, i) => {
      const plain = this.message(req.id, q, 0, answers);
      const out = Buffer.alloc(plain.length + 512);
      plain.copy(out);
      const len = signer.sign(out, plain.length, now);
      if (this.corrupt === 'mac' || this.corrupt === i) out[len - 10] ^= 0xff; // inside the MAC
      return out.subarray(0, len);
    });
  }

  private message(id: number, q: Question, rcode: number, answers: RRInput[]): Buffer {
    return encode({ id, qr: true, aa: true, rcode, questions: [q], answers });
  }

  private soa(): RRInput {
    const z = this.zone;
    return {
      name: z,
      type: RRType.SOA,
      ttl: 60,
      data: {
        mname: `ns.${z}`,
        rname: `hostmaster.${z}`,
        serial: this.serial,
        refresh: 3600,
        retry: 60,
        expire: 86400,
        minimum: 30,
      },
    };
  }
}

function a(name: string, i: number): RRInput {
  return { name, type: RRType.A, ttl: 60, data: `192.0.2.${i}` };
}
