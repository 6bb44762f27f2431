/**
 * The reference of bench/qps: a bare Node.js UDP responder returning canned bytes — the request's
 * header and question with QR and AA set, and one fixed A record pointing at the question name —
 * with nothing else per query: no parsing beyond finding the question's end, no lookup, no
 * counters. Two of them run in the same run as hades and Knot:
 *
 *   node dist/bench/lib/bare-responder.js PORT          node:dgram: the ceiling of any server on it
 *   node dist/bench/lib/bare-responder.js PORT batch    hades's batched socket (src/dns/udp-batch.ts)
 */
import dgram from 'node:dgram';
import { BATCH, UdpBatchSocket } from '../../src/dns/udp-batch.js';

const port = Number(process.argv[2]);
const ANSWER = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 1]);

/** Writes the canned reply to `m[0, len)` into `out`; returns its length or 0. */
function respond(m: Buffer, len: number, out: Buffer): number {
  // end of the question: the name's labels, then type and class
  let i = 12;
  while (i < len && m[i] !== 0) i += m[i] + 1;
  const qend = i + 5;
  if (qend > len || qend + ANSWER.length > out.length) return 0;
  m.copy(out, 0, 0, qend);
  out[2] = (out[2] | 0x84) & 0xfd; // QR, AA; no TC
  out[3] = 0;
  out[6] = 0;
  out[7] = 1; // ANCOUNT 1
  out[8] = out[9] = out[10] = out[11] = 0;
  ANSWER.copy(out, qend);
  return qend + ANSWER.length;
}

if (process.argv[3] === 'batch') {
  const outs: Buffer[] = [];
  for (let i = 0; i < BATCH; i++) outs.push(Buffer.alloc(512));
  const sock = UdpBatchSocket.bind('127.0.0.1', port, 4, 4 << 20, false, outs);
  let datagrams = 0;
  sock.start((n) => {
    datagrams += n;
    for (let i = 0; i < n; i++) {
      const len = sock.length(i);
      sock.reply(i, len > 0 ? respond(sock.request(i), len, outs[i]) : 0);
    }
  });
  process.on('SIGTERM', () => {
    const batches = sock.counters[3];
    if (process.env.HADES_BENCH_BATCH_STATS)
      console.error(
        `batch: ${datagrams} datagrams in ${batches} batches (${(datagrams / batches).toFixed(1)} per batch)`,
      );
    sock.close();
    process.exit(0);
  });
  process.send?.('listening');
} else {
  const sock = dgram.createSocket({
    type: 'udp4',
    // the address is a literal: answer at once, so the send is synchronous (as hades does)
    lookup: ((a: string, f: number, cb: (e: null, a: string, f: number) => void) => cb(null, a, f)) as never,
  });
  const out = Buffer.alloc(512);
  sock.on('message', (m, r) => {
    const n = respond(m, m.length, out);
    if (n > 0) sock.send(out, 0, n, r.port, r.address);
  });
  sock.bind(port, '127.0.0.1', () => process.send?.('listening'));
}
