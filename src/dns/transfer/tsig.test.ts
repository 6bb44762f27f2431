/**
 * TSIG: tables of verification outcomes, the -tsig spec, the TSIG reader; and interop with two
 * independent implementations: kdig (Knot) and dig (BIND) query a loopback server in this test
 * that verifies with verifyRequest and signs with TsigSigner (one answer; a multi-message AXFR).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseTsigSpec, TSIG_ALGORITHMS } from '../../common/tsig-key.js';
import { RRClass, RRType } from '../wire/constants.js';
import { decode } from '../wire/decode.js';
import { encode, type RRInput } from '../wire/encode.js';
import { type Corrupt, TestPrimary } from './test-primary.js';
import {
  appendTsigError,
  FUDGE,
  readTsig,
  signRequest,
  type TsigAlgorithm,
  TsigError,
  type TsigKey,
  TsigSigner,
  verifyRequest,
  verifyResponse,
} from './tsig.js';

const run = promisify(execFile);
const SECRET = 'c2VjcmV0LWtleS1mb3ItaGFkZXMtdHNpZy10ZXN0cyE='; // "secret-key-for-hades-tsig-tests!"
const KEY: TsigKey = parseTsigSpec(`xfr.key.:hmac-sha256:${SECRET}`);
const NOW = 1_780_000_000;

function keyOf(algorithm: TsigAlgorithm, secret = SECRET, name = 'xfr.key.'): TsigKey {
  return { name, algorithm, secret: Buffer.from(secret, 'base64') };
}

/** A query with room for a TSIG. */
function query(
  id = 0x1234,
  name = 'www.example.',
  type = RRType.A,
  additionals: RRInput[] = [],
): { buf: Buffer; len: number } {
  const m = encode({ id, rd: true, questions: [{ name, type, class: RRClass.IN }], additionals });
  const buf = Buffer.alloc(m.length + 512);
  m.copy(buf);
  return { buf, len: m.length };
}

function signedQuery(key: TsigKey, now = NOW, id = 0x1234): { buf: Buffer; len: number; mac: Buffer } {
  const q = query(id);
  const s = signRequest(key, q.buf, q.len, now);
  return { buf: q.buf, len: s.length, mac: s.mac };
}

function reqRecord(buf: Buffer, len: number) {
  const rec = readTsig(buf, len);
  assert.ok(rec !== undefined && rec !== 'formerr', `a TSIG: ${String(rec)}`);
  return rec;
}

describe('verifyRequest', () => {
  for (const algorithm of TSIG_ALGORITHMS) {
    it(`${algorithm}: a signed request verifies, and its reply`, () => {
      const key = keyOf(algorithm);
      const q = signedQuery(key);
      const rec = reqRecord(q.buf, q.len);
      assert.equal(rec.keyName, 'xfr.key.');
      assert.equal(verifyRequest(key, q.buf, q.len, rec, NOW + 10), 0);
      // the reply: same ID, QR
      const r = query(0x1234);
      r.buf[2] |= 0x80;
      const len = new TsigSigner(key, rec.mac, rec.originalId).sign(r.buf, r.len, NOW);
      assert.ok(len > r.len);
      assert.equal(verifyResponse(key, r.buf, len, q.mac, NOW), 0);
      assert.equal(decode(r.buf, len).additionals.length, 1);
    });
  }

  const q = signedQuery(KEY);
  const cases: { what: string; key: TsigKey; now?: number; want: number }[] = [
    { what: 'the right key', key: KEY, want: 0 },
    { what: 'another key name', key: keyOf('hmac-sha256', SECRET, 'other.key.'), want: TsigError.BADKEY },
    { what: 'another algorithm', key: keyOf('hmac-sha512'), want: TsigError.BADKEY },
    { what: 'another secret', key: keyOf('hmac-sha256', 'b3RoZXI='), want: TsigError.BADSIG },
    { what: 'at the fudge', key: KEY, now: NOW + FUDGE, want: 0 },
    { what: 'past the fudge', key: KEY, now: NOW + FUDGE + 1, want: TsigError.BADTIME },
    { what: 'before the fudge', key: KEY, now: NOW - FUDGE - 1, want: TsigError.BADTIME },
  ];
  for (const c of cases) {
    it(`${c.what} → ${c.want}`, () => {
      assert.equal(verifyRequest(c.key, q.buf, q.len, reqRecord(q.buf, q.len), c.now ?? NOW), c.want);
    });
  }

  it('any changed octet of the message or the TSIG → not verified (the ID aside: the original ID is signed)', () => {
    for (let i = 2; i < q.len; i++) {
      const b = Buffer.from(q.buf);
      b[i] ^= 0x01;
      const rec = readTsig(b, q.len);
      if (rec === undefined || rec === 'formerr') continue; // a count or a length broken
      const got = verifyRequest(KEY, b, q.len, rec, NOW);
      assert.ok(got !== 0, `octet ${i} changed, still verified`);
    }
  });

  it('a truncated MAC is refused (BADSIG)', () => {
    const b = Buffer.from(q.buf);
    const rec = reqRecord(b, q.len);
    assert.equal(
      verifyRequest(KEY, b, q.len, { ...rec, mac: rec.mac.subarray(0, 16) }, NOW),
      TsigError.BADSIG,
    );
    assert.equal(
      verifyRequest(KEY, b, q.len, { ...rec, mac: rec.mac.subarray(0, 8) }, NOW),
      TsigError.BADSIG,
    );
  });
});

describe('readTsig', () => {
  const key = KEY;
  const q = signedQuery(key);
  const tsigAt = reqRecord(q.buf, q.len).offset;
  assert.ok(tsigAt > 12);

  it('none → undefined; the record as signed', () => {
    const plain = query();
    assert.equal(readTsig(plain.buf, plain.len), undefined);
    const rec = reqRecord(q.buf, q.len);
    assert.equal(rec.algorithm, 'hmac-sha256.');
    assert.equal(rec.timeSigned, NOW);
    assert.equal(rec.fudge, FUDGE);
    assert.equal(rec.originalId, 0x1234);
    assert.equal(rec.error, 0);
    assert.equal(rec.mac.length, 32);
    assert.equal(rec.otherData.length, 0);
  });

  it('every cut short message → formerr', () => {
    for (let n = 0; n < q.len; n++) assert.equal(readTsig(q.buf, n), 'formerr', `cut at ${n}`);
  });

  it('a TSIG that is not last, two TSIGs, a TSIG in the answer → formerr', () => {
    const tsig = Buffer.from(q.buf.subarray(tsigAt, q.len));
    const withOpt = (before: boolean): Buffer => {
      const m = query();
      const opt = encode({ edns: { udpSize: 1232 } }).subarray(12); // the OPT RR alone
      const body = before ? Buffer.concat([tsig, opt]) : Buffer.concat([opt, tsig]);
      const out = Buffer.concat([m.buf.subarray(0, m.len), body]);
      out.writeUInt16BE(2, 10);
      return out;
    };
    assert.equal(readTsig(withOpt(true), withOpt(true).length), 'formerr');
    assert.notEqual(readTsig(withOpt(false), withOpt(false).length), 'formerr');
    const two = Buffer.concat([q.buf.subarray(0, q.len), tsig]);
    two.writeUInt16BE(2, 10);
    assert.equal(readTsig(two, two.length), 'formerr');
    const inAnswer = Buffer.from(q.buf.subarray(0, q.len));
    inAnswer.writeUInt16BE(1, 6);
    inAnswer.writeUInt16BE(0, 10);
    assert.equal(readTsig(inAnswer, inAnswer.length), 'formerr');
  });

  it('malformed RDATA, class or TTL → formerr', () => {
    const rec = reqRecord(q.buf, q.len);
    const ownerEnd = rec.offset + 'xfr.key.'.length + 1;
    const mutate = (at: number, value: number, size: 1 | 2): Buffer => {
      const b = Buffer.from(q.buf.subarray(0, q.len));
      if (size === 1) b[at] = value;
      else b.writeUInt16BE(value, at);
      return b;
    };
    const rdlenAt = ownerEnd + 8;
    const rdlen = q.buf.readUInt16BE(rdlenAt);
    const macLenAt = ownerEnd + 10 + 'hmac-sha256.'.length + 1 + 8;
    const cases: [string, Buffer][] = [
      ['class IN', mutate(ownerEnd + 2, RRClass.IN, 2)],
      ['TTL 1', mutate(ownerEnd + 7, 1, 1)],
      ['RDLENGTH one short', mutate(rdlenAt, rdlen - 1, 2)],
      ['MAC size past the RDATA', mutate(macLenAt, 200, 2)],
      ['other length past the RDATA', mutate(q.len - 1, 1, 1)],
      ['algorithm name compressed', mutate(ownerEnd + 10, 0xc0, 1)],
    ];
    for (const [what, b] of cases) assert.equal(readTsig(b, b.length), 'formerr', what);
  });
});

describe('appendTsigError', () => {
  const q = signedQuery(KEY);
  const rec = reqRecord(q.buf, q.len);
  for (const error of [TsigError.BADKEY, TsigError.BADSIG]) {
    it(`${error}: NOTAUTH, unsigned, names echoed`, () => {
      const r = query(0x1234);
      r.buf[2] |= 0x80;
      const len = appendTsigError(undefined, rec.keyName, rec.algorithm, r.buf, r.len, rec, error, NOW);
      const back = reqRecord(r.buf, len);
      assert.equal(r.buf[3] & 0x0f, 9);
      assert.equal(back.error, error);
      assert.equal(back.mac.length, 0);
      assert.equal(back.keyName, 'xfr.key.');
      assert.equal(verifyResponse(KEY, r.buf, len, q.mac, NOW), error);
    });
  }
  it('BADTIME: signed, our time in other data, time signed the request’s', () => {
    const r = query(0x1234);
    r.buf[2] |= 0x80;
    const len = appendTsigError(
      KEY,
      rec.keyName,
      rec.algorithm,
      r.buf,
      r.len,
      rec,
      TsigError.BADTIME,
      NOW + 4000,
    );
    const back = reqRecord(r.buf, len);
    assert.equal(back.error, TsigError.BADTIME);
    assert.equal(back.timeSigned, NOW);
    assert.equal(back.otherData.readUIntBE(0, 6), NOW + 4000);
    assert.equal(verifyResponse(KEY, r.buf, len, q.mac, NOW), TsigError.BADTIME);
    // a wrong request MAC: not ours
    assert.equal(verifyResponse(KEY, r.buf, len, Buffer.alloc(32), NOW), TsigError.BADSIG);
  });
  it('no room → -1', () => {
    const m = encode({ id: 1, qr: true, questions: [{ name: 'a.', type: 1, class: 1 }] });
    assert.equal(
      appendTsigError(undefined, rec.keyName, rec.algorithm, m, m.length, rec, TsigError.BADKEY, NOW),
      -1,
    );
    assert.equal(signRequest(KEY, m, m.length, NOW).length, -1);
    assert.equal(new TsigSigner(KEY, rec.mac, 1).sign(m, m.length, NOW), -1);
  });
});

describe('verifyResponse', () => {
  it('unsigned reply, another key, a stale reply → BADSIG, BADKEY, BADTIME', () => {
    const q = signedQuery(KEY);
    const r = query(0x1234);
    assert.equal(verifyResponse(KEY, r.buf, r.len, q.mac, NOW), TsigError.BADSIG);
    const other = keyOf('hmac-sha256', SECRET, 'other.key.');
    const len = new TsigSigner(other, q.mac, 0x1234).sign(r.buf, r.len, NOW);
    assert.equal(verifyResponse(KEY, r.buf, len, q.mac, NOW), TsigError.BADKEY);
    const s = query(0x1234);
    const slen = new TsigSigner(KEY, q.mac, 0x1234).sign(s.buf, s.len, NOW);
    assert.equal(verifyResponse(KEY, s.buf, slen, q.mac, NOW + 301), TsigError.BADTIME);
  });
});

async function tool(cmd: string, args: string[]): Promise<{ out: string; code: number }> {
  try {
    const r = await run(cmd, args, { timeout: 20_000 });
    return { out: r.stdout + r.stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return {
      out: (err.stdout ?? '') + (err.stderr ?? ''),
      code: typeof err.code === 'number' ? err.code : -1,
    };
  }
}

describe('interop: kdig and dig verify our signatures', () => {
  const server = new TestPrimary(KEY);
  const y = `hmac-sha256:xfr.key:${SECRET}`;
  before(() => server.start());
  after(() => server.close());

  const kdig = (...args: string[]) =>
    tool('kdig', ['-y', y, '@127.0.0.1', '-p', String(server.port), '+timeout=5', '+retry=0', ...args]);
  const dig = (...args: string[]) =>
    tool('dig', ['-y', y, '@127.0.0.1', '-p', String(server.port), '+time=5', '+tries=1', ...args]);

  // what each tool prints when a reply's TSIG fails (seen by breaking the MAC on purpose)
  // kdig: one message `;; WARNING: reply verification for 127.0.0.1@P(UDP) (failed to verify TSIG)`;
  // the first message of a transfer the same as an ERROR (and it stops), a later one
  // `;; WARNING -- Some TSIG could not be validated`. dig: `;; Couldn't verify signature: tsig verify failure`
  const KDIG_BAD =
    /;; WARNING: reply verification for 127\.0\.0\.1@\d+\((UDP|TCP)\) \(failed to verify TSIG\)/;
  const KDIG_BAD_XFR =
    /;; ERROR: reply verification for 127\.0\.0\.1@\d+\(TCP\) \(failed to verify TSIG\)|;; WARNING -- Some TSIG could not be validated/;
  const DIG_BAD = /;; Couldn't verify signature: tsig verify failure/;

  const cases: {
    what: string;
    corrupt: Corrupt;
    cmd: () => Promise<{ out: string; code: number }>;
    bad: RegExp;
    records: number;
  }[] = [
    { what: 'kdig, UDP', corrupt: 'none', cmd: () => kdig('www.example.', 'A'), bad: KDIG_BAD, records: 1 },
    {
      what: 'kdig, TCP',
      corrupt: 'none',
      cmd: () => kdig('+tcp', 'www.example.', 'A'),
      bad: KDIG_BAD,
      records: 1,
    },
    { what: 'dig, UDP', corrupt: 'none', cmd: () => dig('www.example.', 'A'), bad: DIG_BAD, records: 1 },
    {
      what: 'dig, TCP',
      corrupt: 'none',
      cmd: () => dig('+tcp', 'www.example.', 'A'),
      bad: DIG_BAD,
      records: 1,
    },
    {
      what: 'kdig, AXFR of 4 messages',
      corrupt: 'none',
      cmd: () => kdig('example.', 'AXFR'),
      bad: KDIG_BAD_XFR,
      records: 10,
    },
    {
      what: 'dig, AXFR of 4 messages',
      corrupt: 'none',
      cmd: () => dig('example.', 'AXFR'),
      bad: DIG_BAD,
      records: 10,
    },
  ];
  for (const c of cases) {
    it(`${c.what}: the reply's TSIG verifies; a broken MAC does not`, async () => {
      server.verdicts = [];
      server.corrupt = 'none';
      const good = await c.cmd();
      assert.equal(good.code, 0, good.out);
      assert.doesNotMatch(good.out, c.bad);
      assert.doesNotMatch(good.out, /verif|WARNING|;; ERROR/);
      assert.equal((good.out.match(/\tA\t192\.0\.2\./g) ?? []).length, c.records === 10 ? 7 : 1, good.out);
      assert.match(good.out, /xfr\.key\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR 0/);
      // their request's TSIG verified here too
      assert.deepEqual(server.verdicts, [0]);
      // each message of the stream broken in turn (one message: its MAC). kdig checks only the
      // first message of a transfer (kdig_exec.c, "Verify 1. signature"); dig checks every one
      const breaks: Corrupt[] = c.records === 10 ? (c.what.startsWith('kdig') ? [0] : [0, 1, 2, 3]) : ['mac'];
      for (const b of breaks) {
        server.corrupt = b;
        const bad = await c.cmd();
        assert.match(bad.out, c.bad, `message ${b} broken, not reported`);
      }
      server.corrupt = 'none';
    });
  }

  it('their request with another secret → BADSIG, another key name → BADKEY, answered NOTAUTH unsigned', async () => {
    server.verdicts = [];
    const port = String(server.port);
    const wrongSecret = await tool('kdig', [
      '-y',
      'hmac-sha256:xfr.key:b3RoZXI=',
      '@127.0.0.1',
      '-p',
      port,
      '+retry=0',
      'www.example.',
    ]);
    assert.match(wrongSecret.out, /status: BADSIG/);
    assert.match(wrongSecret.out, /TSIG\s+hmac-sha256\. \d+ 300 0 \d+ BADSIG 0/);
    const wrongName = await tool('dig', [
      '-y',
      `hmac-sha256:other.key:${SECRET}`,
      '@127.0.0.1',
      '-p',
      port,
      '+tries=1',
      'www.example.',
    ]);
    assert.match(wrongName.out, /BADKEY/);
    assert.deepEqual(server.verdicts, [TsigError.BADSIG, TsigError.BADKEY]);
  });
});
