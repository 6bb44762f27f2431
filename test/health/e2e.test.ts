/**
 * Issue 7 end to end: a real etcd, three loopback addresses (127.0.1.1-3) with TCP listeners this
 * test opens, a name over them (select all), a real `hades` answering it, two hades-scanner and
 * up to two hades-schedule children started from INI files written here.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { leafKey, serializeRecordValue } from '../../src/records/record.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { type EtcdProcess, freePort, startEtcd } from '../harness/etcd.js';
import { digA, type Proc, spawnBin, waitFor } from './procs.js';

const IPS = ['127.0.1.1', '127.0.1.2', '127.0.1.3'];
const NAME = 'svc.health.hades.local.';
const STATUS = '/hades/monitor/status/';
const REPORT = '/hades/monitor/report/';
const LOCK = '/hades/monitor/lock';

class Listener {
  server: net.Server | undefined;
  sockets = new Set<net.Socket>();
  constructor(
    readonly ip: string,
    public port: number,
  ) {}
  async open(): Promise<void> {
    const s = net.createServer((c) => {
      this.sockets.add(c);
      c.on('close', () => this.sockets.delete(c));
      c.on('error', () => {});
      c.end();
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen({ host: this.ip, port: this.port, exclusive: true }, () => resolve());
    });
    this.port = (s.address() as net.AddressInfo).port;
    this.server = s;
  }
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const c of this.sockets) c.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }
}

describe('hades-scanner + hades-schedule + hades (issue 7)', () => {
  let etcd: EtcdProcess;
  let store: Store;
  let dir: string;
  let dnsPort: number;
  let hades: Proc;
  const listeners: Listener[] = [];
  const scanners = new Map<string, Proc>();
  const schedulers = new Map<string, Proc>();

  const diag = (): string =>
    [...scanners, ...schedulers, ['hades', hades] as const]
      .map(([n, p]) => `--- ${n} ---\n${p?.output().slice(-3000)}`)
      .join('\n');

  async function reports(): Promise<Map<string, string>> {
    const r = await store.list(REPORT);
    return new Map(r.kvs.map((kv) => [kv.key.slice(REPORT.length), JSON.parse(kv.value).hostname as string]));
  }
  async function statusOf(ip: string): Promise<string | undefined> {
    const kv = await store.get(STATUS + ip);
    return kv ? JSON.parse(kv.value).status : undefined;
  }

  function writeIni(file: string, text: string): string {
    const p = path.join(dir, file);
    writeFileSync(p, text);
    return p;
  }

  function scannerIni(host: string, scanPort: number): string {
    return writeIni(
      `${host}.conf`,
      `[General]
core = 0
enable-check = true
hostname = ${host}
log-dir =
log-level = 1
heartbeat-interval = 1
[Check]
check-timeout = 1
check-interval = 1
scann-ports = ${scanPort}
enable-icmp = false
ping-timeout = 1000
ping-count = 2
fall = 2
rise = 2
[Etcd]
etcd-machine = ${etcd.endpoint}
tls-key =
tls-pem =
ca-cert =
status-path = /hades/monitor/status
report-path = /hades/monitor/report
heart-path = /hades/monitor/heart
`,
    );
  }

  function scheduleIni(host: string): string {
    return writeIni(
      `${host}.conf`,
      `[General]
schedule-interval = 2
agent-downtime = 2
log-dir =
log-level = 1
hostname = ${host}
force-lock-time = 1800
lock-ttl = 2
[Etcd]
etcd-machine = ${etcd.endpoint}
status-path = /hades/monitor/status
report-path = /hades/monitor/report
heart-path = /hades/monitor/heart
lock-path = ${LOCK}
`,
    );
  }

  const metricsPorts = new Map<string, number>();
  const startScanner = async (host: string): Promise<void> => {
    const mp = await freePort();
    metricsPorts.set(host, mp);
    scanners.set(
      host,
      spawnBin('hades-scanner', [
        '-config-file',
        scannerIni(host, listeners[2].port),
        '-metrics-port',
        String(mp),
      ]),
    );
  };
  const startScheduler = (host: string): Proc => {
    const p = spawnBin('hades-schedule', ['-config-file', scheduleIni(host)]);
    schedulers.set(host, p);
    return p;
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hades-health-e2e-'));
    etcd = await startEtcd();
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    for (const ip of IPS) {
      const l = new Listener(ip, 0);
      await l.open();
      listeners.push(l);
    }
    // the first two name their port in the status; the third relies on scann-ports
    const nameKey = '/hades/local/hades/health/svc';
    for (const [i, ip] of IPS.entries()) {
      const value = serializeRecordValue({ host: ip, select: 'all', ttl: 1 });
      await store.put(leafKey(nameKey, value), value);
      const st =
        i < 2 ? { status: 'UP', ports: [String(listeners[i].port)], owner: 'test' } : { status: 'UP' };
      await store.put(STATUS + ip, JSON.stringify(st));
    }
    dnsPort = await freePort();
    hades = spawnBin('hades', [
      '-addr',
      `127.0.0.1:${dnsPort}`,
      '-machines',
      etcd.endpoint,
      '-domain',
      'hades.local.',
    ]);
    await waitFor('hades answering', async () => (await digA(dnsPort, NAME))?.length === 3, 20_000, { diag });
  });

  after(async () => {
    await Promise.all([...scanners.values(), ...schedulers.values(), hades].map((p) => p?.stop('SIGKILL')));
    for (const l of listeners) await l.close();
    await store?.close();
    await etcd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('assignments, DOWN/UP through DNS, a dead scanner, scheduler failover', async () => {
    await startScanner('scan-1');
    await startScanner('scan-2');
    const schedA = startScheduler('sched-a');

    // every address is assigned to a live scanner
    await waitFor(
      'all three addresses assigned',
      async () => {
        const r = await reports();
        return IPS.every((ip) => ['scan-1', 'scan-2'].includes(r.get(ip) ?? ''));
      },
      20_000,
      { diag },
    );
    assert.equal((await store.get(LOCK))?.value, `sched-a#${schedA.pid}`);

    // stop a listener: DOWN in the store, gone from the answers; other fields kept
    for (const i of [0, 2]) {
      const ip = IPS[i];
      await listeners[i].close();
      await waitFor(`${ip} DOWN`, async () => (await statusOf(ip)) === 'DOWN', 20_000, { diag });
      const kept = JSON.parse((await store.get(STATUS + ip))?.value ?? '{}');
      if (i === 0) {
        assert.match(kept.changed, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/, 'the scanner stamps the transition');
        assert.deepEqual(kept, {
          status: 'DOWN',
          ports: [String(listeners[0].port)],
          owner: 'test',
          reason: 'connect ECONNREFUSED',
          changed: kept.changed,
        });
      }
      await waitFor(
        `${ip} gone from DNS`,
        async () => {
          const a = await digA(dnsPort, NAME);
          return a !== undefined && a.length > 0 && !a.includes(ip);
        },
        20_000,
        { diag },
      );
      await listeners[i].open();
      await waitFor(`${ip} UP again`, async () => (await statusOf(ip)) === 'UP', 20_000, { diag });
      await waitFor(
        `${ip} back in DNS`,
        async () => (await digA(dnsPort, NAME))?.includes(ip) === true,
        20_000,
      );
    }

    // kill a scanner that has addresses: they move to the other one
    const before = await reports();
    const victim = [...before.values()][0];
    const survivor = victim === 'scan-1' ? 'scan-2' : 'scan-1';
    await scanners.get(victim)?.stop('SIGKILL');
    await waitFor(
      `${victim}'s addresses moved to ${survivor}`,
      async () => {
        const r = await reports();
        return IPS.every((ip) => r.get(ip) === survivor);
      },
      20_000,
      { diag },
    );
    // the survivor checks them: take down one that was the victim's
    const moved = IPS.find((ip) => before.get(ip) === victim) as string;
    const mi = IPS.indexOf(moved);
    await listeners[mi].close();
    await waitFor(
      `${moved} DOWN (checked by ${survivor})`,
      async () => (await statusOf(moved)) === 'DOWN',
      20_000,
      { diag },
    );
    await listeners[mi].open();
    await waitFor(`${moved} UP again`, async () => (await statusOf(moved)) === 'UP', 20_000, { diag });

    // the survivor's metrics saw its probes and the changes it wrote
    const text = await (await fetch(`http://127.0.0.1:${metricsPorts.get(survivor)}/metrics`)).text();
    const sample = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 'NaN');
    assert.ok(
      sample(/^hades_scanner_probes_total\{type="tcpSocket",result="pass"\} (\d+)/m) > 0,
      text.slice(0, 2000),
    );
    assert.ok(sample(/^hades_scanner_state_changes_total\{to="DOWN",reason="connect"\} (\d+)/m) >= 1);
    assert.equal(sample(/^hades_scanner_targets (\d+)/m), 3);
    assert.equal((await fetch(`http://127.0.0.1:${metricsPorts.get(survivor)}/ready`)).status, 200);

    // two schedulers: one active; kill it, the other takes over and does the work
    const schedB = startScheduler('sched-b');
    await waitFor('sched-b campaigning', () => schedB.output().includes('campaigning'), 20_000, { diag });
    assert.equal((await store.get(LOCK))?.value, `sched-a#${schedA.pid}`);
    await schedA.stop('SIGKILL');
    await waitFor(
      'sched-b holds the lock',
      async () => (await store.get(LOCK))?.value === `sched-b#${schedB.pid}`,
      20_000,
      { diag },
    );
    await store.put(`${STATUS}127.0.1.9`, '{"status":"UP","ports":["1"]}');
    await store.delete(STATUS + IPS[2]);
    await waitFor(
      'sched-b assigns a new address and drops a removed one',
      async () => {
        const r = await reports();
        return r.get('127.0.1.9') === survivor && !r.has(IPS[2]);
      },
      20_000,
      { diag },
    );
  });
});
