/**
 * `-workers 2`: two processes share the sockets, each with its own catalog on the same etcd.
 * Many queries over UDP and TCP get the same answer set whichever worker replies; a killed worker
 * is restarted while the other keeps answering; a record change reaches every worker; SIGTERM to
 * the primary stops them all with status 0; a fatal start-up error is not restarted forever.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { RRType, typeName } from '../../src/dns/wire/constants.js';
import { decode } from '../../src/dns/wire/decode.js';
import { encodeQuery } from '../../src/dns/wire/encode.js';
import type { Store } from '../../src/store/types.js';
import { dig, digStatus, frame, parseDig, rrset, TcpClient, udpQuery, waitFor } from './clients.js';
import {
  type EtcdHades,
  freeDnsPort,
  type HadesProc,
  spawnHades,
  startEtcdHades,
  startHades,
} from './hades-proc.js';

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** How many of the primary's log lines say `msg`. */
function logged(h: HadesProc, msg: string): number {
  return h
    .stderr()
    .split('\n')
    .filter((l) => l.includes(msg)).length;
}

function listening(h: HadesProc): number {
  return logged(h, 'hades: worker listening');
}

/**
 * Waits until the primary has seen `pid` die (its log line, the `died`th such) and reaped it: from
 * then on its sockets are closed and the primary deals it no more TCP connections. Until then a
 * UDP query the kernel puts on its SO_REUSEPORT socket, or a connection the primary hands it, is
 * lost with it: that is what a killed process does, not something the survivor could answer.
 */
async function waitGone(h: HadesProc, pid: number, died: number): Promise<void> {
  await waitFor(
    `the primary to see worker ${pid} die`,
    () => logged(h, 'hades: worker died') >= died && !alive(pid),
    30_000,
    {
      diag: () => h.stderr().slice(-3000),
    },
  );
}

/** The answer set of one UDP or TCP query, as sorted "TYPE data" strings. */
async function answerSet(
  port: number,
  name: string,
  type: number,
  tcp: boolean,
  id: number,
): Promise<string> {
  const q = encodeQuery({ id, name, type });
  let reply: Buffer;
  if (tcp) {
    const c = await TcpClient.connect(port);
    await c.write(frame(q));
    reply = (await c.waitFrames(1))[0];
    c.destroy();
  } else reply = await udpQuery(port, q);
  const m = decode(reply);
  assert.equal(m.id, id);
  return m.answers
    .map((a) => `${typeName(a.type)} ${typeof a.data === 'string' ? a.data : JSON.stringify(a.data)}`)
    .sort()
    .join(', ');
}

describe('hades -workers 2', () => {
  let fx: EtcdHades;
  let store: Store;
  let h: HadesProc;
  let port: number;

  before(async () => {
    fx = await startEtcdHades(['-select', 'all', '-workers', '2']);
    ({ store, hades: h, port } = fx);
    await waitFor('both workers listening', () => listening(h) >= 2);
  });
  after(async () => {
    await h?.stop('SIGKILL');
    for (const pid of children(h?.pid ?? 0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await fx?.stop();
  });

  it('runs two worker processes', () => {
    assert.equal(children(h.pid).length, 2);
  });

  it('answers identically whichever worker replies (UDP and TCP, many queries)', async () => {
    const names: [string, number][] = [
      ['multi.hades.local.', RRType.A],
      ['_http._tcp.svc.hades.local.', RRType.SRV],
      ['alias2.hades.local.', RRType.A],
    ];
    for (const [name, type] of names) {
      const seen = new Set<string>();
      for (let i = 0; i < 150; i++) seen.add(await answerSet(port, name, type, false, i));
      // a new TCP connection each time: the primary deals them round-robin to the workers
      for (let i = 0; i < 40; i++) seen.add(await answerSet(port, name, type, true, 1000 + i));
      assert.equal(seen.size, 1, `${name}: ${[...seen].join(' | ')}`);
    }
    assert.equal(await answerSet(port, 'multi.hades.local.', RRType.A, false, 1), 'A 10.0.1.1, A 10.0.1.3');
  });

  it('a record change reaches every worker', async () => {
    await store.put('/hades/local/hades/multi/d', '{"host":"10.0.1.4"}');
    const want = 'A 10.0.1.1, A 10.0.1.3, A 10.0.1.4';
    await waitFor('the change in 30 answers in a row', async () => {
      for (let i = 0; i < 30; i++)
        if ((await answerSet(port, 'multi.hades.local.', RRType.A, i % 3 === 0, i)) !== want) return false;
      return true;
    });
  });

  it('restarts a worker that dies; the other answers meanwhile', async () => {
    const before = children(h.pid);
    const victim = before[0];
    process.kill(victim, 'SIGKILL');
    await waitGone(h, victim, 1);
    // the survivor answers while the primary restarts the victim
    for (let i = 0; i < 20; i++) {
      const r = await dig(port, ['+tcp', 'web.hades.local', 'A']);
      assert.equal(digStatus(r.stdout), 'NOERROR', r.stdout);
    }
    await waitFor('a replacement worker', () => {
      const now = children(h.pid);
      return now.length === 2 && !now.includes(victim);
    });
    await waitFor('the replacement listening', () => listening(h) >= 3);
    // and now kill the other original: the replacement alone answers
    process.kill(before[1], 'SIGKILL');
    await waitGone(h, before[1], 2);
    const r = parseDig((await dig(port, ['web.hades.local', 'A'])).stdout);
    assert.deepEqual(rrset(r.answer), ['A 10.0.0.1']);
    await waitFor('two workers again', () => listening(h) >= 4 && children(h.pid).length === 2);
  });

  it('SIGTERM to the primary stops every worker, exit status 0', async () => {
    const workers = children(h.pid);
    assert.equal(await h.stop('SIGTERM'), 0, h.stderr().slice(-3000));
    for (const pid of workers) assert.equal(alive(pid), false, `worker ${pid} still alive`);
  });
});

describe('hades -workers 2 with a fatal start-up error', () => {
  it('stops (status 2, one line naming -addr) instead of restarting forever', async () => {
    const port = await freeDnsPort();
    const { mkdtemp, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hades-workers-'));
    const first = await startHades(['-addr', `127.0.0.1:${port}`, '-data-dir', path.join(dir, 'a')], port);
    try {
      const second = spawnHades([
        '-addr',
        `127.0.0.1:${port}`,
        '-data-dir',
        path.join(dir, 'b'),
        '-workers',
        '2',
      ]);
      assert.equal(await second.exited, 2, second.stderr());
      assert.match(second.stderr(), /^hades: -addr 127\.0\.0\.1:\d+: address already in use$/m);
    } finally {
      await first.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
