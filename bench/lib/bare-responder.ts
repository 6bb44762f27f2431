/**
 * The reference of bench/qps: a bare Node.js UDP responder returning canned bytes — the request's
 * header and question with QR and AA set, and one fixed A record pointing at the question name —
 * with nothing else per query: no parsing beyond finding the question's end, no lookup, no
 * counters. It is the ceiling of any server built on node:dgram on this machine, measured in the
 * same run as hades and Knot.
 *
 *   node dist/bench/lib/bare-responder.js PORT
 */
import dgram from 'node:dgram';

const port = Number(process.argv[2]);
const sock = dgram.createSocket({
  type: 'udp4',
  // the address is a literal: answer at once, so the send is synchronous (as hades does)
  lookup: ((a: string, f: number, cb: (e: null, a: string, f: number) => void) => cb(null, a, f)) as never,
});
const out = Buffer.alloc(512);
const ANSWER = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 1]);

sock.on('message', (m, r) => {
  // end of the question: the name's labels, then type and class
  let i = 12;
  while (i < m.length && m[i] !== 0) i += m[i] + 1;
  const qend = i + 5;
  if (qend > m.length || qend + ANSWER.length > out.length) return;
  m.copy(out, 0, 0, qend);
  out[2] = (out[2] | 0x84) & 0xfd; // QR, AA; no TC
  out[3] = 0;
  out[6] = 0;
  out[7] = 1; // ANCOUNT 1
  out[8] = out[9] = out[10] = out[11] = 0;
  ANSWER.copy(out, qend);
  sock.send(out, 0, qend + ANSWER.length, r.port, r.address);
});
sock.bind(port, '127.0.0.1', () => process.send?.('listening'));
