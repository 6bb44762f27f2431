/** The seed README's hades-scanner.conf and hades-schedule.conf, read as the programs read them. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseWithConfigFile } from '../../src/config/cli.js';
import { FlagError } from '../../src/config/flags.js';
import { buildScannerConfig, scannerFlagSpecs } from '../../src/config/scanner.js';
import { buildScheduleConfig, scheduleFlagSpecs } from '../../src/config/schedule.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'hades-health-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SCANNER = `...
[General]
core = 0
enable-check = true
hostname = hostname1
log-dir = /export/log/hades
log-level = 100
heartbeat-interval = 30
[Check]
check-timeout = 2
check-interval = 10
scann-ports = 22, 80, 8080
enable-icmp = true
ping-timeout = 1000
ping-count = 2
[Etcd]
etcd-machine = http://127.0.0.1:2379
tls-key =
tls-pem =
ca-cert =
status-path = /hades/monitor/status
report-path = /hades/monitor/report
heart-path = /hades/monitor/heart
...
`;

const SCHEDULE = `...
[General]
schedule-interval = 60
agent-downtime = 60
log-dir = /export/log/hades
log-level = 100
hostname = hostname1
force-lock-time = 1800

[Etcd]
etcd-machine = http://127.0.0.1:2379
status-path = /hades/monitor/status
report-path = /hades/monitor/report
heart-path = /hades/monitor/heart
lock-path = /hades/monitor/lock
...
`;

function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

test("the seed's hades-scanner.conf", () => {
  const f = file('scanner.conf', SCANNER);
  const v = parseWithConfigFile(scannerFlagSpecs(), ['-config-file', f], {}, 'config-file').values;
  const c = buildScannerConfig(v, {});
  assert.equal(c.hostname, 'hostname1');
  assert.deepEqual(c.machines, ['http://127.0.0.1:2379']);
  assert.deepEqual(c.scanPorts, ['22', '80', '8080']);
  assert.equal(c.enableIcmp, true);
  assert.equal(c.checkIntervalMs, 10_000);
  assert.equal(c.checkTimeoutMs, 2000);
  assert.equal(c.heartbeatIntervalMs, 30_000);
  assert.equal(c.pingTimeoutMs, 1000);
  assert.equal(c.pingCount, 2);
  assert.equal(c.fall, 3);
  assert.equal(c.rise, 2);
  assert.equal(c.statusPath, '/hades/monitor/status/');
  assert.equal(c.reportPath, '/hades/monitor/report/');
  assert.equal(c.heartPath, '/hades/monitor/heart/');
  assert.equal(c.log.logDir, '/export/log/hades');
  assert.equal(c.tls, undefined);
  assert.equal(c.probeCaFile, '', 'no probe-ca-file: the system CAs only');
  assert.equal(c.probeKeepAlive, false, 'a new connection per check, as the kubelet');
  // the command line wins over the file
  const v2 = parseWithConfigFile(
    scannerFlagSpecs(),
    ['-config-file', f, '-fall', '5'],
    {},
    'config-file',
  ).values;
  assert.equal(buildScannerConfig(v2, {}).fall, 5);
});

test("the seed's hades-schedule.conf", () => {
  const f = file('schedule.conf', SCHEDULE);
  const v = parseWithConfigFile(scheduleFlagSpecs(), ['-config-file', f], {}, 'config-file').values;
  const c = buildScheduleConfig(v, {});
  assert.equal(c.scheduleIntervalMs, 60_000);
  assert.equal(c.agentDowntimeMs, 60_000);
  assert.equal(c.forceLockTimeSeconds, 1800);
  assert.equal(c.lockPath, '/hades/monitor/lock');
  assert.equal(c.hostname, 'hostname1');
  assert.equal(c.lockTtlSeconds, 10);
});

test('bad values name the flag', () => {
  const bad: [string, RegExp][] = [
    ['[Check]\nscann-ports = 22, http', /scann-ports/],
    ['[Etcd]\nstatus-path = relative', /status-path/],
    ['[Etcd]\netcd-machine = not a url', /etcd-machine/],
    ['[Etcd]\ntls-key = /dev/null', /^-tls-key \/dev\/null is given without -tls-pem \(or \$ETCD_TLSPEM\)/],
    [
      '[Etcd]\nca-cert = /nonexistent/ca.pem',
      /^-ca-cert \/nonexistent\/ca.pem: cannot read it: no such file$/,
    ],
    ['[Check]\nprobe-keepalive = sometimes', /probe-keepalive/],
  ];
  for (const [text, re] of bad) {
    const f = file('bad.conf', text);
    assert.throws(
      () =>
        buildScannerConfig(
          parseWithConfigFile(scannerFlagSpecs(), ['-config-file', f], {}, 'config-file').values,
          {},
        ),
      (e: unknown) => e instanceof FlagError && re.test(e.message),
      text,
    );
  }
});

test('a stray word on the command line: exit 2, one line naming it, nothing started', () => {
  const bin = (p: string) =>
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), `../../src/bin/${p}.js`);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('HADES_') && !k.startsWith('ETCD_')) env[k] = v;
  const cases: [string, string[], RegExp][] = [
    // a boolean flag takes no separate value: "maybe" is an argument, not -enable-icmp's value
    [
      'hades-scanner',
      ['-config-file', '', '-enable-icmp', 'maybe'],
      /^hades-scanner: unexpected argument "maybe" \(-enable-icmp is a boolean: write -enable-icmp=true or -enable-icmp=false\)\n$/,
    ],
    ['hades-scanner', ['-config-file', '', 'start'], /^hades-scanner: unexpected argument "start"\n$/],
    // a CA file that is missing, or holds no certificate, stops it before anything opens
    [
      'hades-scanner',
      ['-config-file', '', '-probe-ca-file', path.join(dir, 'missing.pem')],
      /^hades-scanner: -probe-ca-file: ENOENT: no such file or directory, open '.*missing\.pem'\n$/,
    ],
    [
      'hades-scanner',
      ['-config-file', '', '-probe-ca-file', file('not-a-ca.pem', 'hello\n')],
      /^hades-scanner: -probe-ca-file: .*not-a-ca\.pem holds no PEM certificate\n$/,
    ],
    [
      'hades-schedule',
      ['-config-file', '', '-hostname', 'h1', 'extra'],
      /^hades-schedule: unexpected argument "extra"\n$/,
    ],
  ];
  for (const [i, [program, args, re]] of cases.entries()) {
    const cwd = path.join(dir, `stray-${program}-${i}`);
    mkdirSync(cwd);
    const r = spawnSync(process.execPath, [bin(program), ...args], {
      cwd,
      env,
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 2, `${program} ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.ok(!existsSync(path.join(cwd, 'hades-data')), 'no embedded store was opened');
  }
});
