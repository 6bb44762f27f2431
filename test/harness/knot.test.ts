/**
 * The Knot secondary harness against a Knot primary (no hades): AXFR on bootstrap, TSIG (and a
 * wrong key), NOTIFY → IXFR, and `ixfr: false` refreshes by AXFR. Loopback only; timeouts are
 * generous bounds, never assertions.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { waitFor } from '../lib/wait.js';
import {
  type KnotKey,
  type KnotPrimary,
  type KnotSecondary,
  startKnotPrimary,
  startKnotSecondary,
} from './knot.js';
import { freePort } from './ports.js';

const ZONE = 'knot-harness.test.';

function zoneText(serial: number, www: string): string {
  return `$ORIGIN ${ZONE}
$TTL 60
@ IN SOA ns.${ZONE} hostmaster.${ZONE} ${serial} 3600 600 86400 60
@ IN NS ns
ns IN A 127.0.0.1
www IN A ${www}
fixed IN TXT "unchanged"
`;
}

function newKey(): KnotKey {
  return { name: 'hades-test-key.', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
}

/** The A addresses Knot answers for `name` (kdig over UDP). */
function queryA(port: number, name: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(
      'kdig',
      ['@127.0.0.1', '-p', String(port), '+norec', '+timeout=5', '+retry=2', '+short', name, 'A'],
      { encoding: 'utf8', timeout: 30_000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout.split('\n').filter((l) => l !== ''))),
    );
  });
}

/** Lines of `log` matching `re`. */
function lines(log: string, re: RegExp): string[] {
  return log.split('\n').filter((l) => re.test(l));
}

describe('Knot secondary harness (against a Knot primary)', () => {
  const started: { stop(): Promise<void> }[] = [];
  after(async () => {
    await Promise.all(started.map((k) => k.stop()));
  });

  it('loads the zone by AXFR with TSIG, then takes a change by NOTIFY and IXFR', async () => {
    const key = newKey();
    const primaryPort = await freePort();
    const sec: KnotSecondary = await startKnotSecondary({
      primary: { host: '127.0.0.1', port: primaryPort },
      zones: [ZONE],
      key,
    });
    started.push(sec);
    assert.ok(sec.pid > 0);
    assert.equal(await sec.serial(ZONE), undefined); // nothing to transfer from yet
    const primary: KnotPrimary = await startKnotPrimary({
      port: primaryPort,
      zones: { [ZONE]: zoneText(1, '192.0.2.1') },
      key,
      notify: [{ host: '127.0.0.1', port: sec.port }],
    });
    started.push(primary);
    // its first try met a closed port and backs off; ask now rather than wait for the retry
    await sec.refresh(ZONE);
    assert.equal(await sec.waitSerial(ZONE, 1), 1);
    assert.deepEqual(await queryA(sec.port, `www.${ZONE}`), ['192.0.2.1']);
    const from = `remote 127\\.0\\.0\\.1@${primaryPort}`;
    assert.equal(lines(sec.log(), new RegExp(`\\[${ZONE}\\] AXFR, incoming, ${from}, finished`)).length, 1);
    assert.match(sec.log(), /zone updated, [\d.]+ seconds, serial none -> 1/);

    await primary.setZone(ZONE, zoneText(2, '192.0.2.2'));
    assert.equal(await sec.waitSerial(ZONE, 2), 2);
    assert.deepEqual(await queryA(sec.port, `www.${ZONE}`), ['192.0.2.2']);
    const log = sec.log();
    assert.match(
      log,
      new RegExp(`\\[${ZONE}\\] notify, incoming, remote 127\\.0\\.0\\.1@\\d+, serial 2`),
      log,
    );
    assert.equal(lines(log, new RegExp(`\\[${ZONE}\\] IXFR, incoming, ${from}, finished`)).length, 1, log);
    assert.equal(lines(log, /AXFR, incoming, .*finished/).length, 1, log); // still only the first
    assert.match(log, /zone updated, [\d.]+ seconds, serial 1 -> 2/);

    // retransfer: AXFR whatever the serials
    await sec.retransfer(ZONE);
    await waitFor(
      'the second AXFR',
      () => lines(sec.log(), /AXFR, incoming, .*finished/).length === 2,
      60_000,
      {
        diag: () => sec.log(),
      },
    );
    assert.equal(await sec.serial(ZONE), 2);

    const pid = sec.pid;
    await sec.stop();
    await sec.stop(); // idempotent
    assert.equal(existsSync(`/proc/${pid}`), false);
    assert.match(sec.log(), /AXFR, incoming/); // the log outlives the process
  });

  it('a wrong TSIG key: the zone is not loaded, and the log says why', async () => {
    const key = newKey();
    const primary = await startKnotPrimary({ zones: { [ZONE]: zoneText(5, '192.0.2.5') }, key });
    started.push(primary);
    const wrong = { ...key, secret: randomBytes(32).toString('base64') };
    const sec = await startKnotSecondary({
      primary: { host: '127.0.0.1', port: primary.port },
      zones: [ZONE],
      key: wrong,
    });
    started.push(sec);
    await sec.refresh(ZONE);
    await waitFor(
      'the TSIG failure in the log',
      () =>
        /refresh, remote primary, address 127\.0\.0\.1@\d+, failed \(failed to verify TSIG\)/.test(sec.log()),
      60_000,
      { diag: () => sec.log() },
    );
    assert.equal(await sec.serial(ZONE), undefined);
    await assert.rejects(
      sec.waitSerial(ZONE, 5, 500),
      /not loaded with serial >= 5[\s\S]*failed to verify TSIG/,
    );
    assert.doesNotMatch(sec.log(), /AXFR, incoming, .*finished/);
  });

  it('ixfr: false: refresh() transfers by AXFR (and no key: plain transfers)', async () => {
    const primary = await startKnotPrimary({ zones: { [ZONE]: zoneText(10, '192.0.2.10') } });
    started.push(primary);
    const sec = await startKnotSecondary({
      primary: { host: '127.0.0.1', port: primary.port },
      zones: [ZONE],
      ixfr: false,
    });
    started.push(sec);
    assert.equal(await sec.waitSerial(ZONE, 10), 10);
    await primary.setZone(ZONE, zoneText(11, '192.0.2.11'));
    await sec.refresh(ZONE);
    assert.equal(await sec.waitSerial(ZONE, 11), 11);
    assert.deepEqual(await queryA(sec.port, `www.${ZONE}`), ['192.0.2.11']);
    const log = sec.log();
    assert.equal(lines(log, /AXFR, incoming, .*finished/).length, 2, log);
    assert.doesNotMatch(log, /IXFR, incoming/);
    assert.doesNotMatch(primary.log(), /IXFR, outgoing/);
  });

  it('a config Knot rejects: start throws with the words of knotc conf-check and the config', async () => {
    const bad = { ...newKey(), algorithm: 'hmac-nope' };
    await assert.rejects(
      startKnotSecondary({ primary: { host: '127.0.0.1', port: await freePort() }, zones: [ZONE], key: bad }),
      (err: Error) => {
        assert.match(err.message, /invalid config \(knotc conf-check/);
        assert.match(err.message, /hmac-nope/);
        assert.match(err.message, /master: primary/);
        return true;
      },
    );
  });

  it('two secondaries side by side get their own ports and dirs', async () => {
    const port = await freePort();
    const [a, b] = await Promise.all([
      startKnotSecondary({ primary: { host: '127.0.0.1', port }, zones: [ZONE] }),
      startKnotSecondary({ primary: { host: '127.0.0.1', port }, zones: [ZONE, 'other.test.'] }),
    ]);
    started.push(a, b);
    assert.notEqual(a.port, b.port);
    assert.equal(await a.serial(ZONE), undefined);
    await b.stop();
    assert.equal(existsSync(`/proc/${b.pid}`), false);
  });
});
