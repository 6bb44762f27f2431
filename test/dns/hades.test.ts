/**
 * The real `hades` binary on a real etcd, asked by real clients (dig, kdig, nslookup): every
 * record type and negative answer of issue 3, over UDP and TCP, with and without EDNS;
 * truncation and the TCP retry; the protocol cases (0x20, ANY, CHAOS, BADVERS, NOTIMP, REFUSED,
 * SERVFAIL from a dead upstream);
 * live updates through the watch; the seed's nslookup session on Hades 1.0.1-format records.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/store/types.js';
import { VERSION } from '../../src/version.js';
import { type DigResult, dig, kdig, parseDig, rrset, run, waitFor } from './clients.js';
import { type EtcdHades, type HadesProc, NO_UPSTREAM, startEtcdHades } from './hades-proc.js';

interface Case {
  name: string;
  q: string[];
  check: (r: DigResult) => void;
  /** kdig lower-cases the question it sends: skip it where letter case matters. */
  digOnly?: boolean;
}

const SOA_DATA = /^ns\.dns\.hades\.local\. hostmaster\.hades\.local\. \d+ 7200 1800 86400 30$/;

function negative(status: 'NXDOMAIN' | 'NOERROR', zone = 'hades.local.') {
  return (r: DigResult): void => {
    assert.equal(r.status, status);
    assert.ok(r.flags.includes('aa'), 'AA');
    assert.equal(r.answer.length, 0);
    assert.equal(r.authority.length, 1);
    assert.equal(r.authority[0].type, 'SOA');
    assert.equal(r.authority[0].name.toLowerCase(), zone);
    // RFC 2308: the SOA's TTL in a negative answer is at most its MINIMUM
    assert.ok(r.authority[0].ttl <= 30, `SOA TTL ${r.authority[0].ttl}`);
  };
}

function answers(want: string[], extra?: (r: DigResult) => void) {
  return (r: DigResult): void => {
    assert.equal(r.status, 'NOERROR');
    assert.ok(r.flags.includes('aa'), 'AA');
    assert.deepEqual(rrset(r.answer), [...want].sort());
    extra?.(r);
  };
}

const CASES: Case[] = [
  {
    name: 'A',
    q: ['web.hades.local', 'A'],
    check: answers(['A 10.0.0.1'], (r) => assert.equal(r.answer[0].ttl, 60)),
  },
  { name: 'AAAA', q: ['web6.hades.local', 'AAAA'], check: answers(['AAAA 2001:db8::1']) },
  {
    name: 'A, several addresses, the DOWN one left out (-select all)',
    q: ['multi.hades.local', 'A'],
    check: answers(['A 10.0.1.1', 'A 10.0.1.3']),
  },
  {
    name: 'owner name echoes the query case (0x20)',
    q: ['wEb.HaDeS.lOcAl', 'A'],
    check: answers(['A 10.0.0.1'], (r) => assert.equal(r.answer[0].name, 'wEb.HaDeS.lOcAl.')),
    digOnly: true,
  },
  {
    name: 'CNAME chased in zone, CNAME before its target',
    q: ['alias2.hades.local', 'A'],
    check: answers(['CNAME alias.hades.local.', 'CNAME web.hades.local.', 'A 10.0.0.1'], (r) => {
      assert.deepEqual(
        r.answer.map((x) => x.type),
        ['CNAME', 'CNAME', 'A'],
      );
      assert.equal(r.answer[0].name, 'alias2.hades.local.');
    }),
  },
  { name: 'CNAME asked for', q: ['alias.hades.local', 'CNAME'], check: answers(['CNAME web.hades.local.']) },
  {
    name: 'CNAME loop: no crash, NODATA without the CNAMEs (CoreDNS)',
    q: ['loop1.hades.local', 'A'],
    check: negative('NOERROR'),
  },
  {
    name: 'out-of-zone CNAME target the (dead) upstream cannot resolve: the CNAME alone',
    q: ['ext.hades.local', 'A'],
    check: answers(['CNAME www.example.com.']),
  },
  {
    name: 'SRV: targets from host and synthesized, weights as shares, glue',
    q: ['_http._tcp.svc.hades.local', 'SRV'],
    check: answers(
      ['SRV 10 100 80 web.hades.local.', 'SRV 20 100 8080 x2._http._tcp.svc.hades.local.'],
      (r) => {
        const glue = rrset(r.additional);
        assert.ok(glue.includes('A 10.0.0.5'), glue.join());
        assert.ok(glue.includes('A 10.0.0.1'), glue.join());
      },
    ),
  },
  { name: 'TXT', q: ['txt.hades.local', 'TXT'], check: answers(['TXT "hello world"']) },
  {
    name: 'TXT longer than 255 octets is split',
    q: ['long.hades.local', 'TXT'],
    check: answers([`TXT "${'a'.repeat(255)}" "${'a'.repeat(145)}"`]),
  },
  {
    name: 'MX with glue',
    q: ['mail.hades.local', 'MX'],
    check: answers(['MX 10 mx1.hades.local.'], (r) => assert.ok(rrset(r.additional).includes('A 10.0.0.25'))),
  },
  { name: 'PTR (in-addr.arpa)', q: ['-x', '10.0.0.1'], check: answers(['PTR web.hades.local.']) },
  { name: 'PTR (ip6.arpa)', q: ['-x', '2001:db8::1'], check: answers(['PTR web6.hades.local.']) },
  {
    name: 'NS at the apex with glue',
    q: ['hades.local', 'NS'],
    check: answers(['NS ns1.ns.dns.hades.local.'], (r) =>
      assert.ok(rrset(r.additional).includes('A 10.0.0.53')),
    ),
  },
  {
    name: 'SOA synthesized',
    q: ['hades.local', 'SOA'],
    check: (r) => {
      assert.equal(r.status, 'NOERROR');
      assert.ok(r.flags.includes('aa'));
      assert.equal(r.answer.length, 1);
      assert.match(r.answer[0].data, SOA_DATA);
    },
  },
  { name: 'apex A from dns/apex', q: ['hades.local', 'A'], check: answers(['A 10.0.0.100']) },
  { name: 'ANY: RFC 8482 HINFO', q: ['web.hades.local', 'ANY'], check: answers(['HINFO "RFC8482" ""']) },
  {
    name: 'wildcard label: every name below',
    q: ['*.default.svc.hades.local', 'A'],
    check: answers(['A 192.168.19.113', 'A 192.168.19.120']),
  },
  { name: 'NXDOMAIN with the zone SOA', q: ['nope.hades.local', 'A'], check: negative('NXDOMAIN') },
  { name: 'NODATA (no AAAA on an A name)', q: ['web.hades.local', 'AAAA'], check: negative('NOERROR') },
  { name: 'NODATA for an unknown type', q: ['web.hades.local', 'TYPE65000'], check: negative('NOERROR') },
  { name: 'NODATA for CAA', q: ['web.hades.local', 'CAA'], check: negative('NOERROR') },
  {
    name: 'NODATA for a name whose records (below it) have no such type',
    q: ['user.hades.local', 'TXT'],
    check: negative('NOERROR'),
  },
  {
    name: 'NXDOMAIN in a reverse zone carries that zone SOA',
    q: ['-x', '10.9.9.9'],
    check: negative('NXDOMAIN', '10.in-addr.arpa.'),
  },
  {
    // forwarded to the harness's dead loopback upstream (test/dns/forward.test.ts has live ones)
    name: 'names outside our zones go to the forwarder: SERVFAIL when the upstream is dead',
    q: ['www.example.com', 'A'],
    check: (r) => {
      assert.equal(r.status, 'SERVFAIL');
      assert.equal(r.answer.length, 0);
    },
  },
  {
    name: 'CHAOS version.bind',
    q: ['version.bind', 'TXT', 'CH'],
    check: (r) => {
      assert.equal(r.status, 'NOERROR');
      assert.equal(r.answer[0].data, `"hades ${VERSION}"`);
    },
  },
];

/** The same question through every transport/EDNS combination of dig and kdig. */
const VARIANTS: { tool: 'dig' | 'kdig'; args: string[]; tcp: boolean; edns: boolean }[] = [
  { tool: 'dig', args: ['+notcp', '+noedns'], tcp: false, edns: false },
  { tool: 'dig', args: ['+notcp'], tcp: false, edns: true },
  { tool: 'dig', args: ['+notcp', '+bufsize=4096'], tcp: false, edns: true },
  { tool: 'dig', args: ['+tcp', '+noedns'], tcp: true, edns: false },
  { tool: 'dig', args: ['+tcp'], tcp: true, edns: true },
  { tool: 'kdig', args: ['+notcp', '+noedns'], tcp: false, edns: false },
  { tool: 'kdig', args: ['+notcp', '+edns'], tcp: false, edns: true },
  { tool: 'kdig', args: ['+tcp', '+noedns'], tcp: true, edns: false },
  { tool: 'kdig', args: ['+tcp', '+edns', '+bufsize=1232'], tcp: true, edns: true },
];

async function ask(port: number, tool: 'dig' | 'kdig', args: string[]): Promise<DigResult> {
  const r = tool === 'dig' ? await dig(port, ['+nocookie', ...args]) : await kdig(port, args);
  return parseDig(r.stdout);
}

describe('hades on etcd, asked by dig and kdig', () => {
  let fx: EtcdHades;
  let store: Store;
  let hades: HadesProc;
  let port: number;

  before(async () => {
    fx = await startEtcdHades(['-select', 'all', '-nameservers', NO_UPSTREAM, '-logtostderr']);
    ({ store, hades, port } = fx);
  });
  after(async () => {
    const code = await fx?.stop('SIGTERM');
    assert.equal(code, 0, `hades exit code\n${hades?.stderr()}`);
  });

  for (const c of CASES) {
    it(c.name, async () => {
      await Promise.all(
        VARIANTS.filter((v) => !c.digOnly || v.tool === 'dig').map(async (v) => {
          const q = c.q;
          const r = await ask(port, v.tool, [...v.args, ...q]);
          const label = `${v.tool} ${v.args.join(' ')} ${c.q.join(' ')}`;
          try {
            c.check(r);
            assert.equal(r.edns, v.edns, 'OPT echoed exactly when EDNS was sent');
          } catch (err) {
            (err as Error).message = `${label}: ${(err as Error).message}\n${r.raw}`;
            throw err;
          }
        }),
      );
    });
  }

  it('truncates for a 512-octet client and dig retries over TCP by itself', async () => {
    // 3 TXT of 300 octets: more than 512, less than 1232
    const retry = await dig(port, ['+noedns', 'big.hades.local', 'TXT']);
    assert.match(retry.stdout, /;; Truncated, retrying in TCP mode/);
    const full = parseDig(retry.stdout);
    assert.equal(full.status, 'NOERROR');
    assert.equal(full.answer.length, 3);
    const ignored = parseDig((await dig(port, ['+noedns', '+ignore', 'big.hades.local', 'TXT'])).stdout);
    assert.ok(ignored.flags.includes('tc'), ignored.raw);
    assert.equal(ignored.answer.length, 0);
    const small = parseDig((await dig(port, ['+bufsize=512', '+ignore', 'big.hades.local', 'TXT'])).stdout);
    assert.ok(small.flags.includes('tc'), small.raw);
    assert.ok(small.edns, 'OPT kept in a truncated reply');
    const edns = await dig(port, ['+bufsize=1232', 'big.hades.local', 'TXT']);
    assert.doesNotMatch(edns.stdout, /Truncated/);
    assert.equal(parseDig(edns.stdout).answer.length, 3);
    // kdig retries over TCP by itself unless pinned to UDP (+notcp)
    const k = await kdig(port, ['+noedns', 'big.hades.local', 'TXT']);
    assert.match(k.stdout + k.stderr, /truncated reply .*retrying over TCP/);
    assert.equal(parseDig(k.stdout).answer.length, 3, k.stdout + k.stderr);
    const kIgnore = parseDig(
      (await kdig(port, ['+notcp', '+noedns', '+ignore', 'big.hades.local', 'TXT'])).stdout,
    );
    assert.ok(kIgnore.flags.includes('tc'), kIgnore.raw);
  });

  it('answers BADVERS for EDNS version 1 and NOTIMP for other opcodes', async () => {
    const bv = await dig(port, ['+edns=1', '+noednsnegotiation', 'web.hades.local', 'A']);
    assert.equal(parseDig(bv.stdout).status, 'BADVERS', bv.stdout);
    const ni = await dig(port, ['+opcode=2', 'web.hades.local', 'A']);
    assert.equal(parseDig(ni.stdout).status, 'NOTIMP', ni.stdout);
  });

  it('follows the store: a new record answers, a deleted one is NXDOMAIN again', async () => {
    const key = '/hades/local/hades/live';
    const a = async () => parseDig((await dig(port, ['live.hades.local', 'A'])).stdout);
    assert.equal((await a()).status, 'NXDOMAIN');
    await store.put(key, '{"host":"10.0.0.77"}');
    await waitFor('the new record', async () => rrset((await a()).answer).includes('A 10.0.0.77'));
    await store.delete(key);
    await waitFor('NXDOMAIN again', async () => (await a()).status === 'NXDOMAIN');
  });

  it("runs the seed's nslookup session on Hades 1.0.1-format records", async () => {
    const one = await run('nslookup', [`-port=${port}`, 'qiyf-nginx-5.default.svc.hades.local', '127.0.0.1']);
    assert.match(
      one.stdout,
      /Name:\s+qiyf-nginx-5\.default\.svc\.hades\.local\nAddress: 192\.168\.19\.113/,
      one.stdout,
    );
    const cctv1 = await run('nslookup', [`-port=${port}`, 'cctv1.user.hades.local', '127.0.0.1']);
    assert.match(
      cctv1.stdout,
      /Name:\s+cctv1\.user\.hades\.local\nAddress: 192\.168\.10\.[123]/,
      cctv1.stdout,
    );
    const tv1 = await run('nslookup', [`-port=${port}`, 'tv1.user.hades.local', '127.0.0.1']);
    assert.match(
      tv1.stdout,
      /tv1\.user\.hades\.local\s+canonical name = cctv1\.user\.hades\.local\./,
      tv1.stdout,
    );
    assert.match(tv1.stdout, /Name:\s+cctv1\.user\.hades\.local\nAddress: 192\.168\.10\.[123]/, tv1.stdout);
    assert.equal(tv1.code, 0);
  });
});
