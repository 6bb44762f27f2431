/**
 * Selection inside the query pipeline: DnsHandler over a real catalog (the embedded store in a
 * temp dir), handcrafted packets through handle(). Covers what the selectors alone cannot: the
 * policy override on mixed records, CNAMEs before the selected address, the health filter and
 * fail-open in front of `sticky` (a status written to the store), and the ECS echo with
 * -trust-ecs. The same behaviour through the real binary, dig and etcd: select.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.js';
import { DnsHandler, type DnsHandlerOptions } from '../../src/dns/handler.js';
import type { ClientInfo } from '../../src/dns/types.js';
import { RRType } from '../../src/dns/wire/constants.js';
import { decode, type Message } from '../../src/dns/wire/decode.js';
import { type EdnsInput, encodeQuery } from '../../src/dns/wire/encode.js';
import { ResponseWriter } from '../../src/dns/wire/writer.js';
import { nameToKey } from '../../src/records/keys.js';
import { serializeRecordValue } from '../../src/records/record.js';
import type { RecordValue } from '../../src/records/types.js';
import { type EmbeddedStore, openEmbeddedStore } from '../../src/store/embedded/embedded.js';
import { waitFor } from './clients.js';

const ZONES = ['hades.local.'];
const UP = '{"status":"UP"}';
const DOWN = '{"status":"DOWN"}';
const APP4 = ['10.20.0.1', '10.20.0.2', '10.20.0.3', '10.20.0.4'];
const APP6 = ['2001:db8:20::1', '2001:db8:20::2', '2001:db8:20::3', '2001:db8:20::4'];

const DATA: [string, string][] = [];
function at(name: string, leaf: string, v: RecordValue): void {
  DATA.push([`${nameToKey(name)}/${leaf}`, serializeRecordValue(v)]);
}
for (let i = 0; i < 4; i++) {
  at('app.hades.local', `v4-${i}`, { host: APP4[i] });
  at('app.hades.local', `v6-${i}`, { host: APP6[i] });
}
DATA.push([nameToKey('alias.hades.local'), serializeRecordValue({ host: 'app.hades.local' })]);
DATA.push([nameToKey('alias2.hades.local'), serializeRecordValue({ host: 'alias.hades.local' })]);
// mixed `select`: the lowest key carrying one (b: all) wins over c's random-one and the server's
at('mixed.hades.local', 'a', { host: '10.21.0.1' });
at('mixed.hades.local', 'b', { host: '10.21.0.2', select: 'all' });
at('mixed.hades.local', 'c', { host: '10.21.0.3', select: 'random-one' });
// a headless service: every record says all
for (let i = 1; i <= 3; i++) at('headless.hades.local', `e${i}`, { host: `10.23.0.${i}`, select: 'all' });
// the override may come from a record of the other family: A and AAAA answers agree
at('fam.hades.local', 'a', { host: '2001:db8:22::1', select: 'all' });
at('fam.hades.local', 'b', { host: '10.22.0.1' });
at('fam.hades.local', 'c', { host: '10.22.0.2' });
at('ro.hades.local', 'a', { host: '10.24.0.1', select: 'random-one' });
at('ro.hades.local', 'b', { host: '10.24.0.2' });
at('one.hades.local', 'a', { host: '10.25.0.1' });

const writer = new ResponseWriter();
let dir = '';
let store: EmbeddedStore;
let catalog: Catalog;

function handler(o: Partial<DnsHandlerOptions> = {}): DnsHandler {
  return new DnsHandler({ catalog, zones: ZONES, hostname: 'h', version: 'v', seed: 11, ...o });
}

function client(address: string, transport: 'udp' | 'tcp' = 'udp'): ClientInfo {
  return { address, port: 53000, family: address.includes(':') ? 6 : 4, transport };
}

function ask(
  h: DnsHandler,
  c: ClientInfo,
  name: string,
  type: number,
  edns: EdnsInput | null = null,
): Message {
  const pkt = encodeQuery({ id: 7, name, type, edns });
  const n = h.handle(pkt, pkt.length, c, writer, c.transport === 'tcp' ? 65535 : 512);
  assert.ok(n > 0, `${name}: no reply`);
  return decode(writer.buf, n);
}

/** The address data of the answer section, in order. */
function addrs(m: Message, type: number = RRType.A): string[] {
  return m.answers.filter((r) => r.type === type).map((r) => r.data as string);
}

/** 40 client addresses, IPv4 and IPv6. */
const CLIENTS = Array.from({ length: 40 }, (_, i) =>
  i % 4 === 3 ? `2001:db8:c::${i}` : `127.1.${i >> 3}.${i}`,
);

async function setHealth(ip: string, status: string | null): Promise<void> {
  const key = `/hades/monitor/status/${ip}`;
  if (status === null) await store.delete(key);
  else await store.put(key, status);
  const want = status === null ? undefined : (JSON.parse(status).status as string);
  await waitFor(`${ip} ${want}`, () => catalog.health(ip) === want);
}

describe('selection in the handler', () => {
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-select-'));
    store = await openEmbeddedStore({ dir });
    for (const [k, v] of DATA) await store.put(k, v);
    catalog = new Catalog({ store });
    await catalog.start();
  });
  after(async () => {
    await catalog?.stop();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sticky is the default: one address, the same for UDP and TCP, A and AAAA, any handler instance', () => {
    const h1 = handler();
    const h2 = handler({ seed: 99 });
    assert.equal(h1.select, 'sticky');
    const per4 = new Set<string>();
    const per6 = new Set<string>();
    for (const a of CLIENTS) {
      const m4 = addrs(ask(h1, client(a), 'app.hades.local', RRType.A));
      const m6 = addrs(ask(h1, client(a), 'app.hades.local', RRType.AAAA), RRType.AAAA);
      assert.equal(m4.length, 1);
      assert.equal(m6.length, 1);
      assert.deepEqual(addrs(ask(h1, client(a, 'tcp'), 'app.hades.local', RRType.A)), m4);
      assert.deepEqual(addrs(ask(h2, client(a), 'app.hades.local', RRType.A)), m4);
      assert.deepEqual(addrs(ask(h2, client(a, 'tcp'), 'app.hades.local', RRType.AAAA), RRType.AAAA), m6);
      per4.add(m4[0]);
      per6.add(m6[0]);
    }
    assert.ok(per4.size >= 3 && per6.size >= 3, `40 clients used ${[...per4]} and ${[...per6]}`);
  });

  it('CNAMEs stay before the selected address, which is the target name’s sticky pick', () => {
    const h = handler();
    for (const a of CLIENTS.slice(0, 10)) {
      const direct = addrs(ask(h, client(a), 'app.hades.local', RRType.A));
      const m = ask(h, client(a), 'alias2.hades.local', RRType.A);
      assert.deepEqual(
        m.answers.map((r) => r.type),
        [RRType.CNAME, RRType.CNAME, RRType.A],
      );
      assert.deepEqual(addrs(m), direct);
      const m6 = ask(h, client(a), 'alias.hades.local', RRType.AAAA);
      assert.deepEqual(
        m6.answers.map((r) => r.type),
        [RRType.CNAME, RRType.AAAA],
      );
    }
  });

  it("a record's select overrides the server policy: the lowest key carrying one wins, whatever its health or family", async () => {
    const h = handler();
    const c = client('127.0.0.9');
    assert.deepEqual(addrs(ask(h, c, 'mixed.hades.local', RRType.A)).sort(), [
      '10.21.0.1',
      '10.21.0.2',
      '10.21.0.3',
    ]);
    assert.deepEqual(addrs(ask(h, c, 'headless.hades.local', RRType.A)).sort(), [
      '10.23.0.1',
      '10.23.0.2',
      '10.23.0.3',
    ]);
    assert.deepEqual(addrs(ask(h, c, 'fam.hades.local', RRType.A)).sort(), ['10.22.0.1', '10.22.0.2']);
    // the record carrying the override goes DOWN: the policy stays, the address goes
    await setHealth('10.21.0.2', DOWN);
    assert.deepEqual(addrs(ask(h, c, 'mixed.hades.local', RRType.A)).sort(), ['10.21.0.1', '10.21.0.3']);
    await setHealth('10.21.0.2', null);
    // random-one from a record under a server policy of all
    const all = handler({ select: 'all' });
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const got = addrs(ask(all, c, 'ro.hades.local', RRType.A));
      assert.equal(got.length, 1);
      seen.add(got[0]);
    }
    assert.equal(seen.size, 2, 'random-one varies per query');
  });

  it('DOWN: only its clients move, over UDP and TCP, A and AAAA; all DOWN: fail-open, everyone back', async () => {
    const h = handler();
    const pick = (a: string, type: number, t: 'udp' | 'tcp' = 'udp') =>
      addrs(ask(h, client(a, t), 'app.hades.local', type), type);
    const before4 = CLIENTS.map((a) => pick(a, RRType.A)[0]);
    const before6 = CLIENTS.map((a) => pick(a, RRType.AAAA)[0]);
    const down4 = before4[0];
    const down6 = before6[0];
    await setHealth(down4, DOWN);
    await setHealth(down6, DOWN);
    for (let i = 0; i < CLIENTS.length; i++) {
      for (const t of ['udp', 'tcp'] as const) {
        const a4 = pick(CLIENTS[i], RRType.A, t);
        const a6 = pick(CLIENTS[i], RRType.AAAA, t);
        assert.equal(a4.length, 1);
        assert.notEqual(a4[0], down4);
        assert.notEqual(a6[0], down6);
        if (before4[i] !== down4) assert.equal(a4[0], before4[i], `${CLIENTS[i]} kept its A`);
        if (before6[i] !== down6) assert.equal(a6[0], before6[i], `${CLIENTS[i]} kept its AAAA`);
      }
    }
    // every A address DOWN: fail-open serves them all, and HRW over the full set gives everyone
    // their original address back
    for (const ip of APP4) await setHealth(ip, DOWN);
    const failOpen = h.stats.failOpen;
    for (let i = 0; i < CLIENTS.length; i++) assert.deepEqual(pick(CLIENTS[i], RRType.A), [before4[i]]);
    assert.equal(h.stats.failOpen, failOpen + CLIENTS.length);
    for (const ip of [...APP4, down6]) await setHealth(ip, UP);
    for (let i = 0; i < CLIENTS.length; i++) {
      assert.deepEqual(pick(CLIENTS[i], RRType.A), [before4[i]]);
      assert.deepEqual(pick(CLIENTS[i], RRType.AAAA), [before6[i]]);
    }
  });

  it('-trust-ecs: the client subnet is the identity, echoed with its scope; without it ECS is ignored and not echoed', () => {
    const trusting = handler({ trustEcs: true });
    const plain = handler();
    const per = new Set<string>();
    for (let n = 0; n < 40; n++) {
      const edns: EdnsInput = { ecs: { sourcePrefix: 24, address: `10.60.${n}.0` } };
      const got = new Set<string>();
      for (const a of ['127.0.0.1', '127.0.0.2', '::1']) {
        const m = ask(trusting, client(a), 'app.hades.local', RRType.A, edns);
        got.add(addrs(m)[0]);
        assert.deepEqual(m.edns?.ecs, {
          family: 1,
          sourcePrefix: 24,
          scopePrefix: 24,
          address: `10.60.${n}.0`,
        });
      }
      assert.equal(got.size, 1, `10.60.${n}.0/24 from three sources: ${[...got]}`);
      per.add([...got][0]);
      // the ECS /32 of an address is that address asking directly
      const host = `10.61.${n}.7`;
      assert.deepEqual(
        addrs(
          ask(trusting, client('127.0.0.1'), 'app.hades.local', RRType.A, {
            ecs: { sourcePrefix: 32, address: host },
          }),
        ),
        addrs(ask(plain, client(host), 'app.hades.local', RRType.A)),
      );
    }
    assert.equal(per.size, 4, 'subnets spread over the addresses');
    // ignored and not echoed without the flag: the source address decides
    const edns: EdnsInput = { ecs: { sourcePrefix: 24, address: '10.60.1.0' } };
    for (const a of CLIENTS) {
      const m = ask(plain, client(a), 'app.hades.local', RRType.A, edns);
      assert.equal(m.edns?.ecs, null);
      assert.deepEqual(addrs(m), addrs(ask(plain, client(a), 'app.hades.local', RRType.A)));
    }
    // scope 0 where the answer does not depend on the subnet: one address, `all`, NXDOMAIN
    for (const name of ['one.hades.local', 'headless.hades.local', 'nope.hades.local']) {
      const m = ask(trusting, client('127.0.0.1'), name, RRType.A, edns);
      assert.equal(m.edns?.ecs?.scopePrefix, 0, name);
      assert.equal(m.edns?.ecs?.sourcePrefix, 24, name);
    }
    // source prefix 0 (the resolver asks us not to use the subnet): the source address decides
    const zero = ask(trusting, client('127.0.0.5'), 'app.hades.local', RRType.A, {
      ecs: { sourcePrefix: 0, address: '0.0.0.0' },
    });
    assert.deepEqual(addrs(zero), addrs(ask(plain, client('127.0.0.5'), 'app.hades.local', RRType.A)));
    assert.deepEqual(zero.edns?.ecs, { family: 1, sourcePrefix: 0, scopePrefix: 0, address: '0.0.0.0' });
  });
});
