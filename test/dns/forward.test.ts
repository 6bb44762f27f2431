/**
 * Forwarding in the running server: the real `hades` binary on a real etcd, with -nameservers
 * (and -stub) pointing at tiny upstream DNS servers this test runs on 127.0.0.1. Every query of
 * this file goes to loopback: -nameservers is always given, so /etc/resolv.conf is never read for
 * upstreams.
 *
 * - a name outside -domain is answered through the upstream (UDP and TCP, RA set);
 * - an in-zone CNAME to an out-of-zone name: our CNAME, then the upstream's address (AA, in
 *   order); over TCP, pipelined with local names, replies stay in request order;
 * - -stub sends its zone to its own upstream;
 * - -nameservers = our own -addr: exit 2 with one line naming -nameservers (and -stub likewise);
 * - a dead upstream: SERVFAIL within the deadline; our CNAME alone for an out-of-zone target;
 * - -nameservers none: REFUSED, nothing forwarded.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RRType } from '../../src/dns/wire/constants.js';
import { decode } from '../../src/dns/wire/decode.js';
import { encodeQuery } from '../../src/dns/wire/encode.js';
import { openEmbeddedStore } from '../../src/store/embedded/embedded.js';
import { dig, frame, parseDig, rrset, TcpClient } from './clients.js';
import { type EtcdHades, freeDnsPort, spawnHades, startEtcdHades, startHades } from './hades-proc.js';
import { loadRecords, ZONES } from './records.js';
import { type FakeUpstream, startUpstream } from './upstream.js';

/** What the live upstream knows (documentation addresses: data only). */
const UPSTREAM_A: Record<string, string> = {
  'www.example.com.': '192.0.2.80',
  'other.example.org.': '198.51.100.7',
};

describe('hades forwarding through loopback upstreams', () => {
  let fx: EtcdHades;
  let up: FakeUpstream;
  let stub: FakeUpstream;
  let port: number;

  before(async () => {
    up = await startUpstream({
      delayMs: 30, // slower than local answers, so pipelined TCP replies would overtake if allowed
      answer: (q) => {
        const ip = UPSTREAM_A[q.name.toLowerCase()];
        if (ip === undefined) return { rcode: 3 };
        if (q.type !== RRType.A) return {};
        return { answers: [{ name: q.name, type: RRType.A, ttl: 300, data: ip }] };
      },
    });
    stub = await startUpstream({
      answer: (q) => ({ answers: [{ name: q.name, type: RRType.A, ttl: 60, data: '203.0.113.9' }] }),
    });
    // the test records: ext.hades.local. is a CNAME to www.example.com.
    fx = await startEtcdHades([
      '-nameservers',
      up.address,
      '-stub',
      `corp.test=${stub.address}`,
      '-logtostderr',
    ]);
    ({ port } = fx);
  });

  after(async () => {
    await fx?.stop();
    await up?.close();
    await stub?.close();
  });

  it('answers a name outside -domain through the upstream, over UDP and TCP, with RA', async () => {
    for (const transport of ['+notcp', '+tcp']) {
      const r = parseDig((await dig(port, [transport, 'www.example.com', 'A'])).stdout);
      assert.equal(r.status, 'NOERROR', transport);
      assert.deepEqual(rrset(r.answer), ['A 192.0.2.80'], transport);
      assert.ok(r.flags.includes('ra'), `RA on a forwarded answer: ${r.flags}`);
      assert.ok(!r.flags.includes('aa'), 'not authoritative for it');
    }
    assert.ok(up.seen.includes(`www.example.com. ${RRType.A} udp`), up.seen.join(', '));
    assert.ok(up.seen.includes(`www.example.com. ${RRType.A} tcp`), up.seen.join(', '));
    const nx = parseDig((await dig(port, ['nothing.example.net', 'A'])).stdout);
    assert.equal(nx.status, 'NXDOMAIN');
  });

  it('completes an in-zone CNAME to an out-of-zone name: the CNAME, then the upstream address', async () => {
    for (const transport of ['+notcp', '+tcp']) {
      const r = parseDig((await dig(port, [transport, 'ext.hades.local', 'A'])).stdout);
      assert.equal(r.status, 'NOERROR', transport);
      assert.deepEqual(
        r.answer.map((a) => `${a.name} ${a.type} ${a.data}`),
        ['ext.hades.local. CNAME www.example.com.', 'www.example.com. A 192.0.2.80'],
        transport,
      );
      assert.ok(r.flags.includes('aa'), 'our name: authoritative');
      assert.ok(!r.flags.includes('ra'), 'authoritative data: RA off');
    }
  });

  it('keeps pipelined TCP replies in request order around a completed CNAME', async () => {
    const c = await TcpClient.connect(port);
    try {
      const names: [number, string][] = [
        [101, 'ext.hades.local.'],
        [102, 'web.hades.local.'],
        [103, 'www.example.com.'],
        [104, 'web.hades.local.'],
        [105, 'ext.hades.local.'],
      ];
      await c.write(
        Buffer.concat(names.map(([id, name]) => frame(encodeQuery({ id, name, type: RRType.A })))),
      );
      const frames = await c.waitFrames(names.length);
      assert.deepEqual(
        frames.map((f) => decode(f).id),
        names.map(([id]) => id),
      );
      const ext = decode(frames[0]);
      assert.deepEqual(
        ext.answers.map((a) => a.data),
        ['www.example.com.', '192.0.2.80'],
      );
      assert.deepEqual(
        decode(frames[1]).answers.map((a) => a.data),
        ['10.0.0.1'],
      );
    } finally {
      c.destroy();
    }
  });

  it('sends a -stub zone to its own upstream', async () => {
    const r = parseDig((await dig(port, ['host.corp.test', 'A'])).stdout);
    assert.equal(r.status, 'NOERROR');
    assert.deepEqual(rrset(r.answer), ['A 203.0.113.9']);
    assert.ok(stub.seen.some((s) => s.startsWith('host.corp.test. ')));
    assert.ok(!up.seen.some((s) => s.includes('corp.test')));
  });
});

describe('hades forwarding: loops and dead upstreams', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-forward-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start when -nameservers is its own -addr: exit 2, one line naming -nameservers', async () => {
    const port = await freeDnsPort();
    const cases: [string[], RegExp][] = [
      [
        ['-nameservers', `127.0.0.1:${port}`],
        new RegExp(`^hades: -nameservers: 127\\.0\\.0\\.1:${port} is this server's own address .*loop\\n$`),
      ],
      [
        ['-nameservers', '127.0.0.1:9', '-stub', `corp.test=127.0.0.1:${port}`],
        new RegExp(
          `^hades: -stub corp\\.test\\.: 127\\.0\\.0\\.1:${port} is this server's own address .*loop\\n$`,
        ),
      ],
    ];
    for (const [extra, msg] of cases) {
      const h = spawnHades(['-addr', `127.0.0.1:${port}`, '-data-dir', path.join(dir, 'loop'), ...extra]);
      const code = await h.exited;
      assert.equal(code, 2, h.stderr());
      assert.match(h.stderr(), msg);
    }
  });

  it('-nameservers none: no forwarding, names outside -domain get REFUSED and CNAME targets stay open', async () => {
    const port = await freeDnsPort();
    const dataDir = path.join(dir, 'none');
    const local = await openEmbeddedStore({ dir: dataDir });
    await loadRecords(local);
    await local.close();
    const h = await startHades(
      ['-addr', `127.0.0.1:${port}`, '-data-dir', dataDir, '-domain', ZONES, '-nameservers', 'none'],
      port,
    );
    try {
      assert.equal(parseDig((await dig(port, ['www.example.com', 'A'])).stdout).status, 'REFUSED');
      const ext = parseDig((await dig(port, ['ext.hades.local', 'A'])).stdout);
      assert.equal(ext.status, 'NOERROR');
      assert.deepEqual(rrset(ext.answer), ['CNAME www.example.com.']);
    } finally {
      assert.equal(await h.stop(), 0, h.stderr());
    }
  });

  it('a dead upstream: SERVFAIL within the deadline, and our CNAME alone for an out-of-zone target', async () => {
    const silent = await startUpstream({ answer: () => null }); // takes queries, never answers
    const port = await freeDnsPort();
    const dataDir = path.join(dir, 'dead');
    const local = await openEmbeddedStore({ dir: dataDir });
    await loadRecords(local);
    await local.close();
    const h = await startHades(
      [
        '-addr',
        `127.0.0.1:${port}`,
        '-data-dir',
        dataDir,
        '-domain',
        ZONES,
        '-nameservers',
        silent.address,
        '-read_timeout',
        '300ms',
      ],
      port,
    );
    try {
      // dig waits longer than the forwarder's 5 s deadline: an answer, not a client timeout
      for (const transport of ['+notcp', '+tcp']) {
        const r = parseDig((await dig(port, [transport, '+time=8', 'www.example.com', 'A'])).stdout);
        assert.equal(r.status, 'SERVFAIL', transport);
      }
      const ext = parseDig((await dig(port, ['+time=8', 'ext.hades.local', 'A'])).stdout);
      assert.equal(ext.status, 'NOERROR');
      assert.deepEqual(rrset(ext.answer), ['CNAME www.example.com.']);
      assert.ok(silent.seen.length >= 3, `the upstream was asked: ${silent.seen.join(', ')}`);
    } finally {
      assert.equal(await h.stop(), 0, h.stderr());
      await silent.close();
    }
  });
});
