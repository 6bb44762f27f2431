/**
 * Issue 15 item 2: hades, hades-kubeapi, hades-scanner and hades-schedule on an etcd that demands
 * client certificates (`--client-cert-auth`), with certificates made by openssl here: one CA, a
 * server certificate for 127.0.0.1/localhost, a client certificate of that CA, one of another CA
 * and an expired one.
 *
 * - The right files, given by flags / INI keys or by the seed's ETCD_* variables: all four work
 *   end to end (hades answers a record and a Service hades-kubeapi wrote from the fake API
 *   server; hades-schedule elects itself and assigns 127.0.0.1 to the scanner, which writes its
 *   status).
 * - A wrong CA, a missing client certificate file, a client certificate of another CA, an expired
 *   one: each program prints one line naming the setting, the file and the cause (local files:
 *   exit 2; a handshake etcd refuses or a server certificate the CA does not verify: retried,
 *   the line once however many attempts), and nothing comes from that etcd. No key material in
 *   any output.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { leafKey, serializeRecordValue } from '../../src/records/record.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { makeCA, makeClientCert, makeServerCert } from '../harness/certs.js';
import { type EtcdProcess, freePort, startEtcd } from '../harness/etcd.js';
import { digA, type Proc, spawnBin, waitFor } from '../health/procs.js';
import { FakeApiServer, service } from '../kube/fake-apiserver.js';

const openssl = ['/usr/bin/openssl', '/bin/openssl'].find((f) => existsSync(f));
const PROGRAMS = ['hades', 'hades-kubeapi', 'hades-scanner', 'hades-schedule'] as const;
type Program = (typeof PROGRAMS)[number];
const LOCK = '/hades/monitor/lock';
const STATUS = '/hades/monitor/status/';
const HEART = '/hades/monitor/heart/';

/** Which files, and how they are given: the flags (INI keys for kubeapi and the scanner) or ETCD_*. */
interface TlsFiles {
  ca: string;
  key: string;
  cert: string;
}
type How = 'flags' | 'env';

describe('etcd TLS with client certificates: every program', {
  skip: openssl ? false : 'openssl is not installed',
}, () => {
  let dir: string;
  let etcd: EtcdProcess;
  let store: Store;
  let fake: FakeApiServer;
  const f = (name: string) => path.join(dir, name);
  let good: TlsFiles;
  const procs: Proc[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-etcd-tls-'));
    await makeServerCert(dir, { dns: ['localhost'], ips: ['127.0.0.1'] }, 'server');
    await makeClientCert(dir, 'client');
    await makeCA(dir, 'other-ca');
    await makeClientCert(dir, 'other-client', { ca: 'other-ca' });
    await makeClientCert(dir, 'expired-client', { expired: true });
    good = { ca: f('ca.pem'), key: f('client.key'), cert: f('client.pem') };
    etcd = await startEtcd({
      tls: {
        certFile: f('server.pem'),
        keyFile: f('server.key'),
        caFile: f('ca.pem'),
        clientCertAuth: true,
        clientCertFile: good.cert,
        clientKeyFile: good.key,
      },
    });
    assert.match(etcd.endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
    store = await openEtcdStore({ endpoints: [etcd.endpoint], tls: good });
    const value = serializeRecordValue({ host: '10.9.8.7', ttl: 5 });
    await store.put(leafKey('/hades/local/hades/tls', value), value);
    fake = new FakeApiServer();
    await fake.start();
  });

  after(async () => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    await fake?.close();
    await store?.close();
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Starts `program` against the TLS etcd with `files` given `how` (hades: DNS on `port`). */
  async function start(
    program: Program,
    files: Partial<TlsFiles>,
    how: How,
    tag: string,
    port = 0,
  ): Promise<Proc> {
    const env: NodeJS.ProcessEnv = {};
    const flags: string[] = [];
    const ini: string[] = [];
    const pairs: [keyof TlsFiles, string, string][] = [
      ['ca', 'ca-cert', 'ETCD_CACERT'],
      ['key', 'tls-key', 'ETCD_TLSKEY'],
      ['cert', 'tls-pem', 'ETCD_TLSPEM'],
    ];
    for (const [field, flag, variable] of pairs) {
      const file = files[field];
      if (file === undefined) continue;
      if (how === 'env') env[variable] = file;
      else if (program === 'hades-kubeapi' || program === 'hades-scanner') ini.push(`${flag} = ${file}`);
      else flags.push(`-${flag}`, file);
    }
    let args: string[];
    if (program === 'hades') {
      args = [
        '-addr',
        `127.0.0.1:${port || (await freePort())}`,
        '-machines',
        etcd.endpoint,
        '-domain',
        'hades.local.',
      ];
    } else if (program === 'hades-kubeapi') {
      const conf = f(`kubeapi-${tag}.conf`);
      await writeFile(
        conf,
        `[General]\netcd-server = ${etcd.endpoint}\n${ini.join('\n')}\n[Kube2Hades]\nkube-enable = YES\nkube-master-url = ${fake.url}\n[HadesApi]\napi-enable = NO\n`,
      );
      args = ['-config-file', conf];
    } else if (program === 'hades-scanner') {
      const conf = f(`scanner-${tag}.conf`);
      await writeFile(
        conf,
        `[General]\nhostname = scan-${tag}\nheartbeat-interval = 1\n[Check]\ncheck-interval = 1\ncheck-timeout = 1\nrise = 1\nfall = 1\n[Etcd]\netcd-machine = ${etcd.endpoint}\n${ini.join('\n')}\n`,
      );
      args = ['-config-file', conf, '-metrics-port', '0'];
    } else {
      args = [
        '-config-file',
        '',
        '-etcd-machine',
        etcd.endpoint,
        '-hostname',
        `sched-${tag}`,
        '-schedule-interval',
        '1',
        '-agent-downtime',
        '0',
        '-lock-ttl',
        '2',
        '-metrics-port',
        '0',
      ];
    }
    const p = spawnBin(program, [...args, ...flags], env);
    procs.push(p);
    return p;
  }

  for (const how of ['flags', 'env'] as const) {
    it(`the right files (${how === 'flags' ? 'flags and INI keys' : 'ETCD_CACERT, ETCD_TLSKEY, ETCD_TLSPEM'}): all four work end to end`, {
      timeout: 120_000,
    }, async () => {
      const tag = `ok-${how}`;
      const ip = how === 'flags' ? '10.96.7.7' : '10.96.7.8';
      fake.apply('Service', service({ name: `tlsweb-${how}`, clusterIP: ip }));
      await store.put(
        `${STATUS}127.0.0.1`,
        JSON.stringify({ status: 'DOWN', ports: [String(etcd.clientPort)] }),
      );
      const hadesArgsPort = await freePort();
      const hades = await start('hades', good, how, tag, hadesArgsPort);
      const kubeapi = await start('hades-kubeapi', good, how, tag);
      const scanner = await start('hades-scanner', good, how, tag);
      const schedule = await start('hades-schedule', good, how, tag);
      const diag = () =>
        [hades, kubeapi, scanner, schedule]
          .map((p, i) => `--- ${['hades', ...PROGRAMS.slice(1)][i]} ---\n${p.output().slice(-3000)}`)
          .join('\n');
      try {
        // hades answers a record from etcd, and the Service hades-kubeapi wrote there
        await waitFor(
          'hades to answer tls.hades.local',
          async () => (await digA(hadesArgsPort, 'tls.hades.local'))?.join() === '10.9.8.7',
          30_000,
          { diag },
        );
        await waitFor(
          'hades-kubeapi to write the Service, and hades to answer it',
          async () => (await digA(hadesArgsPort, `tlsweb-${how}.default.svc.hades.local`))?.join() === ip,
          30_000,
          { diag },
        );
        // hades-schedule holds the lock, assigns 127.0.0.1 to the scanner, which probes and writes UP
        await waitFor(
          'hades-schedule to hold the lock',
          async () => (await store.get(LOCK))?.value.startsWith(`sched-${tag}#`) === true,
          30_000,
          { diag },
        );
        await waitFor(
          'the scanner heartbeat and its assignment',
          async () =>
            JSON.parse((await store.get('/hades/monitor/report/127.0.0.1'))?.value ?? '{}').hostname ===
            `scan-${tag}`,
          30_000,
          { diag },
        );
        await waitFor(
          'the scanner heartbeat',
          async () => (await store.get(`${HEART}scan-${tag}`)) !== undefined,
          30_000,
          { diag },
        );
        await waitFor(
          'the scanner to write 127.0.0.1 UP',
          async () => {
            const st = JSON.parse((await store.get(`${STATUS}127.0.0.1`))?.value ?? '{}');
            return st.status === 'UP' && typeof st.reason === 'string' && typeof st.changed === 'string';
          },
          30_000,
          { diag },
        );
        for (const p of [hades, kubeapi, scanner, schedule])
          assert.doesNotMatch(p.output(), /etcd TLS|PRIVATE KEY/, diag());
      } finally {
        await Promise.all([hades, kubeapi, scanner, schedule].map((p) => p.stop('SIGKILL')));
        // the next run's scheduler and kube writer need not wait for these leases to expire
        await store.delete(LOCK);
        await store.delete('/hades/monitor/kubeapi-lock');
      }
    });
  }

  /** The failures: what is given, how, whether the program exits 2 or retries, and its line. */
  interface Case {
    what: string;
    files: () => Partial<TlsFiles>;
    how: How;
    exits: boolean;
    line: (flag: (which: 'ca' | 'key' | 'cert') => string) => RegExp;
  }
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const cases: Case[] = [
    {
      what: 'a CA that did not sign the server certificate',
      files: () => ({ ...good, ca: f('other-ca.pem') }),
      how: 'flags',
      exits: false,
      line: (n) =>
        new RegExp(
          `^etcd TLS: the server certificate of https://127\\.0\\.0\\.1:\\d+ is not signed by ${esc(n('ca'))} ${esc(f('other-ca.pem'))} \\(unable to verify the first certificate\\); retrying$`,
        ),
    },
    {
      what: 'the same, from $ETCD_CACERT',
      files: () => ({ ...good, ca: f('other-ca.pem') }),
      how: 'env',
      exits: false,
      line: (n) =>
        new RegExp(
          `is not signed by ${esc(n('ca'))} ${esc(f('other-ca.pem'))} \\(unable to verify the first certificate\\); retrying$`,
        ),
    },
    {
      what: 'a client certificate file that does not exist',
      files: () => ({ ...good, cert: f('nonexistent/client.pem') }),
      how: 'flags',
      exits: true,
      line: (n) =>
        new RegExp(`^${esc(n('cert'))} ${esc(f('nonexistent/client.pem'))}: cannot read it: no such file$`),
    },
    {
      what: 'a client certificate of another CA',
      files: () => ({ ...good, key: f('other-client.key'), cert: f('other-client.pem') }),
      how: 'flags',
      exits: false,
      line: (n) =>
        new RegExp(
          `^etcd TLS: https://127\\.0\\.0\\.1:\\d+ refused the client certificate ${esc(n('cert'))} ${esc(f('other-client.pem'))} \\(TLS alert from the server: bad certificate\\); it is not signed by ${esc(n('ca'))} ${esc(good.ca)}, and etcd takes only certificates of a CA in its --trusted-ca-file; retrying$`,
        ),
    },
    {
      what: 'an expired client certificate',
      files: () => ({ ...good, key: f('expired-client.key'), cert: f('expired-client.pem') }),
      how: 'env',
      exits: true,
      line: (n) =>
        new RegExp(
          `^etcd TLS: ${esc(n('cert'))} ${esc(f('expired-client.pem'))}: certificate has expired \\(not after 2020-01-02T00:00:00Z\\)$`,
        ),
    },
  ];
  const NAMES = {
    flags: { ca: '-ca-cert', key: '-tls-key', cert: '-tls-pem' },
    env: { ca: '$ETCD_CACERT', key: '$ETCD_TLSKEY', cert: '$ETCD_TLSPEM' },
  };

  for (const c of cases) {
    it(`${c.what}: one line naming the file and the cause, from each program; nothing from etcd`, {
      timeout: 120_000,
    }, async () => {
      const keyText = (await readFile(good.key, 'utf8')).split('\n')[1];
      await Promise.all(
        PROGRAMS.map(async (program, i) => {
          const tag = `bad-${cases.indexOf(c)}-${i}`;
          const port = program === 'hades' ? await freePort() : 0;
          const p = await start(program, c.files(), c.how, tag, port);
          const prefix = `${program}: `;
          const plain = () =>
            p
              .output()
              .split('\n')
              .filter((l) => l.startsWith(prefix));
          const diag = () => `--- ${program} ---\n${p.output().slice(-4000)}`;
          try {
            if (c.exits) {
              assert.equal(await p.exited, 2, diag());
            } else {
              // retried: wait for the second attempt, the line is still there once
              await waitFor(`${program}'s second attempt`, () => /"attempt":2\b/.test(p.output()), 30_000, {
                diag,
              });
            }
            const lines = plain();
            assert.equal(lines.length, 1, diag());
            assert.match(
              lines[0].slice(prefix.length),
              c.line((w) => NAMES[c.how][w]),
              diag(),
            );
            assert.doesNotMatch(p.output(), /PRIVATE KEY/, diag());
            assert.ok(!p.output().includes(keyText), `key material in the output of ${program}`);
            // nothing from that etcd: no answer, no record, no lock, no heartbeat
            if (program === 'hades') {
              if (!c.exits) assert.notEqual((await digA(port, 'tls.hades.local'))?.join(), '10.9.8.7');
            } else if (program === 'hades-schedule') {
              assert.equal((await store.get(LOCK))?.value.startsWith(`sched-${tag}#`) ?? false, false);
            } else if (program === 'hades-scanner') {
              assert.equal(await store.get(`${HEART}scan-${tag}`), undefined);
            }
          } finally {
            await p.stop('SIGKILL');
          }
        }),
      );
    });
  }
});
