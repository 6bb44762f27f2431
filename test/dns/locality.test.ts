/**
 * Tiers and locality end to end, as a property: one real etcd, two real `hades` replicas on it
 * (default `-select sticky`), four topology zones of loopback client networks (z0 =
 * 127.10.0.0/24 … z3 = 127.13.0.0/24), 100 clients over them (25 each) and 4 in no zone, each
 * sending from its own loopback source address (Linux routes all of 127/8 to lo): node sockets
 * bound to that address speaking the wire codec over UDP, and for a sample each round `dig -b`.
 *
 * Two names, each with addresses over two priority tiers and the four zones (some zones with none
 * or one in the low tier, some addresses with no zone, some weights). Seeded rounds of random
 * health flips (DOWN/UP, drain/undrain; one round all DOWN for one name: fail-open) written to
 * etcd; after each, once both replicas' /explain show the written health, every client asks both
 * replicas and the test asserts, against a model computed here from the data alone:
 *   (a) both replicas give each client the same single address;
 *   (b) it is among the model's candidates: the non-drained addresses that are UP (all of them
 *       when none is: fail-open), of the lowest tier among those, of the client's zone when the
 *       zone has one there, else the whole tier;
 *   (c) rendezvous stability: when the client's previous address is still a candidate and the
 *       candidates gained nothing, it keeps it; when they gained some, it keeps it or moves to
 *       one of the gained ones.
 * Then /explain agrees (chosen = the answer, the client's zone, the candidates = the model's; 400
 * naming `client` for a bad one); then the topology is rewritten live (clients move from z1 to
 * z2; a bad zone value is skipped, its clients get the whole tier, and it is counted in
 * `hades_catalog_invalid_records`), answers following on both replicas without a restart.
 *
 * Seed: HADES_TEST_SEED=<n> replays a run (the seed is in every failure message). No wall-clock
 * assertions: every change is awaited with generous timeouts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Explanation } from '../../src/common/explanation.js';
import { RRType } from '../../src/dns/wire/constants.js';
import { decode } from '../../src/dns/wire/decode.js';
import { encodeQuery } from '../../src/dns/wire/encode.js';
import { nameToKey } from '../../src/records/keys.js';
import { serializeRecordValue } from '../../src/records/record.js';
import type { RecordValue } from '../../src/records/types.js';
import type { Store } from '../../src/store/types.js';
import type { EtcdProcess } from '../harness/etcd.js';
import { RandomGen } from '../lib/prng.js';
import { metricValue, scrape } from '../lib/scrape.js';
import { dig, parseDig, run, udpFrom, waitFor } from './clients.js';
import { etcdArgs, freeDnsPort, type HadesProc, startEtcdStore, startHades } from './hades-proc.js';

const SEED = Number(process.env.HADES_TEST_SEED ?? 0x10ca1);
const STATUS = '/hades/monitor/status/';
const TOPOLOGY = '/hades/topology/';
const ROUNDS = 8;
/** The round (1-based) in which every address of `web` not drained goes DOWN: fail-open. */
const ALL_DOWN_ROUND = 5;

/** An address of a name: its tier (undefined: no priority, tier 10), zone and weight. */
interface Addr {
  ip: string;
  priority?: number;
  zone?: string;
  weight?: number;
}

/**
 * The names. `app`: tier 1 has z0 ×2, z1 ×1, z2 ×2, z3 none and one without a zone; tier 10
 * (no priority) z0, z1, z3 ×2 and one without a zone. `web`: tier 5 z1 ×2, z3 ×1; tier 20 z0,
 * z1, z2 ×2 and one without a zone.
 */
const NAMES: { [name: string]: Addr[] } = {
  'app.loc.hades.local': [
    { ip: '10.60.0.1', priority: 1, zone: 'z0' },
    { ip: '10.60.0.2', priority: 1, zone: 'z0', weight: 3 },
    { ip: '10.60.0.3', priority: 1, zone: 'z1' },
    { ip: '10.60.0.4', priority: 1, zone: 'z2' },
    { ip: '10.60.0.5', priority: 1, zone: 'z2', weight: 2 },
    { ip: '10.60.0.6', priority: 1 },
    { ip: '10.60.1.1', zone: 'z0' },
    { ip: '10.60.1.2', zone: 'z1' },
    { ip: '10.60.1.3', zone: 'z3' },
    { ip: '10.60.1.4', priority: 0, zone: 'z3' },
    { ip: '10.60.1.5' },
  ],
  'web.loc.hades.local': [
    { ip: '10.61.0.1', priority: 5, zone: 'z1' },
    { ip: '10.61.0.2', priority: 5, zone: 'z1', weight: 2 },
    { ip: '10.61.0.3', priority: 5, zone: 'z3' },
    { ip: '10.61.1.1', priority: 20, zone: 'z0' },
    { ip: '10.61.1.2', priority: 20, zone: 'z1' },
    { ip: '10.61.1.3', priority: 20, zone: 'z2' },
    { ip: '10.61.1.4', priority: 20, zone: 'z2', weight: 4 },
    { ip: '10.61.1.5', priority: 20 },
  ],
};
const NAME_LIST = Object.keys(NAMES);
const ALL_ADDRS = NAME_LIST.flatMap((n) => NAMES[n]);

/** The zones' CIDRs as first written. */
const ZONES: { [zone: string]: string[] } = {
  z0: ['127.10.0.0/24'],
  z1: ['127.11.0.0/24'],
  z2: ['127.12.0.0/24'],
  z3: ['127.13.0.0/24'],
};

/** 25 clients per zone (127.1z.0.5, .15, … .245) and 4 in none (127.20.0.x). */
const CLIENTS = [
  ...[0, 1, 2, 3].flatMap((z) => Array.from({ length: 25 }, (_, i) => `127.${10 + z}.0.${5 + 10 * i}`)),
  ...[1, 2, 3, 4].map((i) => `127.20.0.${i}`),
];

/** An address's health as written: status and drain. */
interface Health {
  down: boolean;
  drained: boolean;
}

/** IPv4 text → uint32. */
function ipNum(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

/** The zone of `client` by longest match over `zones` (the model's; null: none; a tie: the first name). */
function zoneOf(zones: { [zone: string]: string[] }, client: string): string | null {
  let best: string | null = null;
  let bestLen = -1;
  const c = ipNum(client);
  for (const z of Object.keys(zones).sort())
    for (const cidr of zones[z]) {
      const [net, len] = cidr.split('/');
      const block = 2 ** (32 - Number(len));
      if (Math.floor(c / block) * block === ipNum(net) && Number(len) > bestLen) {
        best = z;
        bestLen = Number(len);
      }
    }
  return best;
}

const tierOf = (a: Addr) => (a.priority !== undefined && a.priority > 0 ? a.priority : 10);

/**
 * The model: a client's candidates for `name` (sorted), from the data alone. Drained never; the
 * UP ones, or every one not drained when none is UP (fail-open); the lowest tier among those;
 * the client's zone's when it has some there, else the whole tier.
 */
function candidates(name: string, zone: string | null, health: Map<string, Health>): string[] {
  const live = NAMES[name].filter((a) => !health.get(a.ip)?.drained);
  assert.ok(live.length > 0, `${name}: the rounds never drain every address`);
  const up = live.filter((a) => !health.get(a.ip)?.down);
  let c = up.length > 0 ? up : live;
  const tier = Math.min(...c.map(tierOf));
  c = c.filter((a) => tierOf(a) === tier);
  if (zone !== null && c.some((a) => a.zone === zone)) c = c.filter((a) => a.zone === zone);
  return c.map((a) => a.ip).sort();
}

/** One A query for `name` from source address `src` over UDP (retried on loss); its addresses. */
async function ask(port: number, src: string, name: string): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    const id = (Math.random() * 0xffff) | 0;
    try {
      const m = decode(await udpFrom(port, src, encodeQuery({ id, name, type: RRType.A, rd: false })));
      if (m.id !== id) continue;
      assert.equal(m.rcode, 0, `${src} ${name}: rcode ${m.rcode}`);
      return m.answers.filter((r) => r.type === RRType.A).map((r) => String(r.data));
    } catch (err) {
      if (attempt >= 4 || err instanceof assert.AssertionError) throw err;
    }
  }
}

/** Runs `f` over `xs` with at most `n` at a time; the results in order. */
async function pool<T, R>(xs: readonly T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(xs.length);
  let next = 0;
  const worker = async () => {
    while (next < xs.length) {
      const i = next++;
      out[i] = await f(xs[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, xs.length) }, worker));
  return out;
}

interface Replica {
  hades: HadesProc;
  port: number;
  metrics: number;
}

/** What /explain answers (common/explanation.ts). */
type ExplainBody = Explanation;

async function explain(
  r: Replica,
  params: { [k: string]: string },
): Promise<{ status: number; body: ExplainBody & { error?: string; field?: string } }> {
  const q = new URLSearchParams(params).toString();
  const res = await fetch(`http://127.0.0.1:${r.metrics}/explain?${q}`);
  return { status: res.status, body: (await res.json()) as ExplainBody & { error?: string; field?: string } };
}

describe(`locality and tiers: two hades replicas on etcd, ${CLIENTS.length} clients in four zones (seed ${SEED})`, () => {
  let etcd: EtcdProcess;
  let store: Store;
  const replicas: Replica[] = [];
  /** What etcd says now, as the model reads it. */
  const health = new Map<string, Health>(ALL_ADDRS.map((a) => [a.ip, { down: false, drained: false }]));
  let zones: { [zone: string]: string[] } = structuredClone(ZONES);
  /** Each client's last answer and candidates per name (`${client} ${name}`). */
  const last = new Map<string, { addr: string; cands: string[] }>();
  const gen = new RandomGen(SEED);
  const where = (s: string) => `seed ${SEED}: ${s}`;
  /** How often each case came up (so no check is vacuous). */
  const seen = { inZone: 0, wholeTier: 0, backupTier: 0, kept: 0, movedToGained: 0 };

  const writeHealth = async (ip: string, h: Health) => {
    const status = h.down ? 'DOWN' : 'UP';
    await store.put(`${STATUS}${ip}`, JSON.stringify(h.drained ? { status, admin: 'drain' } : { status }));
    health.set(ip, { ...h });
  };

  /** Until every replica's /explain of each name shows the health the model holds. */
  const settledHealth = async (what: string) => {
    for (const r of replicas)
      for (const name of NAME_LIST) {
        let seen = '';
        await waitFor(
          where(`${what}: hades :${r.port} shows the written health of ${name}`),
          async () => {
            const { body } = await explain(r, { name, type: 'A', client: CLIENTS[0] });
            seen = JSON.stringify(body.addresses);
            return body.addresses.every((a) => {
              const h = health.get(a.address);
              return h !== undefined && a.health === (h.down ? 'DOWN' : 'UP') && a.drained === h.drained;
            });
          },
          30_000,
          { everyMs: 50, diag: () => seen },
        );
      }
  };

  /** Until every replica's /explain puts `client` in `zone`. */
  const settledZone = async (client: string, zone: string | null) => {
    for (const r of replicas)
      await waitFor(
        where(`hades :${r.port} puts ${client} in zone ${zone}`),
        async () => (await explain(r, { name: NAME_LIST[0], type: 'A', client })).body.client.zone === zone,
        30_000,
        { everyMs: 50 },
      );
  };

  /**
   * Every client asks both replicas for every name: (a) one address, the same from both;
   * (b) among the model's candidates; (c) the rendezvous property against the client's last
   * answer (any change since: health or topology). Records the answers as the clients' last. `dig -b` asks a sample too.
   */
  const checkAll = async (what: string) => {
    const jobs = CLIENTS.flatMap((client) => NAME_LIST.map((name) => ({ client, name })));
    const got = await pool(jobs, 48, async ({ client, name }) =>
      Promise.all(replicas.map((r) => ask(r.port, client, name))),
    );
    for (const [i, { client, name }] of jobs.entries()) {
      const zone = zoneOf(zones, client);
      const at = where(`${what}: ${client} (zone ${zone}) ${name}`);
      const [a, b] = got[i];
      assert.equal(a.length, 1, `${at}: one address from :${replicas[0].port}, got ${a}`);
      assert.deepEqual(b, a, `${at}: both replicas agree`);
      const cands = candidates(name, zone, health);
      assert.ok(cands.includes(a[0]), `${at}: ${a[0]} is one of the candidates ${cands}`);
      const zoneOfAddr = (ip: string) => NAMES[name].find((x) => x.ip === ip)?.zone;
      if (zone !== null) seen[cands.every((c) => zoneOfAddr(c) === zone) ? 'inZone' : 'wholeTier']++;
      const tiers = NAMES[name].map(tierOf);
      if (tierOf(NAMES[name].find((x) => x.ip === a[0]) as Addr) > Math.min(...tiers)) seen.backupTier++;
      const prev = last.get(`${client} ${name}`);
      if (prev !== undefined && cands.includes(prev.addr)) {
        const gained = cands.filter((c) => !prev.cands.includes(c));
        seen[a[0] === prev.addr ? 'kept' : 'movedToGained']++;
        assert.ok(
          a[0] === prev.addr || gained.includes(a[0]),
          `${at}: had ${prev.addr} (candidates ${prev.cands}), still a candidate (now ${cands}): ` +
            `keeps it or moves to a gained one (${gained}), got ${a[0]}`,
        );
      }
      last.set(`${client} ${name}`, { addr: a[0], cands });
    }
    // a real client in the loop: dig from a sample of source addresses, the same answers
    const sample = Array.from({ length: 6 }, () => gen.pick(CLIENTS));
    await pool(
      sample.flatMap((client) => replicas.map((r) => ({ client, r }))),
      4,
      async ({ client, r }) => {
        for (const name of NAME_LIST) {
          const out = parseDig((await dig(r.port, ['-b', client, name, 'A'])).stdout);
          assert.equal(out.status, 'NOERROR', where(`${what}: dig -b ${client} ${name}\n${out.raw}`));
          assert.deepEqual(
            out.answer.filter((x) => x.type === 'A').map((x) => x.data),
            [last.get(`${client} ${name}`)?.addr],
            where(`${what}: dig -b ${client} ${name} on :${r.port} gets the socket's answer\n${out.raw}`),
          );
        }
      },
    );
  };

  before(async () => {
    ({ etcd, store } = await startEtcdStore(async (s) => {
      for (const name of NAME_LIST) {
        const key = nameToKey(name);
        for (const [i, a] of NAMES[name].entries()) {
          const v: RecordValue = { host: a.ip, ttl: 30 };
          if (a.priority !== undefined) v.priority = a.priority;
          if (a.zone !== undefined) v.zone = a.zone;
          if (a.weight !== undefined) v.weight = a.weight;
          await s.put(`${key}/h${i}`, serializeRecordValue(v));
        }
      }
      for (const a of ALL_ADDRS) await s.put(`${STATUS}${a.ip}`, '{"status":"UP"}');
      for (const [z, cidrs] of Object.entries(ZONES))
        await s.put(`${TOPOLOGY}${z}`, JSON.stringify({ cidrs }));
    }));
    const ports = await Promise.all([0, 1, 2, 3].map(() => freeDnsPort()));
    const started = await Promise.all(
      [0, 1].map((i) =>
        startHades(
          etcdArgs(ports[2 * i], etcd, ['-metrics-port', String(ports[2 * i + 1])], 'hades.local.'),
          ports[2 * i],
        ),
      ),
    );
    for (const [i, hades] of started.entries())
      replicas.push({ hades, port: ports[2 * i], metrics: ports[2 * i + 1] });
    await settledHealth('start');
  });

  after(async () => {
    const codes = await Promise.all(replicas.map((r) => r.hades.stop()));
    await store?.close();
    await etcd?.stop();
    for (const [i, code] of codes.entries()) assert.equal(code, 0, replicas[i].hades.stderr());
  });

  it('the property: random health rounds; replicas agree, answers are the model’s, only whom they must move', async () => {
    await checkAll('round 0 (all UP)');
    let failOpenRounds = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      for (const a of ALL_ADDRS) {
        const h = { ...(health.get(a.ip) as Health) };
        if (gen.chance(0.35)) h.down = !h.down;
        if (gen.chance(h.drained ? 0.5 : 0.08)) h.drained = !h.drained;
        if (round === ALL_DOWN_ROUND && a.ip.startsWith('10.61.')) h.down = true;
        if (h.down !== health.get(a.ip)?.down || h.drained !== health.get(a.ip)?.drained)
          await writeHealth(a.ip, h);
      }
      // never every address of a name drained (that is NODATA, drain.test.ts's business)
      for (const name of NAME_LIST)
        if (NAMES[name].every((a) => health.get(a.ip)?.drained)) {
          const a = gen.pick(NAMES[name]);
          await writeHealth(a.ip, { down: health.get(a.ip)?.down ?? false, drained: false });
        }
      if (NAME_LIST.some((n) => NAMES[n].every((a) => health.get(a.ip)?.drained || health.get(a.ip)?.down)))
        failOpenRounds++;
      await settledHealth(`round ${round}`);
      await checkAll(`round ${round}`);
    }
    assert.ok(failOpenRounds >= 1, where('some round was fail-open for a name'));
    // every path of the model was taken, and the stability check was not vacuous
    for (const [k, n] of Object.entries(seen))
      assert.ok(n > 0, where(`${k} came up: ${JSON.stringify(seen)}`));
    console.log(where(`cases: ${JSON.stringify(seen)}, fail-open rounds ${failOpenRounds}`));
  });

  it('/explain agrees: chosen is the answer, the client’s zone and the candidates are the model’s', async () => {
    const sample = CLIENTS.filter((_, i) => i % 3 === 0);
    await pool(
      sample.flatMap((client) => NAME_LIST.flatMap((name) => replicas.map((r) => ({ client, name, r })))),
      8,
      async ({ client, name, r }) => {
        const at = where(`/explain on :${r.port} for ${client} ${name}`);
        const { status, body } = await explain(r, { name, type: 'A', client });
        assert.equal(status, 200, `${at}: ${JSON.stringify(body)}`);
        assert.equal(body.rcode, 'NOERROR', at);
        const answered = last.get(`${client} ${name}`)?.addr;
        assert.deepEqual(body.chosen, [answered], `${at}: chosen is what the client got`);
        assert.equal(body.client.zone, zoneOf(zones, client), `${at}: the client's zone`);
        const cands = candidates(name, zoneOf(zones, client), health);
        assert.deepEqual([...body.candidates].sort(), cands, `${at}: the candidates\n${body.rule}`);
        const zoned = cands.every((c) => NAMES[name].find((a) => a.ip === c)?.zone === body.client.zone);
        assert.equal(body.candidateZone, zoned ? body.client.zone : null, `${at}: candidateZone`);
        for (const a of body.addresses) {
          assert.equal(a.candidate, cands.includes(a.address), `${at}: ${a.address} candidate`);
          assert.equal(a.chosen, a.address === answered, `${at}: ${a.address} chosen`);
        }
      },
    );
    for (const r of replicas) {
      const { status, body } = await explain(r, { name: NAME_LIST[0], type: 'A', client: '127.10.0.999' });
      assert.equal(status, 400, JSON.stringify(body));
      assert.equal(body.field, 'client', JSON.stringify(body));
      assert.match(String(body.error), /client/);
    }
  });

  it('hades-apicmd -explain prints it for a person; its flags are checked', async () => {
    const bin = new URL('../../src/bin/hades-apicmd.js', import.meta.url).pathname;
    const r = replicas[0];
    for (const client of CLIENTS.filter((_, i) => i % 25 === 0)) {
      const name = NAME_LIST[0];
      const out = await run(process.execPath, [
        bin,
        '-explain',
        name,
        '-client',
        client,
        '-server',
        `127.0.0.1:${r.metrics}`,
      ]);
      const at = where(`apicmd -explain ${name} -client ${client}`);
      assert.equal(out.code, 0, `${at}: ${out.stderr}`);
      const answered = last.get(`${client} ${name}`)?.addr ?? '';
      assert.match(
        out.stdout,
        new RegExp(
          `for client ${client.replace(/\./g, '\\.')} .*zone: ${zoneOf(zones, client) ?? 'none'}\\)`,
        ),
        at,
      );
      assert.match(
        out.stdout,
        new RegExp(`→ +${answered.replace(/\./g, '\\.')} `),
        `${at}: the chosen row\n${out.stdout}`,
      );
      assert.match(out.stdout, /^rule: /m, at);
    }
    const bad: [string[], RegExp][] = [
      [['-explain', NAME_LIST[0], '-server', `127.0.0.1:${r.metrics}`], /needs -client/],
      [['-explain', NAME_LIST[0], '-client', 'nope', '-server', `127.0.0.1:${r.metrics}`], /-client "nope"/],
      [['-client', '127.0.0.1', '-list'], /go with -explain/],
    ];
    for (const [args, msg] of bad) {
      const out = await run(process.execPath, [bin, ...args]);
      assert.equal(out.code, 2, `${args.join(' ')}: ${out.stderr}`);
      assert.equal(out.stderr.trim().split('\n').length, 1, out.stderr);
      assert.match(out.stderr, msg);
    }
  });

  it('topology watched live: clients move from z1 to z2; a bad zone value is skipped and counted', async () => {
    const invalid = async (r: Replica) =>
      metricValue(await scrape(r.metrics), 'hades_catalog_invalid_records');
    for (const r of replicas) assert.equal(await invalid(r), 0, `:${r.port}: no invalid values yet`);

    // every address UP again: z1's clients get 10.60.0.3 (app's only tier-1 address in z1),
    // z2's 10.60.0.4 or 10.60.0.5; web's z1 clients tier 5 in z1, z2's the whole tier 5
    for (const a of ALL_ADDRS)
      if (health.get(a.ip)?.down || health.get(a.ip)?.drained)
        await writeHealth(a.ip, { down: false, drained: false });
    await settledHealth('all UP');
    await checkAll('all UP');
    const app = NAME_LIST[0];
    const moving = CLIENTS.filter((c) => c.startsWith('127.11.') && Number(c.split('.')[3]) >= 128);
    assert.equal(moving.length, 12);
    for (const c of moving) assert.equal(last.get(`${c} ${app}`)?.addr, '10.60.0.3', where(`${c} in z1`));

    // z1 keeps 127.11.0.0/25; 127.11.0.128/25 (its clients .135 … .245) joins z2
    zones = { ...zones, z1: ['127.11.0.0/25'], z2: ['127.12.0.0/24', '127.11.0.128/25'] };
    // (z1 first: the watch applies the writes in order, so once z2 holds them both are in)
    await store.put(`${TOPOLOGY}z1`, JSON.stringify({ cidrs: zones.z1 }));
    await store.put(`${TOPOLOGY}z2`, JSON.stringify({ cidrs: zones.z2 }));
    await settledZone(moving[0], 'z2');
    await checkAll('z1 split into z2');
    for (const c of moving)
      assert.ok(
        ['10.60.0.4', '10.60.0.5'].includes(last.get(`${c} ${app}`)?.addr ?? ''),
        where(`${c} moved to z2: one of z2's addresses`),
      );

    // a bad value for z3: skipped (z3's clients have no zone: the whole tier), counted
    await store.put(`${TOPOLOGY}z3`, '{"cidrs":["nope"]}');
    const { z3: _gone, ...rest } = zones;
    zones = rest;
    await settledZone('127.13.0.5', null);
    for (const r of replicas)
      await waitFor(
        where(`:${r.port} counts the bad topology value`),
        async () => (await invalid(r)) === 1,
        30_000,
        {
          everyMs: 50,
        },
      );
    await checkAll('z3 unusable');

    // fixed: z3 is back, nothing counted
    zones = { ...zones, z3: ZONES.z3 };
    await store.put(`${TOPOLOGY}z3`, JSON.stringify({ cidrs: ZONES.z3 }));
    await settledZone('127.13.0.5', 'z3');
    for (const r of replicas)
      await waitFor(where(`:${r.port} no longer counts it`), async () => (await invalid(r)) === 0, 30_000, {
        everyMs: 50,
      });
    await checkAll('z3 fixed');
  });
});
