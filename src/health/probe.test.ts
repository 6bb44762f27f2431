/**
 * The legacy checks with reasons (`tcpCheck`, `icmpCheck`), on loopback; ping's other outcomes through stand-in ping programs.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../../test/harness/ports.js';
import { ConnectionCount, close, listen } from '../../test/lib/probe-servers.js';
import { waitFor } from '../../test/lib/wait.js';
import { errorCode, icmpCheck, Limiter, type ProbeResult, tcpCheck, timeoutResult } from './probe.js';

let open = 0;
let count: ConnectionCount;
let listener: net.Server;
let closed = 0;
let dir = '';

/** A stand-in ping: a shell script that prints to stderr and exits with `code`. */
function fakePing(name: string, code: number, stderr = ''): string {
  const f = path.join(dir, name);
  writeFileSync(f, `#!/bin/sh\n${stderr ? `echo '${stderr}' >&2\n` : ''}exit ${code}\n`);
  chmodSync(f, 0o755);
  return f;
}

before(async () => {
  listener = net.createServer((s) => s.on('error', () => {}));
  count = new ConnectionCount().track(listener);
  open = await listen(listener);
  closed = await freePort();
  dir = mkdtempSync(path.join(tmpdir(), 'hades-probe-ping-'));
});

after(async () => {
  await close(listener);
  rmSync(dir, { recursive: true, force: true });
});

describe('tcpCheck', () => {
  it('reasons', async () => {
    const cases: [name: string, port: () => number, want: ProbeResult][] = [
      ['a listener', () => open, { ok: true, reason: 'connected', class: 'ok' }],
      ['a closed port', () => closed, { ok: false, reason: 'connect ECONNREFUSED', class: 'connect' }],
      ['port 70000', () => 70000, { ok: false, reason: 'connect ERR_SOCKET_BAD_PORT', class: 'connect' }],
    ];
    for (const [name, port, want] of cases)
      assert.deepEqual(await tcpCheck('127.0.0.1', port(), 2000), want, name);
  });

  it('closes each connection it made', async () => {
    const first = count.opened;
    const results = await Promise.all(Array.from({ length: 50 }, () => tcpCheck('127.0.0.1', open, 2000)));
    assert.ok(results.every((r) => r.ok));
    // the listener accepts in this same process, after the checks have seen their connections
    await waitFor('50 connections accepted', () => count.opened - first === 50);
    await waitFor('every connection closed', () => count.open === 0);
  });

  it('timeoutResult formats the seconds as given', () => {
    const cases: [number, string][] = [
      [1000, 'timeout after 1s'],
      [500, 'timeout after 0.5s'],
      [1500, 'timeout after 1.5s'],
      [2000, 'timeout after 2s'],
      [250, 'timeout after 0.25s'],
    ];
    for (const [ms, want] of cases)
      assert.deepEqual(timeoutResult(ms), { ok: false, reason: want, class: 'timeout' });
  });

  it('errorCode: the code, else the message', () => {
    assert.equal(errorCode(Object.assign(new Error('x'), { code: 'ECONNRESET' })), 'ECONNRESET');
    assert.equal(errorCode(new Error('boom')), 'boom');
    assert.equal(errorCode('text'), 'text');
    assert.equal(errorCode(null), 'null');
  });
});

describe('icmpCheck', () => {
  it('loopback answers: echo reply', async () => {
    assert.deepEqual(await icmpCheck('127.0.0.1', { count: 1, timeoutMs: 1000 }), {
      ok: true,
      reason: 'echo reply',
      class: 'ok',
    });
  });

  it('what ping says, through stand-in programs', async () => {
    const cases: [name: string, binary: () => string, want: ProbeResult][] = [
      ['exit 0', () => fakePing('ok.sh', 0), { ok: true, reason: 'echo reply', class: 'ok' }],
      [
        'exit 1: no reply',
        () => fakePing('none.sh', 1),
        { ok: false, reason: 'no echo reply', class: 'icmp' },
      ],
      [
        'exit 2: an error, its first line',
        () => fakePing('err.sh', 2, 'ping: 10.0.0.1: Address family not supported'),
        { ok: false, reason: 'ping: ping: 10.0.0.1: Address family not supported', class: 'error' },
      ],
      [
        'no such program',
        () => path.join(dir, 'missing'),
        { ok: false, reason: 'ping: ENOENT', class: 'error' },
      ],
    ];
    for (const [name, binary, want] of cases)
      assert.deepEqual(
        await icmpCheck('127.0.0.1', { count: 1, timeoutMs: 1000, binary: binary() }),
        want,
        name,
      );
  });
});

describe('Limiter', () => {
  it('at most max at once, in order', async () => {
    const lim = new Limiter(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    const gates: (() => void)[] = [];
    const jobs = Array.from({ length: 6 }, (_, i) =>
      lim.run(async () => {
        running++;
        most = Math.max(most, running);
        order.push(i);
        await new Promise<void>((r) => gates.push(r));
        running--;
        return i;
      }),
    );
    await waitFor('two running', () => gates.length === 2);
    while (gates.length < 6) {
      const n = gates.length;
      gates[n - 2]();
      await waitFor('the next one running', () => gates.length === n + 1);
    }
    for (const g of gates) g();
    assert.deepEqual(await Promise.all(jobs), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
    assert.equal(most, 2);
  });
});
