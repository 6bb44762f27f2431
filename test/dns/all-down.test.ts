/**
 * All down end to end: a real etcd and two real `hades` on it, one with the default
 * `-all-down open` and one with `-all-down closed`, asked by dig. Table: the server's policy ×
 * the name's `alldown` (on its lowest key, a higher key saying the opposite; or absent) × the
 * health of its addresses (all DOWN, some DOWN, all drained, drained + the rest DOWN) × A and
 * AAAA, asserting the rcode and the addresses (the names answer `select: all`, so the whole set
 * served shows). Then: both all-down counters on /metrics match the replies; a CNAME to a closed
 * name is an empty SERVFAIL; a name going all DOWN and back while hades runs; a bad -all-down
 * exits 2 with one line naming the flag.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nameToKey } from '../../src/records/keys.js';
import { serializeRecordValue } from '../../src/records/record.js';
import type { AllDownPolicy, RecordValue } from '../../src/records/types.js';
import type { Store } from '../../src/store/types.js';
import type { EtcdProcess } from '../harness/etcd.js';
import { dig, parseDig, waitFor } from './clients.js';
import {
  etcdArgs,
  freeDnsPort,
  type HadesProc,
  spawnHades,
  startEtcdStore,
  startHades,
} from './hades-proc.js';

const STATUS = '/hades/monitor/status/';
const ZONE = 'ad.hades.local';

interface Scene {
  what: string;
  /** Indexes (0–2) of the name's addresses that are DOWN, drained; and those served when open. */
  down: number[];
  drained: number[];
  served: number[];
  allDown: boolean;
}
const SCENES: Scene[] = [
  { what: 'all-down', down: [0, 1, 2], drained: [], served: [0, 1, 2], allDown: true },
  { what: 'some-down', down: [0], drained: [], served: [1, 2], allDown: false },
  { what: 'all-drained', down: [1], drained: [0, 1, 2], served: [], allDown: false },
  { what: 'drained-rest-down', down: [1, 2], drained: [0], served: [1, 2], allDown: true },
];
const OVERRIDES: (AllDownPolicy | undefined)[] = ['open', 'closed', undefined];
const FLAGS: AllDownPolicy[] = ['open', 'closed'];

const nameOf = (o: AllDownPolicy | undefined, s: Scene) => `${o ?? 'absent'}-${s.what}.${ZONE}`;
/** The addresses of name number `n`: three IPv4 and three IPv6. */
const v4 = (n: number) => [1, 2, 3].map((i) => `10.52.${n}.${i}`);
const v6 = (n: number) => [1, 2, 3].map((i) => `fd00:52:${n + 1}::${i}`);

async function putName(s: Store, name: string, values: { [leaf: string]: RecordValue }): Promise<void> {
  const key = nameToKey(name);
  for (const [leaf, v] of Object.entries(values)) await s.put(`${key}/${leaf}`, serializeRecordValue(v));
}

/** The address records of a name (leaves h0…), with `select: all` so every served address shows. */
function addresses(ips: string[]): { [leaf: string]: RecordValue } {
  const out: { [leaf: string]: RecordValue } = {};
  for (const [i, ip] of ips.entries()) out[`h${i}`] = { host: ip, ttl: 30, select: 'all' };
  return out;
}

describe("all down: -all-down open|closed and a record's alldown (etcd, two hades, dig)", () => {
  let etcd: EtcdProcess;
  let store: Store;
  const servers: { [f in AllDownPolicy]?: { hades: HadesProc; port: number; metrics: number } } = {};

  const query = async (flag: AllDownPolicy, name: string, type: string) => {
    const r = parseDig((await dig(servers[flag]!.port, [name, type])).stdout);
    return {
      status: r.status,
      answer: r.answer,
      ips: r.answer
        .filter((x) => x.type === type)
        .map((x) => x.data)
        .sort(),
      raw: r.raw,
    };
  };
  const metric = async (flag: AllDownPolicy, name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${servers[flag]!.metrics}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    assert.ok(line, `${name} on /metrics`);
    return Number(line.slice(name.length + 1));
  };

  before(async () => {
    ({ etcd, store } = await startEtcdStore(async (s) => {
      let n = 0;
      for (const o of OVERRIDES)
        for (const scene of SCENES) {
          const ips4 = v4(n);
          const ips6 = v6(n);
          n++;
          const values = addresses([...ips4, ...ips6]);
          if (o !== undefined) {
            // the lowest key decides, whatever its type; a higher one saying the opposite does not
            values.a0 = { text: 'policy', alldown: o };
            values.z9 = { text: 'not this one', alldown: o === 'open' ? 'closed' : 'open' };
          }
          await putName(s, nameOf(o, scene), values);
          for (const [i, ip] of [...ips4.entries(), ...ips6.entries()]) {
            const status = scene.down.includes(i) ? 'DOWN' : 'UP';
            await s.put(
              `${STATUS}${ip}`,
              JSON.stringify(scene.drained.includes(i) ? { status, admin: 'drain' } : { status }),
            );
          }
        }
      await putName(s, `via.${ZONE}`, { c: { host: nameOf('closed', SCENES[0]) } });
      await putName(s, `live.${ZONE}`, {
        ...addresses(['10.52.99.1', '10.52.99.2']),
        a0: { text: 'policy', alldown: 'closed' },
      });
      for (const ip of ['10.52.99.1', '10.52.99.2']) await s.put(`${STATUS}${ip}`, '{"status":"UP"}');
    }));
    for (const flag of FLAGS) {
      const port = await freeDnsPort();
      const metrics = await freeDnsPort();
      const extra = ['-metrics-port', String(metrics), ...(flag === 'closed' ? ['-all-down', 'closed'] : [])];
      const hades = await startHades(etcdArgs(port, etcd, extra, 'hades.local.'), port);
      servers[flag] = { hades, port, metrics };
    }
  });

  after(async () => {
    const codes: number[] = [];
    for (const flag of FLAGS) if (servers[flag]) codes.push(await servers[flag].hades.stop());
    await store?.close();
    await etcd?.stop();
    for (const [i, code] of codes.entries()) assert.equal(code, 0, servers[FLAGS[i]]?.hades.stderr());
  });

  it('the table: flag × record override × health × A and AAAA; both counters match the replies', async () => {
    const closedBefore = { open: 0, closed: 0 };
    const openBefore = { open: 0, closed: 0 };
    for (const flag of FLAGS) {
      closedBefore[flag] = await metric(flag, 'hades_selection_all_down_closed_total');
      openBefore[flag] = await metric(flag, 'hades_selection_all_down_total');
    }
    const servfails = { open: 0, closed: 0 };
    const failOpens = { open: 0, closed: 0 };
    const checks: Promise<void>[] = [];
    let n = 0;
    for (const o of OVERRIDES)
      for (const scene of SCENES) {
        const ips = { A: v4(n), AAAA: v6(n) };
        n++;
        for (const flag of FLAGS)
          for (const type of ['A', 'AAAA'] as const) {
            const closed = (o ?? flag) === 'closed' && scene.allDown;
            if (closed) servfails[flag]++;
            else if (scene.allDown) failOpens[flag]++;
            const name = nameOf(o, scene);
            const where = `-all-down ${flag}, ${name} ${type}`;
            checks.push(
              query(flag, name, type).then((r) => {
                if (closed) {
                  assert.equal(r.status, 'SERVFAIL', `${where}\n${r.raw}`);
                  assert.deepEqual(r.answer, [], `${where}\n${r.raw}`);
                  return;
                }
                assert.equal(r.status, 'NOERROR', `${where}\n${r.raw}`);
                assert.deepEqual(r.ips, scene.served.map((i) => ips[type][i]).sort(), `${where}\n${r.raw}`);
              }),
            );
          }
      }
    await Promise.all(checks);
    for (const flag of FLAGS) {
      assert.equal(
        (await metric(flag, 'hades_selection_all_down_closed_total')) - closedBefore[flag],
        servfails[flag],
        `-all-down ${flag}: closed answers counted`,
      );
      assert.equal(
        (await metric(flag, 'hades_selection_all_down_total')) - openBefore[flag],
        failOpens[flag],
        `-all-down ${flag}: fail-open answers counted`,
      );
    }
  });

  it('a CNAME to a closed all-down name: SERVFAIL without the CNAME', async () => {
    for (const flag of FLAGS) {
      const r = await query(flag, `via.${ZONE}`, 'A');
      assert.equal(r.status, 'SERVFAIL', r.raw);
      assert.deepEqual(r.answer, [], r.raw);
    }
  });

  it('SRV of the names: closed and all down SERVFAIL, open all down served (fail-open)', async () => {
    for (const flag of FLAGS) {
      const c = await query(flag, nameOf('closed', SCENES[0]), 'SRV');
      assert.equal(c.status, 'SERVFAIL', c.raw);
      assert.deepEqual(c.answer, [], c.raw);
      const o = await query(flag, nameOf('open', SCENES[0]), 'SRV');
      assert.equal(o.status, 'NOERROR', o.raw);
      assert.equal(o.answer.length, 6, o.raw);
    }
  });

  it('live: a closed name goes all DOWN (SERVFAIL) and one address comes back (answered)', async () => {
    const name = `live.${ZONE}`;
    for (const flag of FLAGS)
      assert.deepEqual((await query(flag, name, 'A')).ips, ['10.52.99.1', '10.52.99.2']);
    for (const ip of ['10.52.99.1', '10.52.99.2']) await store.put(`${STATUS}${ip}`, '{"status":"DOWN"}');
    for (const flag of FLAGS)
      await waitFor(
        `${flag}: ${name} SERVFAIL`,
        async () => (await query(flag, name, 'A')).status === 'SERVFAIL',
        30_000,
        {
          everyMs: 50,
        },
      );
    await store.put(`${STATUS}10.52.99.2`, '{"status":"UP"}');
    for (const flag of FLAGS)
      await waitFor(
        `${flag}: ${name} answered again`,
        async () => JSON.stringify((await query(flag, name, 'A')).ips) === '["10.52.99.2"]',
        30_000,
        { everyMs: 50 },
      );
  });

  it('a bad -all-down exits 2 with one line naming the flag', async () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['-all-down', 'shut'], {}, /^hades: -all-down: "shut" is not one of open, closed\n$/],
      [
        ['standalone', '-all-down', 'Closed'],
        {},
        /^hades: -all-down: "Closed" is not one of open, closed\n$/,
      ],
      [
        [],
        { HADES_ALL_DOWN: 'fail' },
        /^hades: -all-down \(from HADES_ALL_DOWN\): "fail" is not one of open, closed\n$/,
      ],
    ];
    await Promise.all(
      cases.map(async ([args, env, msg]) => {
        const h = spawnHades(args, { env });
        const code = await h.exited;
        assert.equal(code, 2, `${args.join(' ')}: ${h.stderr()}`);
        assert.match(h.stderr(), msg, args.join(' '));
      }),
    );
  });
});
