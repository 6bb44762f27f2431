/**
 * Drain end to end: a real etcd and a real `hades` (default -select sticky; the random-one and
 * all names carry their policy in the record's `select`), asked from 24 loopback source
 * addresses over UDP, and by dig for the SRV/MX glue and the NODATA reply. Status keys are
 * written as a person or the scanner would (the scanner's writes by compare-and-swap, keeping
 * `admin`). For each policy: a drained UP address is never answered; one drained and the rest
 * DOWN: fail-open serves the DOWN ones and never the drained one; the scanner rewriting the
 * drained address's status keeps it out; every address drained: NODATA; undrained: served again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RRType } from '../../src/dns/wire/constants.js';
import { decode, type Message } from '../../src/dns/wire/decode.js';
import { encodeQuery } from '../../src/dns/wire/encode.js';
import { nameToKey } from '../../src/records/keys.js';
import { leafKey, serializeRecordValue } from '../../src/records/record.js';
import type { SelectPolicy } from '../../src/records/types.js';
import type { Store } from '../../src/store/types.js';
import type { EtcdProcess } from '../harness/etcd.js';
import { dig, parseDig, rrset, udpFrom, waitFor } from './clients.js';
import { etcdArgs, freeDnsPort, type HadesProc, startEtcdStore, startHades } from './hades-proc.js';

const STATUS = '/hades/monitor/status/';
const CLIENTS = Array.from({ length: 24 }, (_, i) => `127.0.2.${10 + i}`);
const POLICIES: SelectPolicy[] = ['sticky', 'random-one', 'all'];
/** Queries per client and round: random-one draws per query, so ask it more. */
const ROUNDS: { [p in SelectPolicy]: number } = { sticky: 1, 'random-one': 4, all: 1 };

const nameOf = (p: SelectPolicy) => `${p}.drain.hades.local`;
const ipsOf = (i: number) => [1, 2, 3, 4].map((n) => `10.41.${i}.${n}`);

/** Glue: SRV and MX lead to glue.drain (two addresses); the SRV at _a._tcp has address hosts. */
const GLUE = ['10.41.9.5', '10.41.9.6'];
const SRV_HOSTS = ['10.41.9.7', '10.41.9.8'];

async function ask(port: number, src: string, name: string, type: number): Promise<Message> {
  const id = (Math.random() * 0xffff) | 0;
  const msg = encodeQuery({ id, name, type, edns: null });
  for (let attempt = 1; ; attempt++) {
    try {
      const m = decode(await udpFrom(port, src, msg));
      if (m.id === id) return m;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

/** Every address any client got for `name` A, and whether every reply was NOERROR (none empty unless `empty`). */
async function served(port: number, policy: SelectPolicy): Promise<{ ips: string[]; empty: number }> {
  const seen = new Set<string>();
  let empty = 0;
  for (let r = 0; r < ROUNDS[policy]; r++) {
    const replies = await Promise.all(CLIENTS.map((src) => ask(port, src, nameOf(policy), RRType.A)));
    for (const m of replies) {
      assert.equal(m.rcode, 0, `${policy}: rcode ${m.rcode}`);
      const a = m.answers.filter((x) => x.type === RRType.A).map((x) => x.data as string);
      if (a.length === 0) empty++;
      if (policy !== 'all') assert.ok(a.length <= 1, `${policy}: ${a}`);
      for (const ip of a) seen.add(ip);
    }
  }
  return { ips: [...seen].sort(), empty };
}

describe('drain: hades never serves a drained address (etcd, hades, 24 clients)', () => {
  let etcd: EtcdProcess;
  let store: Store;
  let port: number;
  let hades: HadesProc;

  /** A scanner-style write: read, change `status` (and reason/changed), keep every other field, CAS. */
  const scannerWrite = async (ip: string, status: 'UP' | 'DOWN', reason: string) => {
    const key = `${STATUS}${ip}`;
    for (;;) {
      const kv = await store.get(key);
      const o = kv ? JSON.parse(kv.value) : {};
      const value = JSON.stringify({ ...o, status, reason, changed: new Date().toISOString() });
      const r = await store.txn({
        compare: [{ key, op: 'modRevision', modRevision: kv ? kv.modRevision : 0 }],
        success: [{ op: 'put', key, value }],
      });
      if (r.succeeded) return;
    }
  };
  const put = (ip: string, value: object) => store.put(`${STATUS}${ip}`, JSON.stringify(value));

  /** Waits until the set served for `policy` is `want` (the watch has the change), then checks it stays. */
  const expectServed = async (policy: SelectPolicy, want: string[], what: string) => {
    let last: { ips: string[]; empty: number } = { ips: [], empty: 0 };
    await waitFor(
      `${policy}: ${what}: served ${want.join(' ') || 'nothing'}`,
      async () => {
        last = await served(port, policy);
        return JSON.stringify(last.ips) === JSON.stringify(want);
      },
      30_000,
      { everyMs: 50 },
    ).catch((e) => {
      throw new Error(`${(e as Error).message}; last: ${JSON.stringify(last)}`);
    });
    // once the change is in, it holds: a few more rounds give the same set
    for (let i = 0; i < 3; i++) {
      const again = await served(port, policy);
      assert.deepEqual(again.ips, want, `${policy}: ${what} (round ${i})`);
      if (want.length > 0) assert.equal(again.empty, 0, `${policy}: ${what}: an empty answer`);
      else assert.equal(again.empty, CLIENTS.length * ROUNDS[policy], `${policy}: ${what}: NODATA for all`);
    }
  };

  before(async () => {
    ({ etcd, store } = await startEtcdStore(async (s) => {
      for (const [i, p] of POLICIES.entries()) {
        const key = nameToKey(nameOf(p));
        for (const ip of ipsOf(i)) {
          // sticky is the server's default: no select on its records
          const v = serializeRecordValue({ host: ip, ttl: 30, ...(p === 'sticky' ? {} : { select: p }) });
          await s.put(leafKey(key, v), v);
          await s.put(`${STATUS}${ip}`, '{"status":"UP"}');
        }
      }
      const glue = nameToKey('glue.drain.hades.local');
      for (const ip of GLUE) {
        const v = serializeRecordValue({ host: ip });
        await s.put(leafKey(glue, v), v);
      }
      await s.put(
        nameToKey('_web._tcp.drain.hades.local'),
        serializeRecordValue({ host: 'glue.drain.hades.local', port: 80 }),
      );
      await s.put(
        nameToKey('mx.drain.hades.local'),
        serializeRecordValue({ host: 'glue.drain.hades.local', mail: true, priority: 10 }),
      );
      const a = nameToKey('_a._tcp.drain.hades.local');
      for (const [j, ip] of SRV_HOSTS.entries())
        await s.put(`${a}/h${j}`, serializeRecordValue({ host: ip, port: 8080 }));
    }));
    port = await freeDnsPort();
    hades = await startHades(etcdArgs(port, etcd, ['-logtostderr'], 'hades.local.'), port);
  });

  after(async () => {
    const code = await hades?.stop();
    await store?.close();
    await etcd?.stop();
    assert.equal(code, 0, hades?.stderr());
  });

  for (const [i, policy] of POLICIES.entries()) {
    const [a1, a2, a3, a4] = ipsOf(i);
    describe(policy, () => {
      it('every address is served before any drain', async () => {
        await expectServed(policy, [a1, a2, a3, a4], 'all UP');
      });

      it('a drained UP address is never answered', async () => {
        await put(a1, { status: 'UP', admin: 'drain' });
        await expectServed(policy, [a2, a3, a4], `${a1} drained`);
      });

      it('one drained, the others DOWN: fail-open serves the DOWN ones, never the drained one', async () => {
        for (const ip of [a2, a3, a4]) await scannerWrite(ip, 'DOWN', 'HTTP 503');
        await expectServed(policy, [a2, a3, a4], 'fail-open among the not drained');
      });

      it("the scanner's compare-and-swap writes keep admin: still never answered", async () => {
        await scannerWrite(a1, 'DOWN', 'connect ECONNREFUSED');
        await scannerWrite(a1, 'UP', 'HTTP 200');
        assert.equal(JSON.parse((await store.get(`${STATUS}${a1}`))?.value ?? '{}').admin, 'drain');
        // a1 is the only UP address now: undrained it would be the whole answer
        await expectServed(policy, [a2, a3, a4], 'drained after scanner writes');
      });

      it('every address drained: NODATA', async () => {
        for (const ip of [a2, a3, a4]) await put(ip, { status: 'DOWN', admin: 'drain' });
        await expectServed(policy, [], 'all drained');
        const r = parseDig((await dig(port, [nameOf(policy), 'A'])).stdout);
        assert.equal(r.status, 'NOERROR', r.raw);
        assert.deepEqual(r.answer, [], r.raw);
        assert.deepEqual(
          rrset(r.authority).map((x) => x.split(' ')[0]),
          ['SOA'],
          r.raw,
        );
      });

      it('undrained: served again', async () => {
        await put(a1, { status: 'UP' });
        await expectServed(policy, [a1], `${a1} undrained, the others drained`);
        for (const ip of [a2, a3, a4]) await put(ip, { status: 'UP', admin: 'none' });
        await expectServed(policy, [a1, a2, a3, a4], 'all undrained');
      });
    });
  }

  it('SRV and MX: a drained address is left out of the glue and of address-host SRV answers', async () => {
    const glueOf = async (name: string, type: string) => {
      const r = parseDig((await dig(port, [name, type])).stdout);
      assert.equal(r.status, 'NOERROR', r.raw);
      return { answer: r.answer.length, glue: rrset(r.additional, 'A'), raw: r.raw };
    };
    assert.deepEqual(
      (await glueOf('_web._tcp.drain.hades.local', 'SRV')).glue,
      GLUE.map((ip) => `A ${ip}`),
    );
    await put(GLUE[0], { status: 'UP', admin: 'drain' });
    await put(SRV_HOSTS[0], { status: 'UP', admin: 'drain' });
    // the other glue address DOWN: fail-open keeps it, the drained one stays out
    await put(GLUE[1], { status: 'DOWN' });
    await waitFor(
      'SRV glue without the drained address',
      async () =>
        JSON.stringify((await glueOf('_web._tcp.drain.hades.local', 'SRV')).glue) ===
        JSON.stringify([`A ${GLUE[1]}`]),
      30_000,
      { everyMs: 50 },
    );
    assert.deepEqual((await glueOf('mx.drain.hades.local', 'MX')).glue, [`A ${GLUE[1]}`]);
    const srv = await glueOf('_a._tcp.drain.hades.local', 'SRV');
    assert.equal(srv.answer, 1, srv.raw);
    assert.deepEqual(srv.glue, [`A ${SRV_HOSTS[1]}`], srv.raw);
    // both glue addresses drained: the SRV record stays, with no glue
    await put(GLUE[1], { status: 'UP', admin: 'drain' });
    await waitFor(
      'no SRV glue',
      async () => (await glueOf('_web._tcp.drain.hades.local', 'SRV')).glue.length === 0,
      30_000,
      { everyMs: 50 },
    );
    assert.equal((await glueOf('_web._tcp.drain.hades.local', 'SRV')).answer, 1);
  });
});
