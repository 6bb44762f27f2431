import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordError } from './errors.js';
import { parseRecordValue, serializeRecordValue } from './record.js';
import {
  checkZoneName,
  parseCidr,
  parseTopologyValue,
  serializeTopologyValue,
  Topology,
  type TopologyValue,
  topologyKey,
  zoneFromTopologyKey,
} from './topology.js';

/** The identity bytes of an address (or subnet `a/len`), select.ts layout. */
function idOf(text: string): [Uint8Array, number] {
  const c = parseCidr(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`);
  if (typeof c === 'string') throw new Error(c);
  const id = new Uint8Array(18);
  id[0] = c.family;
  id[1] = c.prefix;
  const n = (c.prefix + 7) >> 3;
  id.set(c.bytes.subarray(0, n), 2);
  return [id, 2 + n];
}

function topo(zones: { [zone: string]: string[] }): Topology {
  const m = new Map<string, TopologyValue>();
  for (const [z, cidrs] of Object.entries(zones)) m.set(z, parseTopologyValue(JSON.stringify({ cidrs })));
  return new Topology(m);
}

describe('zone names', () => {
  it('Kubernetes label values, not empty', () => {
    const good = ['a', 'us-east-1a', 'europe-west1-b', 'Zone_A.1', 'z'.repeat(63)];
    const bad = ['', '-a', 'a-', 'a/b', 'a b', 'z'.repeat(64), 'é', 7, null];
    for (const z of good) assert.equal(checkZoneName(z), undefined, String(z));
    for (const z of bad) assert.notEqual(checkZoneName(z), undefined, String(z));
  });

  it('keys: <path><zone>, both spellings of the path', () => {
    assert.equal(topologyKey('/hades/topology/', 'z1'), '/hades/topology/z1');
    assert.equal(topologyKey('/hades/topology', 'z1'), '/hades/topology/z1');
    assert.throws(
      () => topologyKey('/hades/topology/', 'a/b'),
      (e: unknown) => e instanceof RecordError && e.field === 'zone',
    );
    assert.equal(zoneFromTopologyKey('/hades/topology/', '/hades/topology/z1'), 'z1');
    assert.equal(zoneFromTopologyKey('/hades/topology/', '/hades/topology/a/b'), undefined);
    assert.equal(zoneFromTopologyKey('/hades/topology/', '/hades/topology/'), undefined);
    assert.equal(zoneFromTopologyKey('/hades/topology/', '/hades/other/z1'), undefined);
  });

  it('a record carries one (strict parse names the field)', () => {
    assert.deepEqual(parseRecordValue('{"host":"10.0.0.1","zone":"z1"}', 'strict'), {
      host: '10.0.0.1',
      zone: 'z1',
    });
    assert.equal(
      serializeRecordValue({ host: '10.0.0.1', priority: 20, zone: 'z1' }),
      '{"host":"10.0.0.1","priority":20,"zone":"z1"}',
    );
    assert.throws(
      () => parseRecordValue('{"host":"10.0.0.1","zone":"a b"}', 'strict'),
      (e: unknown) => e instanceof RecordError && e.field === 'zone',
    );
    assert.deepEqual(parseRecordValue('{"host":"10.0.0.1","zone":""}', 'lenient'), { host: '10.0.0.1' });
  });
});

describe('CIDRs and topology values', () => {
  it('parseCidr: canonical network text, host bits cleared', () => {
    const cases: [string, string][] = [
      ['10.1.0.0/16', '10.1.0.0/16'],
      ['10.1.2.3/16', '10.1.0.0/16'],
      ['10.1.2.3/32', '10.1.2.3/32'],
      ['0.0.0.0/0', '0.0.0.0/0'],
      ['FD00:1:0:0::5/48', 'fd00:1::/48'],
      ['2001:db8::/127', '2001:db8::/127'],
      ['10.1.2.3/21', '10.1.0.0/21'],
    ];
    for (const [s, want] of cases) {
      const c = parseCidr(s);
      assert.ok(typeof c !== 'string', `${s}: ${c}`);
      assert.equal(c.text, want, s);
    }
    for (const bad of [
      '10.1.0.0',
      '10.1.0.0/33',
      '10.1.0.0/-1',
      '10.1.0.0/016',
      'fd00::/129',
      'x/8',
      '/8',
      '10.1.0.0/',
      5,
    ])
      assert.equal(typeof parseCidr(bad), 'string', String(bad));
  });

  it('values: strict, errors name the field, repeats kept once', () => {
    const v = parseTopologyValue('{"cidrs":["10.1.0.0/16","10.1.9.9/16","fd00:1::/48"]}');
    assert.equal(serializeTopologyValue(v), '{"cidrs":["10.1.0.0/16","fd00:1::/48"]}');
    const cases: [string, string][] = [
      ['[]', ''],
      ['not json', ''],
      ['{}', 'cidrs'],
      ['{"cidrs":"10.0.0.0/8"}', 'cidrs'],
      ['{"cidrs":["10.0.0.0/8","nope"]}', 'cidrs[1]'],
      ['{"cidrs":[],"extra":1}', 'extra'],
    ];
    for (const [json, field] of cases)
      assert.throws(
        () => parseTopologyValue(json),
        (e: unknown) => e instanceof RecordError && e.field === field,
        json,
      );
  });
});

describe('Topology.zoneOf: the longest CIDR', () => {
  const t = topo({
    a: ['10.0.0.0/8', 'fd00::/16'],
    b: ['10.1.0.0/16', 'fd00:1::/48'],
    c: ['10.1.2.0/24', '192.168.0.0/24'],
    d: ['10.1.2.0/24', '0.0.0.0/0'],
  });
  const cases: [string, string][] = [
    ['10.9.9.9', 'a'],
    ['10.1.9.9', 'b'],
    ['10.1.2.3', 'c'], // c and d both claim 10.1.2.0/24: the first name wins
    ['192.168.0.77', 'c'],
    ['8.8.8.8', 'd'], // 0.0.0.0/0
    ['fd00:2::1', 'a'],
    ['fd00:1::1', 'b'],
    ['2001:db8::1', ''],
    // ECS subnets: a CIDR longer than the subnet does not hold it
    ['10.1.2.0/24', 'c'],
    ['10.1.0.0/20', 'b'],
    ['10.1.0.0/15', 'a'],
    ['10.0.0.0/7', 'd'],
    ['fd00:1::/56', 'b'],
    ['fd00:1::/40', 'a'],
  ];
  for (const [client, want] of cases)
    it(`${client} → ${want || '(none)'}`, () => {
      const [id, len] = idOf(client);
      assert.equal(t.zoneOf(id, len), want);
    });

  it('no topology: no zone', () => {
    const [id, len] = idOf('10.1.2.3');
    assert.equal(Topology.EMPTY.zoneOf(id, len), '');
    assert.equal(topo({ a: [] }).zoneOf(id, len), '');
  });
});
