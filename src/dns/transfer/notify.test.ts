/**
 * The NOTIFY sender against a loopback responder in this test (acknowledges, drops the first N,
 * answers REFUSED, signs or breaks its TSIG, answers from another port). Counts and order are
 * asserted, never durations: small coalesce/retry intervals only make the tests quick.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../../test/harness/ports.js';
import { waitFor } from '../../../test/lib/wait.js';
import type { HostPort } from '../../common/host-port.js';
import type { Logger } from '../../common/logger.js';
import { parseTsigSpec } from '../../common/tsig-key.js';
import { Opcode, RRClass, RRType } from '../wire/constants.js';
import { decode, type SoaData } from '../wire/decode.js';
import { encode } from '../wire/encode.js';
import { MAX_RETRY_MS, Notifier, type NotifierOptions, retryDelay } from './notify.js';
import { TestPrimary } from './test-primary.js';
import { appendTsigError, readTsig, TsigError, type TsigKey, TsigSigner, verifyRequest } from './tsig.js';

const SECRET = 'bm90aWZ5LXNlY3JldC1mb3ItdGVzdHM=';
const KEY = parseTsigSpec(`notify.key:hmac-sha256:${SECRET}`);

interface Seen {
  id: number;
  opcode: number;
  aa: boolean;
  question: string;
  serial: number | undefined;
  verdict: number | undefined;
}

/** A secondary's side of NOTIFY, on 127.0.0.1 (or ::1). */
class Responder {
  seen: Seen[] = [];
  /** Requests to drop before answering. */
  drop = 0;
  rcode = 0;
  /** Sign replies (and verify requests) with this key. */
  key: TsigKey | undefined;
  /** Break the MAC of signed replies. */
  breakMac = false;
  /** Answer from another socket (another port): a spoof the notifier must ignore. */
  fromOtherPort = false;
  readonly socket: dgram.Socket;
  private readonly other: dgram.Socket;

  constructor(private readonly family: 4 | 6 = 4) {
    this.socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    this.other = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
  }

  async start(): Promise<HostPort> {
    const host = this.family === 6 ? '::1' : '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(0, host, resolve);
    });
    await new Promise<void>((resolve) => this.other.bind(0, host, resolve));
    this.socket.on('message', (m, r) => this.onMessage(m, r));
    return { host, port: this.socket.address().port, family: this.family };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    await new Promise<void>((resolve) => this.other.close(() => resolve()));
  }

  serials(): (number | undefined)[] {
    return this.seen.map((s) => s.serial);
  }

  private onMessage(m: Buffer, r: dgram.RemoteInfo): void {
    const d = decode(m);
    const q = d.questions[0];
    const soa = d.answers.find((rr) => rr.type === RRType.SOA);
    const rec = readTsig(m, m.length);
    const tsig = rec !== undefined && rec !== 'formerr' ? rec : undefined;
    const verdict =
      this.key !== undefined && tsig !== undefined
        ? verifyRequest(this.key, m, m.length, tsig, Math.floor(Date.now() / 1000))
        : undefined;
    this.seen.push({
      id: d.id,
      opcode: d.opcode,
      aa: d.aa,
      question: `${q.name} ${q.type} ${q.class}`,
      serial: soa === undefined ? undefined : (soa.data as SoaData).serial,
      verdict,
    });
    if (this.drop > 0) {
      this.drop--;
      return;
    }
    const plain = encode({
      id: d.id,
      qr: true,
      opcode: Opcode.NOTIFY,
      aa: true,
      rcode: this.rcode,
      questions: [q],
    });
    const out = Buffer.alloc(plain.length + 512);
    plain.copy(out);
    let len = plain.length;
    if (this.key !== undefined && tsig !== undefined) {
      const now = Math.floor(Date.now() / 1000);
      if (verdict !== 0) {
        const k = verdict === TsigError.BADTIME ? this.key : undefined;
        len = appendTsigError(k, tsig.keyName, tsig.algorithm, out, len, tsig, verdict ?? 0, now);
      } else {
        len = new TsigSigner(this.key, tsig.mac, tsig.originalId).sign(out, len, now);
        if (this.breakMac) out[len - 10] ^= 0xff;
      }
    }
    (this.fromOtherPort ? this.other : this.socket).send(out, 0, len, r.port, r.address);
  }
}

interface Line {
  level: string;
  obj: object;
  msg?: string;
}

function logger(lines: Line[]): Logger {
  return {
    debug: (obj, msg) => lines.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => lines.push({ level: 'error', obj, msg }),
  };
}

const all: { n: Notifier; r: Responder[] }[] = [];
const allLines: Line[] = [];

async function setup(
  o: Partial<NotifierOptions> = {},
  responders = 1,
): Promise<{ n: Notifier; r: Responder[]; t: HostPort[]; lines: Line[] }> {
  const r: Responder[] = [];
  const t: HostPort[] = [];
  for (let i = 0; i < responders; i++) {
    const x = new Responder();
    t.push(await x.start());
    r.push(x);
  }
  const lines: Line[] = [];
  // no retry in a test's life unless it asks for one (retryMs: 5): exact counts hold
  const n = new Notifier({ targets: t, coalesceMs: 0, retryMs: 60_000, log: logger(lines), ...o });
  all.push({ n, r });
  return { n, r, t, lines };
}

after(async () => {
  for (const { n, r } of all) {
    await n.close();
    for (const x of r) await x.close();
  }
  // no secret in any log line of any test
  const text = JSON.stringify(allLines);
  assert.ok(!text.includes(SECRET) && !text.includes(KEY.secret.toString()), 'a secret in the log');
});

describe('retryDelay', () => {
  const cases: [number, number, number][] = [
    [2000, 0, 2000],
    [2000, 1, 4000],
    [2000, 4, 32_000],
    [2000, 5, MAX_RETRY_MS],
    [2000, 1000, MAX_RETRY_MS],
    [5, 3, 40],
  ];
  for (const [ms, attempt, want] of cases)
    it(`${ms} ms, try ${attempt} → ${want}`, () => assert.equal(retryDelay(ms, attempt), want));
});

describe('Notifier', () => {
  it('sends opcode NOTIFY, AA, <zone> SOA IN and the serial; an acknowledgement counts', async () => {
    const { n, r, t, lines } = await setup();
    n.changed('Example.COM', 5);
    await waitFor('the acknowledgement', () => n.acknowledged(t[0], 'example.com.') === 5);
    assert.deepEqual(
      r[0].seen.map(({ id: _, ...s }) => s),
      [
        {
          opcode: Opcode.NOTIFY,
          aa: true,
          question: `example.com. ${RRType.SOA} ${RRClass.IN}`,
          serial: 5,
          verdict: undefined,
        },
      ],
    );
    assert.deepEqual(n.stats, { sent: 1, acknowledged: 1, retries: 0, failed: 0 });
    assert.equal(n.acknowledged(t[0], 'EXAMPLE.com'), 5);
    assert.equal(n.acknowledged(t[0], 'other.'), undefined);
    allLines.push(...lines);
  });

  it('a burst of 1,000 changes: per target one NOTIFY at once, then one with the last serial', async () => {
    const { n, r, t, lines } = await setup({ coalesceMs: 50 }, 2);
    for (let s = 1; s <= 1000; s++) n.changed('burst.example.', s);
    for (const target of t)
      await waitFor('the last serial acknowledged', () => n.acknowledged(target, 'burst.example.') === 1000);
    for (const x of r) assert.deepEqual(x.serials(), [1, 1000]);
    // serial 1's acknowledgement counts only if it came back before 1000 left (a slow machine)
    assert.deepEqual({ ...n.stats, acknowledged: 0 }, { sent: 4, acknowledged: 0, retries: 0, failed: 0 });
    assert.ok(n.stats.acknowledged >= 2 && n.stats.acknowledged <= 4);
    allLines.push(...lines);
  });

  it('zones are independent: each its own NOTIFY', async () => {
    const { n, r, t } = await setup({ coalesceMs: 50 });
    n.changed('a.example.', 1);
    n.changed('b.example.', 2);
    await waitFor(
      'both',
      () => n.acknowledged(t[0], 'a.example.') === 1 && n.acknowledged(t[0], 'b.example.') === 2,
    );
    assert.deepEqual(r[0].seen.map((s) => s.question.split(' ')[0]).sort(), ['a.example.', 'b.example.']);
  });

  it('retries until acknowledged, each try a fresh ID', async () => {
    const { n, r, t } = await setup({ retryMs: 5 });
    r[0].drop = 3;
    n.changed('retry.example.', 7);
    await waitFor('the acknowledgement', () => n.acknowledged(t[0], 'retry.example.') === 7);
    // the 4th try is answered; a 5th may have left before its answer came back (5 ms)
    const seen = r[0].serials();
    assert.ok(seen.length >= 4, `${seen}`);
    assert.deepEqual(
      seen,
      seen.map(() => 7),
    );
    assert.equal(new Set(r[0].seen.map((s) => s.id)).size, seen.length);
    assert.deepEqual(n.stats, { sent: seen.length, acknowledged: 1, retries: seen.length - 1, failed: 0 });
  });

  it('a newer serial replaces the pending one: one outstanding per zone per target', async () => {
    const { n, r, t } = await setup({ retryMs: 5 });
    r[0].drop = Number.POSITIVE_INFINITY;
    n.changed('newer.example.', 1);
    await waitFor('a retry of serial 1', () => r[0].seen.length >= 2);
    n.changed('newer.example.', 2);
    await waitFor('serial 2 sent', () => r[0].serials().includes(2));
    r[0].drop = 0;
    await waitFor('serial 2 acknowledged', () => n.acknowledged(t[0], 'newer.example.') === 2);
    const serials = r[0].serials();
    const first2 = serials.indexOf(2);
    assert.ok(first2 >= 2);
    assert.deepEqual(
      serials.slice(first2),
      serials.slice(first2).map(() => 2),
      `serial 1 after 2: ${serials}`,
    );
    assert.deepEqual(
      serials.slice(0, first2),
      serials.slice(0, first2).map(() => 1),
    );
  });

  it('REFUSED: counted as failed, not retried, not acknowledged; the next change is sent', async () => {
    // retries every 5 ms: a REFUSED that did not stop them would show more 1s while waitFor polls
    const { n, r, t, lines } = await setup({ retryMs: 5 });
    r[0].rcode = 5;
    n.changed('refused.example.', 1);
    await waitFor('the failure', () => n.stats.failed === 1);
    assert.equal(n.acknowledged(t[0], 'refused.example.'), undefined);
    r[0].rcode = 0;
    n.changed('refused.example.', 2);
    await waitFor('serial 2 acknowledged', () => n.acknowledged(t[0], 'refused.example.') === 2);
    // tries of 1 (a try's reply counts only until the next try leaves), then only 2s
    const seen = r[0].serials();
    const first2 = seen.indexOf(2);
    assert.deepEqual(seen, [...seen.slice(0, first2).map(() => 1), ...seen.slice(first2).map(() => 2)]);
    assert.equal(n.stats.failed, 1);
    assert.equal(n.stats.acknowledged, 1);
    const warn = lines.find((l) => l.level === 'warn');
    assert.deepEqual(warn?.obj, {
      to: formatTarget(t[0]),
      zone: 'refused.example.',
      serial: 1,
      rcode: 'REFUSED',
    });
    allLines.push(...lines);
  });

  it('a reply from another port is ignored (not counted), the retry gets the real one', async () => {
    const { n, r, t } = await setup({ retryMs: 5 });
    r[0].fromOtherPort = true;
    n.changed('spoof.example.', 3);
    await waitFor('two tries', () => r[0].seen.length >= 2);
    assert.equal(n.acknowledged(t[0], 'spoof.example.'), undefined);
    r[0].fromOtherPort = false;
    await waitFor('the acknowledgement', () => n.acknowledged(t[0], 'spoof.example.') === 3);
    assert.equal(n.stats.failed, 0);
    assert.equal(n.stats.acknowledged, 1);
  });

  it('TSIG: signed NOTIFYs verify at the secondary, its signed acknowledgement counts', async () => {
    const { n, r, t, lines } = await setup({ key: KEY });
    r[0].key = KEY;
    n.changed('signed.example.', 9);
    await waitFor('the acknowledgement', () => n.acknowledged(t[0], 'signed.example.') === 9);
    assert.deepEqual(
      r[0].seen.map((s) => s.verdict),
      [0],
    );
    assert.deepEqual(n.stats, { sent: 1, acknowledged: 1, retries: 0, failed: 0 });
    allLines.push(...lines);
  });

  it('TSIG: an acknowledgement with a broken MAC, or unsigned, is failed and the NOTIFY retried', async () => {
    for (const broken of ['mac', 'unsigned'] as const) {
      const { n, r, t, lines } = await setup({ key: KEY, retryMs: 5 });
      if (broken === 'mac') {
        r[0].key = KEY;
        r[0].breakMac = true;
      }
      n.changed('badsig.example.', 4);
      await waitFor('two failures', () => n.stats.failed >= 2 && n.stats.retries >= 1);
      assert.equal(n.acknowledged(t[0], 'badsig.example.'), undefined);
      assert.equal(n.stats.acknowledged, 0);
      assert.deepEqual(
        lines.find((l) => l.level === 'warn')?.obj,
        { to: formatTarget(t[0]), zone: 'badsig.example.', serial: 4, rcode: 'NOERROR', tsig: 'BADSIG' },
        broken,
      );
      // fixed: the next try is acknowledged
      r[0].breakMac = false;
      r[0].key = KEY;
      await waitFor('the acknowledgement', () => n.acknowledged(t[0], 'badsig.example.') === 4);
      allLines.push(...lines);
    }
  });

  it('TSIG: our clock an hour off → the secondary answers BADTIME, counted as failed', async () => {
    const { n, r, t, lines } = await setup({ key: KEY, now: () => Date.now() + 3_600_000 });
    r[0].key = KEY;
    n.changed('clock.example.', 1);
    await waitFor('a failure', () => n.stats.failed >= 1);
    assert.equal(r[0].seen[0].verdict, TsigError.BADTIME);
    assert.equal(n.acknowledged(t[0], 'clock.example.'), undefined);
    const warn = lines.find((l) => l.level === 'warn')?.obj as { rcode: string; tsig: string };
    assert.deepEqual([warn.rcode, warn.tsig], ['NOTAUTH', 'BADTIME']);
    allLines.push(...lines);
  });

  it('a wrong key at the secondary → BADKEY (unsigned NOTAUTH), failed', async () => {
    const { n, r } = await setup({ key: KEY });
    r[0].key = parseTsigSpec(`other.key:hmac-sha256:${SECRET}`);
    n.changed('badkey.example.', 1);
    await waitFor('a failure', () => n.stats.failed >= 1);
    assert.equal(r[0].seen[0].verdict, TsigError.BADKEY);
  });

  it('IPv6 targets get their own socket', async (t) => {
    const x = new Responder(6);
    let target: HostPort;
    try {
      target = await x.start();
    } catch {
      t.skip('no ::1 here');
      return;
    }
    const v4 = new Responder();
    const t4 = await v4.start();
    const n = new Notifier({ targets: [target, t4], coalesceMs: 0, retryMs: 60_000, log: logger([]) });
    all.push({ n, r: [x, v4] });
    n.changed('six.example.', 6);
    await waitFor(
      'both acknowledged',
      () => n.acknowledged(target, 'six.example.') === 6 && n.acknowledged(t4, 'six.example.') === 6,
    );
  });

  it('close(): stops retries and ignores later changes', async () => {
    const { n, r } = await setup({ retryMs: 5 });
    r[0].drop = Number.POSITIVE_INFINITY;
    n.changed('close.example.', 1);
    await waitFor('a retry', () => n.stats.retries >= 1);
    await n.close();
    const sent = n.stats.sent;
    n.changed('close.example.', 2);
    assert.equal(n.stats.sent, sent);
    await n.close(); // twice is fine
  });

  it('bad options throw RangeError naming the option', () => {
    assert.throws(() => new Notifier({ targets: [], log: logger([]), retryMs: 0 }), /retryMs 0/);
    assert.throws(() => new Notifier({ targets: [], log: logger([]), coalesceMs: -1 }), /coalesceMs -1/);
  });
});

/**
 * Interop: a real Knot DNS secondary (knotd in a temp dir) of `example.` whose primary is this
 * test's TestPrimary. Our signed NOTIFY is accepted and acknowledged with a signed reply, and
 * Knot then transfers the zone from the primary, verifying the TSIG of every AXFR message.
 */
describe('Knot DNS secondary', { skip: existsSync('/usr/sbin/knotd') ? false : 'no /usr/sbin/knotd' }, () => {
  const key = parseTsigSpec(`xfr.key:hmac-sha256:${SECRET}`);
  const primary = new TestPrimary(key, 'example.');
  let dir = '';
  let knot: ChildProcess | undefined;
  let knotLog = '';
  let target: HostPort;
  const lines: Line[] = [];

  const soaSerial = async (): Promise<number> => {
    const r = await promisify(execFile)('kdig', [
      '@127.0.0.1',
      '-p',
      String(target.port),
      '+short',
      '+timeout=2',
      'example.',
      'SOA',
    ]);
    return Number(r.stdout.trim().split(/\s+/)[2]);
  };

  after(async () => {
    if (knot !== undefined && knot.exitCode === null) {
      const exited = new Promise((resolve) => knot?.once('exit', resolve));
      knot.kill('SIGTERM');
      await exited;
    }
    await primary.close();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
    allLines.push(...lines);
  });

  it('acknowledges our signed NOTIFY and transfers the new serial', async () => {
    await primary.start();
    const port = await freePort();
    target = { host: '127.0.0.1', port, family: 4 };
    dir = mkdtempSync(path.join(tmpdir(), 'hades-knot-'));
    writeFileSync(
      path.join(dir, 'knot.conf'),
      [
        'server:',
        `    rundir: "${dir}"`,
        `    listen: 127.0.0.1@${port}`,
        'database:',
        `    storage: "${dir}"`,
        'log:',
        '  - target: stderr',
        '    any: info',
        'key:',
        '  - id: xfr.key',
        '    algorithm: hmac-sha256',
        `    secret: ${SECRET}`,
        'remote:',
        '  - id: primary',
        `    address: 127.0.0.1@${primary.port}`,
        '    key: xfr.key',
        'acl:',
        '  - id: notify_from_primary',
        '    address: 127.0.0.1',
        '    key: xfr.key',
        '    action: notify',
        'template:',
        '  - id: default',
        `    storage: "${dir}"`,
        'zone:',
        '  - domain: example.',
        '    master: primary',
        '    acl: notify_from_primary',
        '',
      ].join('\n'),
    );
    knot = spawn('/usr/sbin/knotd', ['-c', path.join(dir, 'knot.conf')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    knot.stderr?.on('data', (d: Buffer) => {
      knotLog += d.toString();
    });
    const diag = () => knotLog;
    // knotd bootstraps the zone from the primary at start (serial 7)
    await waitFor('knotd serving serial 7', async () => (await soaSerial()) === 7, 30_000, { diag });
    primary.serial = 8;
    const before = primary.requests.length;
    const n = new Notifier({ targets: [target], key, log: logger(lines) });
    all.push({ n, r: [] });
    n.changed('example.', 8);
    await waitFor('the acknowledgement', () => n.acknowledged(target, 'example.') === 8, 30_000, { diag });
    await waitFor('knotd serving serial 8', async () => (await soaSerial()) === 8, 30_000, { diag });
    assert.deepEqual(n.stats, { sent: 1, acknowledged: 1, retries: 0, failed: 0 });
    assert.match(knotLog, /\[example\.\] notify, incoming, remote 127\.0\.0\.1@\d+, serial 8/);
    assert.match(
      knotLog,
      /\[example\.\] AXFR, incoming, remote 127\.0\.0\.1@\d+, finished, [\d.]+ seconds, 4 messages/,
    );
    assert.match(knotLog, /serial 7 -> 8/);
    // after the NOTIFY Knot asked for the SOA and a transfer; every request of it was signed and verified
    assert.ok(
      primary.requests.slice(before).some((r) => r.startsWith('252 ') || r.startsWith('251 ')),
      `${primary.requests}`,
    );
    assert.deepEqual(
      primary.verdicts,
      primary.verdicts.map(() => 0),
    );
    await n.close();
  });

  it('with another key, Knot answers NOTAUTH (unsigned BADKEY): counted as failed', async () => {
    const other = parseTsigSpec(`other.key:hmac-sha256:${SECRET}`);
    const n = new Notifier({ targets: [target], key: other, log: logger(lines) });
    all.push({ n, r: [] });
    n.changed('example.', 9);
    await waitFor('a failure', () => n.stats.failed >= 1, 30_000, { diag: () => knotLog });
    assert.equal(n.acknowledged(target, 'example.'), undefined);
    const warn = lines.find((l) => l.level === 'warn')?.obj as { rcode: string; tsig: string };
    assert.deepEqual([warn.rcode, warn.tsig], ['NOTAUTH', 'BADKEY']);
    await n.close();
  });
});

function formatTarget(t: HostPort): string {
  return t.family === 6 ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}
