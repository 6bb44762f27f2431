/**
 * DnsHandler.explain: the answer is the one the client gets from a real query, and the
 * explanation names the records, their health, drain, zone and tier, the client's zone, the
 * candidates and the rule. Bad parameters throw naming the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExplainError } from './explain.js';
import { DnsHandler } from './handler.js';
import { FakeSource, rec, topology } from './test-source.js';
import type { ClientInfo } from './types.js';
import { RRType } from './wire/constants.js';
import { decode } from './wire/decode.js';
import { encodeQuery } from './wire/encode.js';
import { ResponseWriter } from './wire/writer.js';

function world(): FakeSource {
  const s = new FakeSource();
  const n = 'web.hades.local.';
  s.names.set(n, [
    rec(n, 0, '10.0.0.1', { zone: 'a' }),
    rec(n, 1, '10.0.0.2', { zone: 'a', weight: 3 }),
    rec(n, 2, '10.0.0.3', { zone: 'b' }),
    rec(n, 3, '10.0.0.4', { priority: 20 }),
    rec(n, 4, '10.0.0.5', { zone: 'a' }),
  ]);
  s.names.set('alias.hades.local.', [rec('alias.hades.local.', 0, 'web.hades.local.')]);
  s.states.set('10.0.0.1', 'DOWN');
  s.states.set('10.0.0.3', 'UP');
  s.drains.add('10.0.0.5');
  s.topology = topology({ a: ['10.1.0.0/16'], b: ['10.2.0.0/16'] });
  return s;
}

function dig(h: DnsHandler, name: string, address: string): string[] {
  const w = new ResponseWriter();
  const req = encodeQuery({ id: 3, name, type: RRType.A });
  const client: ClientInfo = { address, port: 5353, family: 4, transport: 'udp' };
  return decode(w.buf.subarray(0, h.handle(req, req.length, client, w, 512)))
    .answers.filter((r) => r.type === RRType.A)
    .map((r) => String(r.data));
}

describe('explain', () => {
  it('agrees with the answers, client by client, and says why', () => {
    const h = new DnsHandler({ catalog: world(), zones: ['hades.local.'] });
    for (let i = 1; i < 40; i++) {
      for (const [net, zone] of [
        ['10.1', 'a'],
        ['10.2', 'b'],
        ['10.9', null],
      ] as const) {
        const client = `${net}.0.${i}`;
        const e = h.explain({ name: 'web.hades.local', type: 'A', client });
        assert.deepEqual(e.chosen, dig(h, 'web.hades.local', client), client);
        assert.equal(e.client.zone, zone);
        assert.equal(e.tier, 10);
        assert.equal(e.rcode, 'NOERROR');
        if (zone === 'a') {
          assert.deepEqual(e.candidates, ['10.0.0.2']);
          assert.equal(e.candidateZone, 'a');
          assert.match(e.rule, /zone a/);
        } else if (zone === 'b') assert.deepEqual(e.candidates, ['10.0.0.3']);
        else {
          assert.deepEqual(e.candidates, ['10.0.0.2', '10.0.0.3']);
          assert.equal(e.candidateZone, null);
          assert.match(e.rule, /sticky/);
        }
      }
    }
    const e = h.explain({ name: 'web.hades.local', client: '10.1.0.1' });
    const by = new Map(e.addresses.map((a) => [a.address, a]));
    assert.deepEqual(by.get('10.0.0.1'), {
      address: '10.0.0.1',
      key: '/k/web.hades.local./0',
      health: 'DOWN',
      drained: false,
      zone: 'a',
      tier: 10,
      weight: 1,
      candidate: false,
      chosen: false,
    });
    assert.equal(by.get('10.0.0.4')?.tier, 20);
    assert.equal(by.get('10.0.0.5')?.drained, true);
    assert.equal(by.get('10.0.0.2')?.chosen, true);
    assert.equal(by.get('10.0.0.3')?.health, 'UP');
  });

  it('follows the CNAME chain and explains its end', () => {
    const h = new DnsHandler({ catalog: world(), zones: ['hades.local.'] });
    const e = h.explain({ name: 'alias.hades.local', type: 'A', client: '10.2.0.7' });
    assert.equal(e.name, 'web.hades.local.');
    assert.deepEqual(
      e.answer.map((r) => r.type),
      ['CNAME', 'A'],
    );
    assert.deepEqual(e.chosen, ['10.0.0.3']);
  });

  it('ECS with -trust-ecs decides the zone', () => {
    const h = new DnsHandler({ catalog: world(), zones: ['hades.local.'], trustEcs: true });
    const e = h.explain({ name: 'web.hades.local', client: '10.1.0.1', ecs: '10.2.7.0/24' });
    assert.equal(e.client.identity, 'ECS subnet');
    assert.equal(e.client.zone, 'b');
    assert.deepEqual(e.chosen, ['10.0.0.3']);
  });

  it('closed and other types', () => {
    const s = world();
    for (const ip of ['10.0.0.2', '10.0.0.3', '10.0.0.4']) s.states.set(ip, 'DOWN');
    const h = new DnsHandler({ catalog: s, zones: ['hades.local.'], allDown: 'closed' });
    const e = h.explain({ name: 'web.hades.local', client: '10.1.0.1' });
    assert.equal(e.rcode, 'SERVFAIL');
    assert.match(e.rule, /closed/);
    const t = h.explain({ name: 'web.hades.local', type: 'TXT', client: '10.1.0.1' });
    assert.equal(t.rcode, 'NOERROR');
    assert.match(t.rule, /TXT/);
    const x = h.explain({ name: 'nothing.hades.local', client: '10.1.0.1' });
    assert.equal(x.rcode, 'NXDOMAIN');
    const f = h.explain({ name: 'example.org', client: '10.1.0.1' });
    assert.match(f.rule, /none of this server's zones/);
  });

  it('bad parameters name the field', () => {
    const h = new DnsHandler({ catalog: world(), zones: ['hades.local.'] });
    const cases: [object, string][] = [
      [{ client: '10.0.0.1' }, 'name'],
      [{ name: 'a..b', client: '10.0.0.1' }, 'name'],
      [{ name: 'web.hades.local', type: 'AXFR', client: '10.0.0.1' }, 'type'],
      [{ name: 'web.hades.local', type: 'NOPE', client: '10.0.0.1' }, 'type'],
      [{ name: 'web.hades.local' }, 'client'],
      [{ name: 'web.hades.local', client: 'host' }, 'client'],
      [{ name: 'web.hades.local', client: '10.0.0.1', ecs: '10.0.0.0/40' }, 'ecs'],
    ];
    for (const [params, field] of cases)
      assert.throws(
        () => h.explain(params),
        (e: unknown) => e instanceof ExplainError && e.field === field,
        JSON.stringify(params),
      );
  });
});
