/**
 * The query pipeline in process: each stage's outcome for a request (local, cache, forwarder at
 * once or later, REFUSED, completion of an out-of-zone CNAME, exceptions), what is sent now and
 * what later, and the counters. The transports over real sockets: test/dns/server.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testHandler } from '../../../test/dns/clients.js';
import { NoisyLog } from '../noisy-log.js';
import { QueryCounters, TRANSPORT_UDP } from '../query-counters.js';
import { newServerStats } from '../server-stats.js';
import { type ClientInfo, DROP, type LateReplies, PENDING } from '../types.js';
import { Rcode, RRType } from '../wire/constants.js';
import { decode, type Message } from '../wire/decode.js';
import { encode, encodeQuery } from '../wire/encode.js';
import { ResponseWriter } from '../wire/writer.js';
import type { Upstreams } from './forward.js';
import type { ReplyCache } from './from-cache.js';
import { QueryPipeline } from './pipeline.js';

const CLIENT: ClientInfo = { address: '127.0.0.9', port: 5300, family: 4, transport: 'udp' };

function query(name: string, edns = false): Buffer {
  return encodeQuery({ id: 77, name, type: RRType.A, edns: edns ? { udpSize: 1232 } : null });
}

/** An upstream answer to `req`: one A record. */
function upstreamReply(req: Buffer, address = '198.51.100.7'): Buffer {
  const m = decode(req);
  return encode({
    id: m.id,
    qr: true,
    ra: true,
    rcode: 0,
    questions: m.questions,
    answers: [{ name: m.questions[0].name, type: RRType.A, ttl: 5, data: address }],
  });
}

/** How a fake forwarder settles: at once or later, with a reply or an rcode. */
type Settle =
  | { when: 'now' | 'later'; reply: true }
  | { when: 'now' | 'later'; rcode: number | undefined }
  | { when: 'throw' };

function forwarder(settle: Settle, later: (() => void)[]): Upstreams {
  return {
    forward(req, len, _transport, done) {
      if (settle.when === 'throw') throw new Error('forwarder bug');
      const copy = Buffer.from(req.subarray(0, len));
      const call = (): void => ('reply' in settle ? done(upstreamReply(copy)) : done(null, settle.rcode));
      if (settle.when === 'now') call();
      else later.push(call);
    },
    completeExternal(_req, _reqLen, reply, replyLen, _target, _transport, done) {
      // appends nothing, but marks the reply so the test sees which one was sent
      const out = Buffer.from(reply.subarray(0, replyLen));
      out[1] ^= 0xff;
      if (settle.when === 'now') done(out);
      else later.push(() => done(out));
      return true;
    },
  };
}

interface Sent {
  client: ClientInfo;
  reply: Message | null;
}

function harness(opts: { forwarder?: Upstreams; cache?: ReplyCache; late?: boolean } = {}) {
  const stats = newServerStats();
  const counters = new QueryCounters();
  const pipeline = new QueryPipeline(
    { handler: testHandler(), forwarder: opts.forwarder, cache: opts.cache },
    stats,
    counters,
    new NoisyLog({ debug() {}, info() {}, warn() {}, error() {} }),
  );
  const sent: Sent[] = [];
  const late: LateReplies = {
    later(client, reply, length) {
      sent.push({ client: { ...client }, reply: reply === null ? null : decode(reply.subarray(0, length)) });
      return opts.late !== false;
    },
  };
  const w = new ResponseWriter();
  const run = (req: Buffer): { n: number; now: Message | null } => {
    const client = { ...CLIENT };
    const n = pipeline.run(req, req.length, client, w, performance.now(), late);
    // the transport reuses what it lent: nothing may depend on it after run()
    req.fill(0xee);
    client.address = 'reused';
    return { n, now: n > 0 ? decode(w.buf.subarray(0, n)) : null };
  };
  const responses = (rcode: number): number => counters.responses[TRANSPORT_UDP * 16 + rcode];
  return { run, sent, stats, counters, responses };
}

describe('QueryPipeline', () => {
  it('answers our names from the handler, at once', () => {
    const h = harness();
    const { n, now } = h.run(query('www.example.'));
    assert.ok(n > 0);
    assert.equal(now?.answers[0].data, '192.0.2.1');
    assert.equal(h.responses(Rcode.NOERROR), 1);
    assert.equal(h.counters.requestsOn(TRANSPORT_UDP), 1);
    assert.equal(h.stats.forwarded, 0);
    assert.equal(h.counters.durationCount, 1);
  });

  it('drops what has no readable header, counted as a request of type other', () => {
    const h = harness();
    assert.equal(h.run(Buffer.from([1, 2, 3])).n, DROP);
    assert.equal(h.stats.dropped, 1);
    assert.equal(h.counters.requests[h.counters.qtypeLabels.indexOf('other')], 1);
  });

  it('answers SERVFAIL when the handler throws, and counts it', () => {
    const h = harness();
    const { now } = h.run(query('throw.example.', true));
    assert.equal(now?.rcode, Rcode.SERVFAIL);
    assert.equal(now?.questions[0].name, 'throw.example.');
    assert.ok(now?.edns, 'OPT echoed');
    assert.equal(h.stats.handlerErrors, 1);
  });

  it('names outside our zones: cache, forwarder, REFUSED', async (t) => {
    const cases: {
      name: string;
      cache?: boolean;
      settle?: Settle;
      now: 'reply' | 'pending' | number;
      later?: 'reply' | 'none' | number;
    }[] = [
      { name: 'no cache, no forwarder: REFUSED', now: Rcode.REFUSED },
      { name: 'a cache hit', cache: true, settle: { when: 'later', reply: true }, now: 'reply' },
      { name: 'forwarder answers at once', settle: { when: 'now', reply: true }, now: 'reply' },
      {
        name: 'forwarder refuses at once',
        settle: { when: 'now', rcode: Rcode.REFUSED },
        now: Rcode.REFUSED,
      },
      { name: 'forwarder throws: SERVFAIL', settle: { when: 'throw' }, now: Rcode.SERVFAIL },
      {
        name: 'forwarder answers later',
        settle: { when: 'later', reply: true },
        now: 'pending',
        later: 'reply',
      },
      {
        name: 'forwarder gives up later: SERVFAIL from the kept request',
        settle: { when: 'later', rcode: Rcode.SERVFAIL },
        now: 'pending',
        later: Rcode.SERVFAIL,
      },
      {
        name: 'forwarder says send nothing, later',
        settle: { when: 'later', rcode: undefined },
        now: 'pending',
        later: 'none',
      },
    ];
    for (const c of cases) {
      await t.test(c.name, () => {
        const due: (() => void)[] = [];
        const cache: ReplyCache | undefined = c.cache
          ? {
              serve(req, len, _transport, out) {
                const r = upstreamReply(Buffer.from(req.subarray(0, len)), '203.0.113.9');
                r.copy(out);
                return r.length;
              },
            }
          : undefined;
        const h = harness({ cache, forwarder: c.settle && forwarder(c.settle, due) });
        const { n, now } = h.run(query('fwd.example.', true));
        assert.equal(h.stats.forwarded, 1);
        if (c.now === 'pending') {
          assert.equal(n, PENDING);
          assert.equal(h.sent.length, 0);
          assert.equal(h.counters.durationCount, 0, 'nothing sent yet');
        } else if (c.now === 'reply') {
          assert.equal(now?.rcode, Rcode.NOERROR);
          assert.equal(now?.answers[0].data, c.cache ? '203.0.113.9' : '198.51.100.7');
        } else {
          assert.equal(now?.rcode, c.now);
          assert.equal(now?.id, 77);
          assert.equal(now?.questions[0].name, 'fwd.example.');
          assert.ok(now?.edns, 'OPT echoed');
        }
        for (const f of due) f();
        if (c.later === undefined) {
          assert.equal(h.sent.length, 0);
          return;
        }
        assert.equal(h.sent.length, 1);
        const s = h.sent[0];
        assert.deepEqual(s.client, CLIENT, 'the client as it was when the request came');
        if (c.later === 'none') {
          assert.equal(s.reply, null);
          assert.equal(h.stats.dropped, 1);
        } else if (c.later === 'reply') {
          assert.equal(s.reply?.answers[0].data, '198.51.100.7');
          assert.equal(h.responses(Rcode.NOERROR), 1);
        } else {
          assert.equal(s.reply?.rcode, c.later);
          assert.equal(s.reply?.id, 77);
          assert.equal(s.reply?.questions[0].name, 'fwd.example.');
          assert.equal(h.responses(c.later), 1);
        }
        assert.equal(h.counters.durationCount, c.later === 'none' ? 0 : 1);
      });
    }
  });

  it('completes an out-of-zone CNAME through the forwarder, at once or later', () => {
    for (const when of ['now', 'later'] as const) {
      const due: (() => void)[] = [];
      const h = harness({ forwarder: forwarder({ when, reply: true }, due) });
      const { n, now } = h.run(query('ext.example.'));
      for (const f of due) f();
      const completed = when === 'now' ? now : h.sent[0]?.reply;
      assert.equal(when === 'now' ? n > 0 : n === PENDING, true, when);
      // the fake completion flips the ID's low octet: the completed reply was sent, not ours
      assert.equal(completed?.id, 77 ^ 0xff, when);
      assert.equal(completed?.answers[0].data, 'www.example.net.');
    }
  });

  it('sends the CNAME alone without a forwarder', () => {
    const h = harness();
    const { now } = h.run(query('ext.example.'));
    assert.equal(now?.id, 77);
    assert.equal(now?.answers.length, 1);
    assert.equal(now?.answers[0].type, RRType.CNAME);
  });

  it('does not count a late reply the transport could not send', () => {
    const due: (() => void)[] = [];
    const h = harness({ forwarder: forwarder({ when: 'later', reply: true }, due), late: false });
    assert.equal(h.run(query('fwd.example.')).n, PENDING);
    for (const f of due) f();
    assert.equal(h.sent.length, 1);
    assert.equal(h.responses(Rcode.NOERROR), 0);
    assert.equal(h.stats.dropped, 1);
  });
});
