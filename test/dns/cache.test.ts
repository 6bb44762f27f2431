/**
 * The response cache end to end: a real etcd, a real `hades` child with `-rcache 1000
 * -rcache_ttl 30`, and an upstream DNS server this test runs on loopback (UDP and TCP, counting
 * what it is asked), given to hades with -nameservers. Clients are node sockets speaking the wire
 * codec from their own loopback source addresses (Linux routes all of 127/8 to lo), so exact
 * octets (0x20 case, TTLs) can be checked; the cache's counters are read from /metrics
 * (`-metrics-port`). All traffic stays on loopback.
 *
 * No wall-clock assertions: TTLs are compared with each other and with the caps, and the one
 * countdown check sleeps past a whole second before comparing.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Rcode, RRType } from '../../src/dns/wire/constants.js';
import { decode, type Message, type Question } from '../../src/dns/wire/decode.js';
import { type EdnsInput, encode, encodeQuery, type RRInput } from '../../src/dns/wire/encode.js';
import { nameToKey } from '../../src/records/keys.js';
import { serializeRecordValue } from '../../src/records/record.js';
import type { Store } from '../../src/store/types.js';
import { frame, sleep, tcpFrom, udpFrom, waitFor } from './clients.js';
import { type EtcdHades, freeDnsPort, type HadesProc, startEtcdHades } from './hades-proc.js';

const RCACHE_TTL = 30;
const APP = ['10.40.0.1', '10.40.0.2', '10.40.0.3', '10.40.0.4'];
const STATUS = '/hades/monitor/status/';
/** Client source addresses on loopback. */
const CLIENTS = Array.from({ length: 24 }, (_, i) => `127.0.0.${40 + i}`);

// ---- the upstream ----------------------------------------------------------------------------------

/**
 * Answers by name (lower case): `nx.example.net.` NXDOMAIN with the zone's SOA (TTL 3600, MINIMUM
 * 20); `fail.example.net.` SERVFAIL; `big.example.net.` A with TTL 86400; anything else A
 * 192.0.2.x (x from the name's length) with TTL 600. Owners point at the question (its case).
 */
class Upstream {
  /** Lower-case names asked, in order (probes of `.` excluded). */
  readonly seen: string[] = [];
  private constructor(
    readonly port: number,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
  ) {
    udp.on('message', (buf, rinfo) => {
      const r = this.answer(buf);
      if (r) udp.send(r, rinfo.port, rinfo.address);
    });
    tcp.on('connection', (s) => {
      s.on('error', () => {});
      let pending = Buffer.alloc(0);
      s.on('data', (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= pending.readUInt16BE(0) + 2) {
          const n = pending.readUInt16BE(0);
          const r = this.answer(pending.subarray(2, n + 2));
          pending = pending.subarray(n + 2);
          if (r && !s.destroyed) s.write(frame(r));
        }
      });
    });
  }

  static async start(): Promise<Upstream> {
    for (let attempt = 0; ; attempt++) {
      const tcp = net.createServer();
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
      });
      const port = (tcp.address() as net.AddressInfo).port;
      const udp = dgram.createSocket('udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(port, '127.0.0.1', () => resolve());
        });
        return new Upstream(port, udp, tcp);
      } catch (err) {
        udp.close();
        await new Promise<void>((r) => tcp.close(() => r()));
        if (attempt > 20) throw err;
      }
    }
  }

  /** How many times `name` (any case) was asked. */
  count(name: string): number {
    const n = name.toLowerCase();
    return this.seen.filter((x) => x === n).length;
  }

  private answer(buf: Buffer): Buffer | null {
    let q: Message;
    try {
      q = decode(buf);
    } catch {
      return null;
    }
    const question: Question | undefined = q.questions[0];
    if (question === undefined) return null;
    const name = question.name.toLowerCase();
    const edns = q.edns ? { udpSize: 1232, do: q.edns.do } : null;
    const base = { id: q.id, qr: true, rd: q.rd, ra: true, cd: q.cd, questions: q.questions, edns };
    if (name === '.') return encode({ ...base, answers: [] });
    this.seen.push(name);
    const soa: RRInput = {
      name: 'example.net.',
      type: RRType.SOA,
      ttl: 3600,
      data: {
        mname: 'ns1.example.net.',
        rname: 'hostmaster.example.net.',
        serial: 1,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: 20,
      },
    };
    if (name === 'nx.example.net.') return encode({ ...base, rcode: Rcode.NXDOMAIN, authorities: [soa] });
    if (name === 'fail.example.net.') return encode({ ...base, rcode: Rcode.SERVFAIL });
    if (question.type !== RRType.A) return encode({ ...base, authorities: [soa] });
    const ttl = name === 'big.example.net.' ? 86400 : 600;
    // the owner written as the question's own name (so the encoder points at the question)
    return encode({
      ...base,
      answers: [{ name: question.name, type: RRType.A, ttl, data: `192.0.2.${name.length}` }],
    });
  }

  async close(): Promise<void> {
    this.udp.close();
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }
}

// ---- clients -----------------------------------------------------------------------------------------

let nextId = 1;

/** One query from `src`; the decoded reply (its ID checked). */
async function ask(
  port: number,
  name: string,
  type: number = RRType.A,
  o: { src?: string; tcp?: boolean; edns?: EdnsInput | null } = {},
): Promise<Message> {
  const id = nextId++ & 0xffff;
  const msg = encodeQuery({ id, name, type, edns: o.edns === undefined ? { udpSize: 1232 } : o.edns });
  const src = o.src ?? '127.0.0.1';
  const m = decode(o.tcp ? await tcpFrom(port, src, msg) : await udpFrom(port, src, msg));
  assert.equal(m.id, id);
  return m;
}

function addrs(m: Message): string[] {
  return m.answers.filter((r) => r.type === RRType.A).map((r) => r.data as string);
}

// ---- the tests ---------------------------------------------------------------------------------------

describe('response cache: hades -rcache 1000 on etcd, a loopback upstream', () => {
  let fx: EtcdHades;
  let store: Store;
  let up: Upstream;
  let port: number;
  let metricsPort: number;
  let hades: HadesProc;

  /** The value of an unlabelled sample on /metrics. */
  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    assert.ok(line, `${name} on /metrics`);
    return Number(line.slice(name.length + 1));
  }

  before(async () => {
    up = await Upstream.start();
    metricsPort = await freeDnsPort();
    fx = await startEtcdHades(
      [
        '-nameservers',
        `127.0.0.1:${up.port}`,
        '-rcache',
        '1000',
        '-rcache_ttl',
        String(RCACHE_TTL),
        '-metrics-port',
        String(metricsPort),
        '-logtostderr',
      ],
      {
        domain: 'hades.local.',
        load: async (store) => {
          await store.put(nameToKey('web.hades.local'), serializeRecordValue({ host: '10.0.0.1', ttl: 60 }));
          await store.put(nameToKey('ext.hades.local'), serializeRecordValue({ host: 'target.example.net' }));
          const app = nameToKey('app.hades.local');
          for (let i = 0; i < APP.length; i++)
            await store.put(`${app}/a${i}`, serializeRecordValue({ host: APP[i], ttl: 30 }));
        },
      },
    );
    ({ store, port, hades } = fx);
  });

  after(async () => {
    const code = await fx?.stop();
    await up?.close();
    assert.equal(code, 0, `hades exit code\n${hades?.stderr()}`);
  });

  it('a forwarded answer is served from the cache: the upstream sees one query for several clients', async () => {
    const first = await ask(port, 'www.example.net.');
    assert.equal(first.rcode, Rcode.NOERROR);
    assert.deepEqual(addrs(first), ['192.0.2.16']);
    assert.equal(first.answers[0].ttl, 600, 'the first answer is the upstream’s, relayed');
    const again = await ask(port, 'www.example.net.', RRType.A, { src: CLIENTS[1] });
    const tcp = await ask(port, 'www.example.net.', RRType.A, { src: CLIENTS[2], tcp: true });
    const plain = await ask(port, 'www.example.net.', RRType.A, { edns: null });
    for (const m of [again, tcp, plain]) {
      assert.deepEqual(addrs(m), ['192.0.2.16']);
      assert.equal(m.ra, true);
      assert.ok(
        m.answers[0].ttl <= first.answers[0].ttl,
        `TTL ${m.answers[0].ttl} ≤ ${first.answers[0].ttl}`,
      );
      assert.ok(m.answers[0].ttl <= RCACHE_TTL, `TTL ${m.answers[0].ttl} ≤ -rcache_ttl`);
    }
    assert.equal(plain.edns, null, 'no OPT for a client without EDNS');
    assert.equal(up.count('www.example.net.'), 1, JSON.stringify(up.seen));
  });

  it('TTLs count down and never exceed -rcache_ttl', async () => {
    const first = await ask(port, 'big.example.net.');
    assert.equal(first.answers[0].ttl, 86400);
    const a = await ask(port, 'big.example.net.');
    assert.ok(a.answers[0].ttl <= RCACHE_TTL && a.answers[0].ttl > 0, `cached TTL ${a.answers[0].ttl}`);
    await sleep(1100); // the thing under test: a second passes, the cached TTL goes down
    const b = await ask(port, 'big.example.net.');
    assert.ok(b.answers[0].ttl < a.answers[0].ttl, `${b.answers[0].ttl} after ${a.answers[0].ttl}`);
    assert.equal(up.count('big.example.net.'), 1);
  });

  it('an upstream NXDOMAIN is cached (RFC 2308: min(SOA TTL, MINIMUM))', async () => {
    const first = await ask(port, 'nx.example.net.');
    assert.equal(first.rcode, Rcode.NXDOMAIN);
    const second = await ask(port, 'NX.example.net.', RRType.A, { src: CLIENTS[3] });
    assert.equal(second.rcode, Rcode.NXDOMAIN);
    assert.equal(second.questions[0].name, 'NX.example.net.');
    const soa = second.authorities.find((r) => r.type === RRType.SOA);
    assert.ok(soa, 'the SOA comes along');
    assert.ok(soa.ttl <= 20 && soa.ttl > 0, `SOA TTL ${soa.ttl}`);
    assert.equal(up.count('nx.example.net.'), 1);
  });

  it('an upstream SERVFAIL is cached briefly (≤ 5 s)', async () => {
    assert.equal((await ask(port, 'fail.example.net.')).rcode, Rcode.SERVFAIL);
    assert.equal((await ask(port, 'fail.example.net.')).rcode, Rcode.SERVFAIL);
    assert.equal(up.count('fail.example.net.'), 1);
  });

  it('no cross-case pollution: WWW.x then www.x, each reply echoes its own case', async () => {
    const upper = await ask(port, 'CASE.Example.NET.');
    const lower = await ask(port, 'case.example.net.');
    const mixed = await ask(port, 'cAsE.eXaMpLe.NeT.', RRType.A, { tcp: true });
    for (const [m, name] of [
      [upper, 'CASE.Example.NET.'],
      [lower, 'case.example.net.'],
      [mixed, 'cAsE.eXaMpLe.NeT.'],
    ] as const) {
      assert.equal(m.questions[0].name, name);
      assert.deepEqual(
        m.answers.map((r) => r.name),
        [name],
      );
    }
    assert.equal(up.count('case.example.net.'), 1);
    // local names too (never cached: answered from the catalog)
    const w1 = await ask(port, 'WEB.Hades.Local.');
    const w2 = await ask(port, 'web.hades.local.');
    assert.equal(w1.answers[0].name, 'WEB.Hades.Local.');
    assert.equal(w2.answers[0].name, 'web.hades.local.');
  });

  it('an out-of-zone CNAME target comes from the cache too', async () => {
    const direct = await ask(port, 'target.example.net.');
    assert.deepEqual(addrs(direct), ['192.0.2.19']);
    for (let i = 0; i < 3; i++) {
      const m = await ask(port, 'ext.hades.local.', RRType.A, { src: CLIENTS[i] });
      assert.deepEqual(
        m.answers.map((r) => `${r.name} ${r.data}`),
        ['ext.hades.local. target.example.net.', 'target.example.net. 192.0.2.19'],
      );
    }
    assert.equal(up.count('target.example.net.'), 1, JSON.stringify(up.seen));
  });

  it('a local record change reaches the next answer (nothing stale from the cache)', async () => {
    assert.deepEqual(addrs(await ask(port, 'web.hades.local.')), ['10.0.0.1']);
    assert.deepEqual(addrs(await ask(port, 'web.hades.local.')), ['10.0.0.1']);
    await store.put(nameToKey('web.hades.local'), serializeRecordValue({ host: '10.0.0.2', ttl: 60 }));
    let last: string[] = [];
    await waitFor('the new address', async () => {
      last = addrs(await ask(port, 'web.hades.local.'));
      return last[0] === '10.0.0.2';
    });
    // and it stays: no older answer comes back
    for (let i = 0; i < 5; i++) assert.deepEqual(addrs(await ask(port, 'web.hades.local.')), ['10.0.0.2']);
    await store.delete(nameToKey('web.hades.local'));
    await waitFor(
      'NXDOMAIN after the delete',
      async () => (await ask(port, 'web.hades.local.')).rcode === Rcode.NXDOMAIN,
    );
    assert.equal(up.count('web.hades.local.'), 0, 'local names never go upstream');
  });

  it('selection stays per client and health-aware with the cache on', async () => {
    const picks = async (): Promise<string[]> =>
      Promise.all(
        CLIENTS.map(async (src) => {
          const a = addrs(await ask(port, 'app.hades.local.', RRType.A, { src }));
          assert.equal(a.length, 1, src);
          return a[0];
        }),
      );
    const base = await picks();
    // asked again, each client keeps its own address; clients are spread, not pinned to one
    assert.deepEqual(await picks(), base);
    assert.ok(new Set(base).size >= 3, `picks: ${base.join(' ')}`);
    // the address of client 0 goes DOWN: nobody gets it, the other clients keep theirs
    const down = base[0];
    await store.put(`${STATUS}${down}`, JSON.stringify({ status: 'DOWN' }));
    let now: string[] = [];
    await waitFor('the DOWN address to leave every answer', async () => {
      now = await picks();
      return !now.includes(down);
    });
    for (let i = 0; i < CLIENTS.length; i++) if (base[i] !== down) assert.equal(now[i], base[i], CLIENTS[i]);
    await store.delete(`${STATUS}${down}`);
    await waitFor('the address to come back', async () => (await picks()).join() === base.join());
  });

  it('the counters reach /metrics', async () => {
    const hits = await metric('hades_cache_hits_total');
    const misses = await metric('hades_cache_misses_total');
    assert.ok(hits > 0 && misses > 0, `hits ${hits}, misses ${misses}`);
    assert.ok((await metric('hades_cache_entries')) >= 5);
    assert.equal(await metric('hades_cache_evictions_total'), 0, '-rcache 1000 is far from full');
    await ask(port, 'www.example.net.');
    assert.equal(await metric('hades_cache_hits_total'), hits + 1);
  });
});
