/**
 * bench/wire: ns/op of the hot-path wire codec for one A query (parse + reply with one A record
 * owned by the question name + OPT), next to dns-packet doing the same decode + encode in the
 * same run. Not part of npm test; figures are printed, not asserted.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/wire.js [--iterations 2000000]
 */
import { parseArgs } from 'node:util';
import dnsPacket from 'dns-packet';
import { Flag, RRType, Section } from '../src/dns/wire/constants.js';
import { encodeQuery } from '../src/dns/wire/encode.js';
import { newQuery, ParseStatus, parseQuery } from '../src/dns/wire/query.js';
import { QNAME, ResponseWriter } from '../src/dns/wire/writer.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '2000000' } } });
const N = Number(values.iterations);

const request = encodeQuery({
  id: 4242,
  name: 'CcTv1.User.Hades.Local.',
  type: RRType.A,
  edns: { udpSize: 1232, ecs: { address: '192.0.2.0', sourcePrefix: 24 } },
});

function time(name: string, n: number, fn: () => void): number {
  for (let i = 0; i < Math.min(n, 100_000); i++) fn(); // warm up
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / n;
  const heap = (process.memoryUsage().heapUsed - heap0) / n;
  console.log(
    `${name.padEnd(34)} ${ns.toFixed(1).padStart(8)} ns/op ${heap.toFixed(1).padStart(8)} heap B/op (approx.)`,
  );
  return ns;
}

const q = newQuery();
const w = new ResponseWriter();
let sink = 0;

const parse = time('hades parseQuery', N, () => {
  if (parseQuery(request, request.length, q) !== ParseStatus.OK) throw new Error('parse');
});
const write = time('hades write reply (A + OPT/ECS)', N, () => {
  w.start(q, 0, Flag.AA);
  w.addA(Section.ANSWER, QNAME, 30, 0xc0a80a01);
  w.addOPT(1232, 0, q.do, q, 24);
  sink += w.finish(q.udpSize);
});
const both = time('hades parse + write', N, () => {
  parseQuery(request, request.length, q);
  w.start(q, 0, Flag.AA);
  w.addA(Section.ANSWER, QNAME, 30, 0xc0a80a01);
  w.addOPT(1232, 0, q.do, q, 24);
  sink += w.finish(q.udpSize);
});
const peer = time('dns-packet decode + encode (peer)', Math.max(1, Math.floor(N / 10)), () => {
  const p = dnsPacket.decode(request);
  const question = p.questions?.[0];
  if (!question) throw new Error('no question');
  sink += dnsPacket.encode({
    type: 'response',
    id: p.id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [question],
    answers: [{ type: 'A', name: question.name, ttl: 30, data: '192.168.10.1' }],
  }).length;
});
console.log(
  `parse ${parse.toFixed(0)} ns + write ${write.toFixed(0)} ns; parse+write is ${(peer / both).toFixed(1)}x faster than dns-packet (${sink > 0 ? 'ok' : ''})`,
);
