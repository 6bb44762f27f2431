/**
 * Answer selection end to end: a real etcd, two real `hades` replicas (child processes on
 * different ports, default `-select sticky`) and a third with `-trust-ecs`, asked by 40 clients
 * that each send from their own loopback source address (Linux routes all of 127/8 to lo):
 * node sockets bound to 127.0.0.x / 127.1.x.y speaking the wire codec over UDP and TCP, and `dig -b`.
 *
 * Each client gets one address, the same from both replicas and after a replica restarts; an
 * address written DOWN in etcd reaches no client any more (UDP and TCP, A and AAAA), the clients
 * of the other addresses keep theirs; every address DOWN is fail-open (everyone answered, with
 * their original address). No wall-clock assertions: outcomes are awaited with generous timeouts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RRType } from '../../src/dns/wire/constants.js';
import { decode, type Message } from '../../src/dns/wire/decode.js';
import { type EdnsInput, encodeQuery } from '../../src/dns/wire/encode.js';
import { nameToKey } from '../../src/records/keys.js';
import { serializeRecordValue } from '../../src/records/record.js';
import type { Store } from '../../src/store/types.js';
import type { EtcdProcess } from '../harness/etcd.js';
import { dig, parseDig, tcpFrom, udpFrom, waitFor } from './clients.js';
import { etcdArgs, freeDnsPort, type HadesProc, startEtcdStore, startHades } from './hades-proc.js';

const APP4 = ['10.30.0.1', '10.30.0.2', '10.30.0.3', '10.30.0.4'];
const APP6 = ['2001:db8:30::1', '2001:db8:30::2', '2001:db8:30::3', '2001:db8:30::4'];
const HEADLESS = ['10.31.0.1', '10.31.0.2', '10.31.0.3'];
const STATUS = '/hades/monitor/status/';

/** 40 client source addresses on loopback: 127.0.0.10-29 and 127.1.x.y. */
const CLIENTS = Array.from({ length: 40 }, (_, i) =>
  i < 20 ? `127.0.0.${10 + i}` : `127.1.${i}.${200 - i}`,
);

type Proto = 'udp' | 'tcp';

/** One query from source address `src` over UDP (3 tries of 3 s) or TCP; the decoded reply. */
async function ask(
  port: number,
  src: string,
  name: string,
  type: number,
  proto: Proto = 'udp',
  edns: EdnsInput | null = null,
): Promise<Message> {
  const id = (Math.random() * 0xffff) | 0;
  const msg = encodeQuery({ id, name, type, edns });
  if (proto === 'tcp') return decode(await tcpFrom(port, src, msg));
  for (let attempt = 1; ; attempt++) {
    try {
      const m = decode(await udpFrom(port, src, msg));
      if (m.id === id) return m;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

/** The addresses of `type` in the answer, in order. */
function addrs(m: Message, type: number): string[] {
  return m.answers.filter((r) => r.type === type).map((r) => r.data as string);
}

/** Every client's single answer for `name`/`type` from `port` (asserting exactly one address). */
async function picks(
  port: number,
  type: number,
  proto: Proto = 'udp',
  name = 'app.hades.local',
): Promise<string[]> {
  return Promise.all(
    CLIENTS.map(async (src) => {
      const m = await ask(port, src, name, type, proto);
      const a = addrs(m, type);
      assert.equal(a.length, 1, `${src} ${name} ${proto}: ${JSON.stringify(m.answers)}`);
      return a[0];
    }),
  );
}

function tally(xs: string[]): string {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return [...m].map(([k, v]) => `${k}×${v}`).join(' ');
}

/** The address most clients got. */
function mostCommon(xs: string[]): string {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return [...m].sort((a, b) => b[1] - a[1])[0][0];
}

describe('selection: two hades replicas on etcd, 40 clients', () => {
  let etcd: EtcdProcess;
  let store: Store;
  let portA: number;
  let portB: number;
  let portEcs: number;
  let a: HadesProc;
  let b: HadesProc;
  let ecs: HadesProc;
  /** Each client's answers before any health change. */
  let base4: string[] = [];
  let base6: string[] = [];

  const args = (port: number, extra: string[] = []) =>
    etcdArgs(port, etcd, ['-logtostderr', ...extra], 'hades.local.');

  before(async () => {
    ({ etcd, store } = await startEtcdStore(async (store) => {
      const app = nameToKey('app.hades.local');
      for (let i = 0; i < 4; i++) {
        await store.put(`${app}/v4-${i}`, serializeRecordValue({ host: APP4[i], ttl: 30 }));
        await store.put(`${app}/v6-${i}`, serializeRecordValue({ host: APP6[i], ttl: 30 }));
      }
      await store.put(nameToKey('alias.hades.local'), serializeRecordValue({ host: 'app.hades.local' }));
      const headless = nameToKey('headless.hades.local');
      for (let i = 0; i < HEADLESS.length; i++)
        await store.put(`${headless}/e${i}`, serializeRecordValue({ host: HEADLESS[i], select: 'all' }));
    }));
    portA = await freeDnsPort();
    portB = await freeDnsPort();
    portEcs = await freeDnsPort();
    [a, b, ecs] = await Promise.all([
      startHades(args(portA), portA),
      startHades(args(portB), portB),
      startHades(args(portEcs, ['-trust-ecs']), portEcs),
    ]);
  });

  after(async () => {
    const codes = await Promise.all([a?.stop(), b?.stop(), ecs?.stop()]);
    await store?.close();
    await etcd?.stop();
    assert.deepEqual(codes, [0, 0, 0], `exit codes\n${a?.stderr()}\n${b?.stderr()}`);
  });

  it('each client gets one address, the same from both replicas, over UDP and TCP, A and AAAA', async () => {
    base4 = await picks(portA, RRType.A);
    base6 = await picks(portA, RRType.AAAA);
    assert.deepEqual(await picks(portB, RRType.A), base4, 'replica B, A');
    assert.deepEqual(await picks(portB, RRType.AAAA), base6, 'replica B, AAAA');
    assert.deepEqual(await picks(portA, RRType.A, 'tcp'), base4, 'TCP, A');
    assert.deepEqual(await picks(portB, RRType.AAAA, 'tcp'), base6, 'TCP, AAAA');
    assert.deepEqual(await picks(portA, RRType.A), base4, 'asked again');
    // 40 clients over 4 addresses: every address has clients
    assert.equal(new Set(base4).size, 4, tally(base4));
    assert.equal(new Set(base6).size, 4, tally(base6));
  });

  it('dig -b <source> gets the same address as the socket client', async () => {
    for (const i of [0, 7, 19, 20, 33, 39]) {
      for (const port of [portA, portB]) {
        const r = await dig(port, ['-b', CLIENTS[i], '+short', 'app.hades.local', 'A']);
        assert.equal(r.stdout.trim(), base4[i], `dig -b ${CLIENTS[i]}: ${r.stdout}${r.stderr}`);
        const r6 = await dig(port, ['-b', CLIENTS[i], '+tcp', '+short', 'app.hades.local', 'AAAA']);
        assert.equal(r6.stdout.trim(), base6[i], `dig -b ${CLIENTS[i]} +tcp AAAA: ${r6.stdout}${r6.stderr}`);
      }
    }
  });

  it('CNAMEs come before the selected address, which is the client’s own', async () => {
    for (let i = 0; i < CLIENTS.length; i += 5) {
      const m = await ask(portB, CLIENTS[i], 'alias.hades.local', RRType.A);
      assert.deepEqual(
        m.answers.map((r) => r.type),
        [RRType.CNAME, RRType.A],
      );
      assert.deepEqual(addrs(m, RRType.A), [base4[i]]);
    }
  });

  it("a record's select: all overrides sticky (headless services)", async () => {
    const m = await ask(portA, CLIENTS[3], 'headless.hades.local', RRType.A);
    assert.deepEqual(addrs(m, RRType.A).sort(), HEADLESS);
  });

  it('a restarted replica gives every client the same address', async () => {
    assert.equal(await b.stop('SIGTERM'), 0, b.stderr());
    b = await startHades(args(portB), portB);
    assert.deepEqual(await picks(portB, RRType.A), base4);
    assert.deepEqual(await picks(portB, RRType.AAAA, 'tcp'), base6);
  });

  it('-trust-ecs: one address per client subnet whoever asks; without it ECS is ignored', async () => {
    const perNet = new Set<string>();
    for (let n = 0; n < 12; n++) {
      const subnet = `+subnet=10.70.${n}.0/24`;
      const got = new Set<string>();
      for (const src of [CLIENTS[n], CLIENTS[n + 20], '127.0.0.1']) {
        const r = await dig(portEcs, ['-b', src, subnet, 'app.hades.local', 'A']);
        const p = parseDig(r.stdout);
        assert.equal(p.answer.length, 1, r.stdout);
        got.add(p.answer[0].data);
        assert.match(r.stdout, new RegExp(`CLIENT-SUBNET: 10\\.70\\.${n}\\.0/24/24`), r.stdout);
      }
      assert.equal(got.size, 1, `10.70.${n}.0/24 from three sources: ${[...got]}`);
      perNet.add([...got][0]);
      // replica A does not trust ECS: the source address decides, and nothing is echoed
      const plain = await dig(portA, ['-b', CLIENTS[n], subnet, 'app.hades.local', 'A']);
      assert.equal(parseDig(plain.stdout).answer[0]?.data, base4[n], plain.stdout);
      assert.doesNotMatch(plain.stdout, /CLIENT-SUBNET/);
    }
    assert.ok(perNet.size >= 3, `12 subnets used ${[...perNet]}`);
    // no ECS in the query: the source address, as on the other replicas
    assert.deepEqual(await picks(portEcs, RRType.A), base4);
  });

  it('DOWN in etcd: no client gets it (UDP, TCP, A, AAAA, both replicas), the others keep theirs', async () => {
    const down4 = mostCommon(base4);
    const down6 = mostCommon(base6);
    await store.put(`${STATUS}${down4}`, '{"status":"DOWN","ports":["80"]}');
    await store.put(`${STATUS}${down6}`, '{"status":"DOWN"}');
    for (const port of [portA, portB])
      await waitFor(
        `${down4} and ${down6} gone on port ${port}`,
        async () =>
          !(await picks(port, RRType.A)).includes(down4) && !(await picks(port, RRType.AAAA)).includes(down6),
        30_000,
        { everyMs: 50 },
      );
    for (const port of [portA, portB]) {
      for (const proto of ['udp', 'tcp'] as const) {
        const now4 = await picks(port, RRType.A, proto);
        const now6 = await picks(port, RRType.AAAA, proto);
        for (let i = 0; i < CLIENTS.length; i++) {
          const where = `${CLIENTS[i]} port ${port} ${proto}`;
          assert.notEqual(now4[i], down4, where);
          assert.notEqual(now6[i], down6, where);
          if (base4[i] !== down4) assert.equal(now4[i], base4[i], `${where}: kept its A`);
          if (base6[i] !== down6) assert.equal(now6[i], base6[i], `${where}: kept its AAAA`);
        }
      }
    }
    // the moved clients spread over the remaining addresses (each goes to its own second choice)
    const moved = (await picks(portA, RRType.A)).filter((_, i) => base4[i] === down4);
    assert.ok(moved.length >= 2, tally(base4));
    // through the CNAME too
    const i = base4.indexOf(down4);
    const m = await ask(portA, CLIENTS[i], 'alias.hades.local', RRType.A, 'tcp');
    assert.deepEqual(
      m.answers.map((r) => r.type),
      [RRType.CNAME, RRType.A],
    );
    assert.notEqual(addrs(m, RRType.A)[0], down4);
  });

  it('every address DOWN: fail-open, every client answered (its original address); UP again: as before', async () => {
    for (const ip of [...APP4, ...APP6]) await store.put(`${STATUS}${ip}`, '{"status":"DOWN"}');
    for (const port of [portA, portB]) {
      // fail-open serves the full set, and HRW over the full set is the original choice
      await waitFor(
        `fail-open on port ${port}`,
        async () => JSON.stringify(await picks(port, RRType.A)) === JSON.stringify(base4),
        30_000,
        { everyMs: 50 },
      );
      await waitFor(
        `fail-open AAAA on port ${port}`,
        async () => JSON.stringify(await picks(port, RRType.AAAA, 'tcp')) === JSON.stringify(base6),
        30_000,
        { everyMs: 50 },
      );
    }
    // UP (and a deleted status key: unmonitored) restore everyone
    for (const ip of APP4) await store.put(`${STATUS}${ip}`, '{"status":"UP"}');
    for (const ip of APP6) await store.delete(`${STATUS}${ip}`);
    for (const port of [portA, portB]) {
      await waitFor(
        `all UP on port ${port}`,
        async () =>
          JSON.stringify(await picks(port, RRType.A)) === JSON.stringify(base4) &&
          JSON.stringify(await picks(port, RRType.AAAA)) === JSON.stringify(base6),
        30_000,
        { everyMs: 50 },
      );
    }
    // one DOWN then UP again: only its clients moved, and they come back
    await store.put(`${STATUS}${APP4[2]}`, '{"status":"DOWN"}');
    await waitFor('10.30.0.3 gone', async () => !(await picks(portB, RRType.A)).includes(APP4[2]), 30_000, {
      everyMs: 50,
    });
    await store.put(`${STATUS}${APP4[2]}`, '{"status":"UP"}');
    await waitFor(
      'everyone back',
      async () => JSON.stringify(await picks(portB, RRType.A)) === JSON.stringify(base4),
      30_000,
      { everyMs: 50 },
    );
  });
});
