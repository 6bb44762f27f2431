/**
 * Test helpers for test/dns: small DNS clients on node sockets (UDP, TCP with framing), the
 * real `dig`/`kdig`/`nslookup` runners, and a tiny QueryHandler for transport tests.
 */
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { type ClientInfo, DROP, FORWARD, type LocalAnswer, type QueryHandler } from '../../src/dns/types.js';
import { Rcode, RRType, Section } from '../../src/dns/wire/constants.js';
import { ParseStatus, type Query } from '../../src/dns/wire/query.js';
import { QNAME, type ResponseWriter } from '../../src/dns/wire/writer.js';

export { sleep, waitFor } from '../lib/wait.js';

/** One UDP query; resolves with the first reply or rejects after `timeoutMs`. */
export function udpQuery(port: number, msg: Buffer, host = '127.0.0.1', timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no UDP reply from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    sock.send(msg, port, host);
  });
}

/** One UDP query to 127.0.0.1:`port` sent from source address `src`; the first reply, or a rejection after 3 s. */
export function udpFrom(port: number, src: string, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no UDP reply to ${src} within 3 s`));
    }, 3000);
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.bind({ address: src, port: 0 }, () => sock.send(msg, port, '127.0.0.1'));
  });
}

/** One query over a new TCP connection to 127.0.0.1:`port` from source address `src`; the first reply (unframed), or a rejection after 5 s. */
export function tcpFrom(port: number, src: string, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: src });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no TCP reply to ${src} within 5 s`));
    }, 5000);
    s.on('connect', () => s.write(frame(msg)));
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        clearTimeout(timer);
        s.destroy();
        resolve(buf.subarray(2, buf.readUInt16BE(0) + 2));
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** `msg` with its 2-byte length prefix. */
export function frame(msg: Buffer): Buffer {
  const out = Buffer.alloc(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

/** A TCP client that splits the server's byte stream into frames. */
export class TcpClient {
  readonly frames: Buffer[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      while (this.buf.length >= 2) {
        const n = this.buf.readUInt16BE(0);
        if (this.buf.length < n + 2) break;
        this.frames.push(Buffer.from(this.buf.subarray(2, n + 2)));
        this.buf = this.buf.subarray(n + 2);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host });
      s.once('connect', () => {
        s.removeListener('error', reject);
        resolve(new TcpClient(s));
      });
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `n` frames have arrived in total (or rejects when the connection closes first). */
  async waitFrames(n: number, timeoutMs = 15_000): Promise<Buffer[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < n) {
      if (this.closed) throw new Error(`connection closed after ${this.frames.length} of ${n} frames`);
      if (Date.now() > deadline) throw new Error(`only ${this.frames.length} of ${n} frames`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.frames.slice(0, n);
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  write(b: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.write(b)) resolve();
      else this.socket.once('drain', () => resolve());
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program; never rejects on a non-zero exit (the result says). */
export function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** `dig @host -p port args...` with short timeouts and one try. */
export function dig(port: number, args: string[], host = '127.0.0.1'): Promise<ExecResult> {
  return run('dig', [`@${host}`, '-p', String(port), '+time=2', '+tries=1', ...args]);
}

export function kdig(port: number, args: string[], host = '127.0.0.1'): Promise<ExecResult> {
  return run('kdig', [`@${host}`, '-p', String(port), '+time=2', '+retry=0', ...args]);
}

/** The `status:` of a dig/kdig reply (NOERROR, NXDOMAIN, ...), or '' when there was none. */
export function digStatus(out: string): string {
  return /status: ([A-Z]+)/.exec(out)?.[1] ?? '';
}

/** Records of a `+noall +answer`-style section: [name, ttl, class, type, data]. */
export function digRecords(out: string): string[][] {
  return out
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith(';'))
    .map((l) => {
      const parts = l.trim().split(/\s+/);
      return [parts[0], parts[1], parts[2], parts[3], parts.slice(4).join(' ')];
    });
}

/**
 * A small handler for transport tests. Names (first label decides):
 * `drop.` → DROP, `throw.` → throws, `fwd.` → FORWARD, `big<N>.` → N TXT records of 200 octets
 * (to force truncation), `ext.` → a CNAME to `www.example.net.` with that name as the external
 * target, anything else → one A 192.0.2.1; FORMERR/NOTIMP/BADVERS as the parser says.
 */
export function testHandler(): QueryHandler & { seen: ClientInfo[] } {
  const seen: ClientInfo[] = [];
  const txt = 'x'.repeat(200);
  const result: LocalAnswer = { length: 0, externalTarget: '' };
  return {
    seen,
    answer(q: Query, st: ParseStatus, client: ClientInfo, w: ResponseWriter, limit: number): LocalAnswer {
      if (seen.length < 100) seen.push({ ...client });
      result.externalTarget = '';
      if (st !== ParseStatus.OK) {
        const rcode =
          st === ParseStatus.FORMERR
            ? Rcode.FORMERR
            : st === ParseStatus.NOTIMP
              ? Rcode.NOTIMP
              : Rcode.BADVERS;
        result.length = w.empty(q, rcode, 4096, limit);
        return result;
      }
      const first = q.qname.split('.')[0];
      if (first === 'throw') throw new Error('test handler throws');
      if (first === 'drop' || first === 'fwd') {
        result.length = first === 'drop' ? DROP : FORWARD;
        return result;
      }
      w.start(q, Rcode.NOERROR, 0x0400);
      const big = /^big(\d+)$/.exec(first);
      if (big) for (let i = 0; i < Number(big[1]); i++) w.addTXT(Section.ANSWER, QNAME, 60, `${i} ${txt}`);
      else if (first === 'ext') {
        w.addCNAME(Section.ANSWER, QNAME, 60, 'www.example.net.');
        result.externalTarget = 'www.example.net.';
      } else if (q.qtype === RRType.A) w.addA(Section.ANSWER, QNAME, 60, '192.0.2.1');
      if (q.edns) w.addOPT(4096, 0, q.do);
      result.length = w.finish(limit);
      return result;
    },
  };
}

export interface DigRR {
  name: string;
  ttl: number;
  class: string;
  type: string;
  data: string;
}

export interface DigResult {
  status: string;
  flags: string[];
  /** An OPT record came back (dig "OPT PSEUDOSECTION", kdig "EDNS PSEUDOSECTION"). */
  edns: boolean;
  answer: DigRR[];
  authority: DigRR[];
  additional: DigRR[];
  raw: string;
}

/** Parses the text output of dig or kdig (with comments): status, flags, EDNS and the sections. */
export function parseDig(out: string): DigResult {
  const res: DigResult = {
    status: /status: ([A-Z0-9]+)/.exec(out)?.[1] ?? '',
    flags: (/;; flags: ([a-z ]*)[;\n]/i.exec(out)?.[1] ?? '').trim().split(/\s+/).filter(Boolean),
    edns: /OPT PSEUDOSECTION|EDNS PSEUDOSECTION/.test(out),
    answer: [],
    authority: [],
    additional: [],
    raw: out,
  };
  let section: DigRR[] | undefined;
  for (const line of out.split('\n')) {
    const head = /^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (head) {
      section = head[1] === 'ANSWER' ? res.answer : head[1] === 'AUTHORITY' ? res.authority : res.additional;
      continue;
    }
    if (line.trim() === '') {
      section = undefined;
      continue;
    }
    if (line.startsWith(';') || section === undefined) continue;
    const p = line.trim().split(/\s+/);
    section.push({ name: p[0], ttl: Number(p[1]), class: p[2], type: p[3], data: p.slice(4).join(' ') });
  }
  return res;
}

/** `TYPE data` strings of a section, sorted (for order-free comparisons). */
export function rrset(rrs: DigRR[], type?: string): string[] {
  return rrs
    .filter((r) => type === undefined || r.type === type)
    .map((r) => `${r.type} ${r.data}`)
    .sort();
}
