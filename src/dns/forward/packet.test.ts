import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rcode, RRType } from '../wire/constants.js';
import { decode } from '../wire/decode.js';
import { encode, encodeQuery, type RRInput } from '../wire/encode.js';
import { newWalk, questionMatches, RelayShape, relayReply, walkMessage } from './packet.js';

const NAME = 'WwW.Example.COM.';

function upstreamReply(opts: { answers: number; glue: number; opt: boolean; optFirst?: boolean }): Buffer {
  const answers: RRInput[] = [];
  for (let i = 0; i < opts.answers; i++)
    answers.push({ name: 'www.example.com.', type: RRType.A, ttl: 60, data: `192.0.2.${i + 1}` });
  const additionals: RRInput[] = [];
  const opt: RRInput = { name: '.', type: RRType.OPT, class: 4096, ttl: 0, data: { options: [] } };
  if (opts.opt && opts.optFirst) additionals.push(opt);
  for (let i = 0; i < opts.glue; i++)
    additionals.push({ name: `ns${i}.example.com.`, type: RRType.AAAA, ttl: 60, data: `2001:db8::${i + 1}` });
  if (opts.opt && !opts.optFirst) additionals.push(opt);
  return encode({
    id: 0x4242,
    qr: true,
    rd: true,
    ra: false,
    questions: [{ name: 'www.example.com.', type: RRType.A, class: 1 }],
    answers,
    additionals,
  });
}

const clientQuery = encodeQuery({ id: 0x1234, name: NAME, type: RRType.A, edns: { udpSize: 4096 } });

describe('questionMatches', () => {
  const reply = upstreamReply({ answers: 1, glue: 0, opt: false });
  const qlen = 17; // www.example.com. on the wire
  it('matches case-insensitively', () => {
    assert.ok(questionMatches(reply, reply.length, clientQuery, qlen, RRType.A, 1));
  });
  const cases: [string, (b: Buffer) => void, number, number][] = [
    ['another name', (b) => (b[13] = 0x78), RRType.A, 1],
    ['another type', () => {}, RRType.AAAA, 1],
    ['another class', () => {}, RRType.A, 3],
    ['not a response', (b) => (b[2] &= 0x7f), RRType.A, 1],
    ['two questions', (b) => (b[5] = 2), RRType.A, 1],
  ];
  for (const [what, mutate, qtype, qclass] of cases) {
    it(`rejects ${what}`, () => {
      const b = Buffer.from(reply);
      mutate(b);
      assert.equal(questionMatches(b, b.length, clientQuery, qlen, qtype, qclass), false);
    });
  }
  it('rejects a reply cut inside the question', () => {
    assert.equal(questionMatches(reply, 20, clientQuery, qlen, RRType.A, 1), false);
  });
});

describe('walkMessage', () => {
  it('finds the sections and the OPT', () => {
    const b = upstreamReply({ answers: 2, glue: 1, opt: true });
    const w = newWalk();
    assert.ok(walkMessage(b, b.length, w));
    assert.equal(w.questionEnd, 12 + 17 + 4);
    assert.equal(w.end, b.length);
    assert.equal(w.optEnd, b.length);
    assert.equal(w.optEnd - w.optStart, 11);
    assert.ok(w.authEnd > w.questionEnd && w.authEnd < w.optStart);
  });
  it('rejects messages cut short anywhere', () => {
    const b = upstreamReply({ answers: 2, glue: 1, opt: true });
    const w = newWalk();
    for (let n = 0; n < b.length; n++) assert.equal(walkMessage(b, n, w), false, `length ${n}`);
  });
});

describe('relayReply', () => {
  const table: {
    name: string;
    reply: Parameters<typeof upstreamReply>[0];
    limit: number;
    clientEdns: boolean;
    shape: number;
    answers: number;
    additionals: number;
    opt: boolean;
  }[] = [
    {
      name: 'fits whole',
      reply: { answers: 3, glue: 2, opt: true },
      limit: 1232,
      clientEdns: true,
      shape: RelayShape.WHOLE,
      answers: 3,
      additionals: 3,
      opt: true,
    },
    {
      name: 'glue dropped, OPT kept, no TC',
      reply: { answers: 3, glue: 30, opt: true },
      limit: 512,
      clientEdns: true,
      shape: RelayShape.TRIMMED,
      answers: 3,
      additionals: -1,
      opt: true,
    },
    {
      name: 'answers do not fit: TC',
      reply: { answers: 40, glue: 0, opt: true },
      limit: 512,
      clientEdns: true,
      shape: RelayShape.TRUNCATED,
      answers: 0,
      additionals: 1,
      opt: true,
    },
    {
      name: 'an upstream OPT for a client without EDNS is dropped',
      reply: { answers: 1, glue: 1, opt: true },
      limit: 512,
      clientEdns: false,
      shape: RelayShape.WHOLE,
      answers: 1,
      additionals: 1,
      opt: false,
    },
    {
      name: 'records after a misplaced OPT go (they may point into earlier ones)',
      reply: { answers: 1, glue: 2, opt: true, optFirst: true },
      limit: 1232,
      clientEdns: true,
      shape: RelayShape.TRIMMED,
      answers: 1,
      additionals: 1,
      opt: true,
    },
  ];
  for (const c of table) {
    it(c.name, () => {
      const b = upstreamReply(c.reply);
      const w = newWalk();
      assert.ok(walkMessage(b, b.length, w));
      const shape = { value: -1 };
      const out = relayReply(
        b,
        w,
        {
          id: 0x1234,
          query: clientQuery,
          qnameLen: 17,
          limit: c.limit,
          clientEdns: c.clientEdns,
          udpSize: 1232,
        },
        shape,
      );
      assert.ok(out.length <= c.limit);
      assert.equal(shape.value, c.shape);
      const m = decode(out);
      assert.equal(m.id, 0x1234);
      assert.equal(m.ra, true);
      assert.equal(m.tc, c.shape === RelayShape.TRUNCATED);
      assert.equal(m.rcode, Rcode.NOERROR);
      assert.deepEqual(m.questions, [{ name: NAME, type: RRType.A, class: 1 }]);
      assert.equal(m.answers.length, c.answers);
      for (const rr of m.answers) assert.equal(rr.name, NAME); // owners point at the question
      if (c.additionals >= 0) assert.equal(m.additionals.length, c.additionals);
      else assert.ok(m.additionals.length >= 1 && m.additionals.length < c.reply.glue + 1);
      assert.equal(m.edns !== null, c.opt);
      if (m.edns) assert.equal(m.edns.udpSize, 1232);
    });
  }
});
