/**
 * A tiny upstream DNS server for integration tests, on loopback only: UDP and TCP on one port,
 * answering each question with what `answer` returns (after `delayMs`), or staying silent. It
 * records what it was asked. The addresses it hands out are documentation ranges (RFC 5737):
 * data only, nothing is ever sent to them.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { Rcode } from '../../src/dns/wire/constants.js';
import { decode, type Question } from '../../src/dns/wire/decode.js';
import { encode, type RRInput } from '../../src/dns/wire/encode.js';

export interface UpstreamAnswer {
  rcode?: number;
  answers?: RRInput[];
  authorities?: RRInput[];
}

export interface FakeUpstream {
  readonly host: string;
  readonly port: number;
  /** `host:port`, for -nameservers / -stub. */
  readonly address: string;
  /** Questions received, in order: `name type transport`. */
  readonly seen: string[];
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** What to answer; null or undefined: stay silent (a dead upstream). */
  answer?: (q: Question) => UpstreamAnswer | null;
  /** Wait this long before answering (ms). */
  delayMs?: number;
  port?: number;
}

function reply(msg: Buffer, answer: UpstreamOptions['answer']): Buffer | null {
  let m: ReturnType<typeof decode>;
  try {
    m = decode(msg);
  } catch {
    return null;
  }
  const q = m.questions[0];
  if (m.qr || q === undefined) return null;
  const a = answer?.(q) ?? null;
  if (a === null) return null;
  return encode({
    id: m.id,
    qr: true,
    rd: m.rd,
    ra: true,
    cd: m.cd,
    rcode: a.rcode ?? Rcode.NOERROR,
    questions: m.questions,
    answers: a.answers ?? [],
    authorities: a.authorities ?? [],
    edns: m.edns ? { udpSize: 1232 } : null,
  });
}

/** Starts the upstream on 127.0.0.1 (UDP and TCP on the same port). */
export async function startUpstream(opts: UpstreamOptions = {}): Promise<FakeUpstream> {
  const host = '127.0.0.1';
  const seen: string[] = [];
  const delay = opts.delayMs ?? 0;
  const note = (msg: Buffer, transport: string): void => {
    try {
      const q = decode(msg).questions[0];
      if (q) seen.push(`${q.name.toLowerCase()} ${q.type} ${transport}`);
    } catch {
      // not a DNS message
    }
  };
  const later = (f: () => void): void => {
    if (delay > 0) setTimeout(f, delay);
    else f();
  };
  const conns = new Set<net.Socket>();
  const tcp = net.createServer((s) => {
    conns.add(s);
    s.on('close', () => conns.delete(s));
    s.on('error', () => {});
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length < n + 2) break;
        const msg = Buffer.from(buf.subarray(2, n + 2));
        buf = buf.subarray(n + 2);
        note(msg, 'tcp');
        const r = reply(msg, opts.answer);
        if (r === null) continue;
        later(() => {
          if (s.destroyed) return;
          const out = Buffer.alloc(r.length + 2);
          out.writeUInt16BE(r.length, 0);
          r.copy(out, 2);
          s.write(out);
        });
      }
    });
  });
  let port = 0;
  let udp: dgram.Socket | undefined;
  for (let attempt = 0; udp === undefined; attempt++) {
    port = await new Promise<number>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(opts.port ?? 0, host, () => resolve((tcp.address() as net.AddressInfo).port));
    });
    const u = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      u.once('error', () => resolve(false));
      u.bind(port, host, () => resolve(true));
    });
    if (ok) udp = u;
    else {
      // the UDP port is taken: try another pair
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      if (attempt >= 20 || opts.port) throw new Error(`upstream: UDP port ${port} is in use`);
    }
  }
  udp.on('error', () => {});
  udp.on('message', (msg, rinfo) => {
    note(msg, 'udp');
    const r = reply(msg, opts.answer);
    if (r === null) return;
    later(() => {
      try {
        udp.send(r, rinfo.port, rinfo.address);
      } catch {
        // closed
      }
    });
  });
  return {
    host,
    port,
    address: `${host}:${port}`,
    seen,
    close: async () => {
      for (const s of conns) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => tcp.close(() => resolve())),
        new Promise<void>((resolve) => {
          try {
            udp.close(() => resolve());
          } catch {
            resolve();
          }
        }),
      ]);
    },
  };
}
