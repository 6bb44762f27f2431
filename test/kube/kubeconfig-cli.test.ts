/**
 * hades-kubeapi (the real program, a child process) finding its Kubernetes credentials: a
 * kubeconfig with client-certificate/client-key files on an HTTPS fake API server that requires
 * a client certificate; `-kube-context` (flag and INI key) choosing the cluster and user among
 * two; an unknown context or a missing kubeconfig exiting 2 with one line; and the order
 * -kube-master-url > -kubeconfig > $KUBECONFIG > ~/.kube/config (HOME a temp folder). Real etcd,
 * certificates by openssl at test time.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nameToKey } from '../../src/records/index.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { waitFor } from '../dns/clients.js';
import { makeServerCert, type ServerCert } from '../harness/certs.js';
import { type EtcdProcess, startEtcd } from '../harness/etcd.js';
import { FakeApiServer, service } from './fake-apiserver.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const KUBEAPI_BIN = path.resolve(here, '../../src/bin/hades-kubeapi.js');
const DOMAIN = 'hades.local.';

let etcd: EtcdProcess;
let store: Store;
let dir: string;
let emptyHome: string;
let server: ServerCert;
let client: ServerCert;
let seq = 0;

before(async () => {
  etcd = await startEtcd();
  store = await openEtcdStore({ endpoints: [etcd.endpoint] });
  dir = mkdtempSync(path.join(tmpdir(), 'hades-kubeconfig-cli-'));
  emptyHome = path.join(dir, 'empty-home');
  mkdirSync(emptyHome);
  server = await makeServerCert(dir, { ips: ['127.0.0.1'], dns: ['localhost'] }, 'apiserver');
  client = await makeServerCert(dir, { dns: ['hades-kubeapi'] }, 'client');
});
after(async () => {
  await store?.close();
  await etcd?.stop();
});

/** The test's environment without anything that points at a cluster; HOME an empty folder. */
function childEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(HADES_|ETCD_|KUBECONFIG$|KUBERNETES_)/.test(k)) env[k] = v;
  return { ...env, HOME: emptyHome, ...extra };
}

function baseArgs(prefix: string): string[] {
  return [
    '-config-file',
    '',
    '-etcd-server',
    etcd.endpoint,
    '-api-enable',
    'NO',
    '-kube-enable',
    'YES',
    '-prefix',
    prefix,
    '-ip-monitor-path',
    `${prefix}/monitor/status/`,
    '-logtostderr',
  ];
}

async function hasService(prefix: string, name: string): Promise<boolean> {
  const l = await store.list(`${nameToKey(`${name}.default.svc.${DOMAIN}`, prefix)}/`);
  return l.kvs.length > 0;
}

/** The Service names hades-kubeapi wrote under `prefix`. */
async function services(prefix: string): Promise<string[]> {
  const l = await store.list(`${nameToKey(`default.svc.${DOMAIN}`, prefix)}/`);
  const names = l.kvs.map(
    (kv) => kv.key.slice(nameToKey(`default.svc.${DOMAIN}`, prefix).length + 1).split('/')[0],
  );
  return [...new Set(names)].sort();
}

/** hades-kubeapi running until `stop()`; its stderr kept. */
function kubeapi(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; stderr(): string; stop(): Promise<void> } {
  const child = spawn(process.execPath, [KUBEAPI_BIN, ...args], {
    env: childEnv(env),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = () => child.kill('SIGKILL');
  process.on('exit', kill);
  return {
    child,
    stderr: () => err,
    async stop() {
      process.off('exit', kill);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs hades-kubeapi with `args` until the Service `want` is in etcd; returns the Services written. */
async function runUntil(
  args: string[],
  env: NodeJS.ProcessEnv,
  want: string,
): Promise<{ names: string[]; stderr: string }> {
  const prefix = `/kc${++seq}`;
  const k = kubeapi([...baseArgs(prefix), ...args], env);
  try {
    await waitFor(`${want} written`, () => hasService(prefix, want), 20_000, {
      diag: () => `exit ${k.child.exitCode}; stderr: ${k.stderr()}`,
    });
    return { names: await services(prefix), stderr: k.stderr() };
  } finally {
    await k.stop();
  }
}

/** A kubeconfig in `file` (JSON is YAML; kubectl writes YAML, the library reads both). */
function writeKubeconfig(
  file: string,
  doc: {
    clusters: { [name: string]: object };
    users: { [name: string]: object };
    contexts: { [name: string]: { cluster: string; user: string } };
    current?: string;
  },
): string {
  const list = (o: { [k: string]: object }, field: string) =>
    Object.entries(o).map(([name, v]) => ({ name, [field]: v }));
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: list(doc.clusters, 'cluster'),
      users: list(doc.users, 'user'),
      contexts: list(doc.contexts, 'context'),
      ...(doc.current ? { 'current-context': doc.current } : {}),
    }),
  );
  return file;
}

/** An HTTPS fake API server holding one Service `svc`; with `clientCA`, a client certificate is required. */
async function fakeWith(
  svc: string,
  opts: { token?: string; clientCA?: boolean; plain?: boolean } = {},
): Promise<FakeApiServer> {
  const fake = new FakeApiServer(
    opts.plain
      ? undefined
      : { cert: server.cert, key: server.key, ...(opts.clientCA ? { ca: server.ca } : {}) },
  );
  await fake.start();
  fake.token = opts.token;
  fake.apply('Service', service({ name: svc, clusterIP: `10.96.0.${10 + seq}` }));
  return fake;
}

function exit2(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(process.execPath, [KUBEAPI_BIN, ...args], {
    env: childEnv(env),
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  return r.stderr.trim();
}

describe('hades-kubeapi: Kubernetes credentials', () => {
  test('client-certificate/client-key files (relative to the kubeconfig): lists, watches, writes records', async () => {
    const fake = await fakeWith('web', { clientCA: true });
    try {
      const file = writeKubeconfig(path.join(dir, 'certs.yaml'), {
        clusters: { fake: { server: fake.url, 'certificate-authority': 'ca.pem' } },
        users: { admin: { 'client-certificate': 'client.pem', 'client-key': 'client.key' } },
        contexts: { fake: { cluster: 'fake', user: 'admin' } },
        current: 'fake',
      });
      const prefix = `/kc${++seq}`;
      const k = kubeapi([...baseArgs(prefix), '-kubeconfig', file]);
      try {
        await waitFor('web listed', () => hasService(prefix, 'web'), 20_000, { diag: () => k.stderr() });
        fake.apply('Service', service({ name: 'api', clusterIP: '10.96.1.1' }));
        await waitFor('api by watch', () => hasService(prefix, 'api'), 20_000, { diag: () => k.stderr() });
        assert.ok(fake.requests.some((r) => r.startsWith('GET /api/v1/services?watch=1')));
        assert.deepEqual([...new Set(fake.clientNames)], ['hades-kubeapi']);
        assert.match(
          k.stderr(),
          /"from":"kubeconfig [^"]*certs\.yaml \(context fake\)","msg":"hades-kubeapi: Kubernetes watcher started"/,
        );
        assert.doesNotMatch(k.stderr(), /BEGIN/);
      } finally {
        await k.stop();
      }
    } finally {
      await fake.close();
    }
  });

  test('-kube-context (flag, INI key) picks the cluster and user among two; unknown → exit 2, one line', async () => {
    const a = await fakeWith('alpha', { token: 'token-a' });
    const b = await fakeWith('beta', { clientCA: true });
    try {
      const ca = server.ca.toString('base64');
      const file = writeKubeconfig(path.join(dir, 'two.yaml'), {
        clusters: {
          a: { server: a.url, 'certificate-authority-data': ca },
          b: { server: b.url, 'certificate-authority-data': ca },
        },
        users: {
          'user-a': { token: 'token-a' },
          'user-b': {
            'client-certificate-data': client.cert.toString('base64'),
            'client-key-data': client.key.toString('base64'),
          },
        },
        contexts: { 'ctx-a': { cluster: 'a', user: 'user-a' }, 'ctx-b': { cluster: 'b', user: 'user-b' } },
        current: 'ctx-a',
      });
      const viaFlag = await runUntil(['-kubeconfig', file, '-kube-context', 'ctx-b'], {}, 'beta');
      assert.deepEqual(viaFlag.names, ['beta']);
      const ini = path.join(dir, 'kubeapi.conf');
      writeFileSync(ini, `[Kube2Hades]\nkubeconfig = ${file}\nkube-context = ctx-b\n`);
      const viaIni = await runUntil(['-config-file', ini], {}, 'beta'); // the last -config-file counts
      assert.deepEqual(viaIni.names, ['beta']);
      assert.equal(a.requests.length, 0, 'cluster a never asked');
      assert.deepEqual([...new Set(b.clientNames)], ['hades-kubeapi']);
      // the kubeconfig's own current-context: cluster a with user-a's token
      assert.deepEqual((await runUntil(['-kubeconfig', file], {}, 'alpha')).names, ['alpha']);
      assert.deepEqual([...new Set(a.authorizations)], ['Bearer token-a']);

      assert.match(
        exit2([...baseArgs('/x'), '-kubeconfig', file, '-kube-context', 'nope']),
        /^hades-kubeapi: -kube-context "nope": no such context in .*two\.yaml \(contexts: ctx-a, ctx-b\)$/,
      );
      assert.match(
        exit2([...baseArgs('/x'), '-kubeconfig', path.join(dir, 'missing.yaml')]),
        /^hades-kubeapi: kubeconfig .*missing\.yaml: no such file$/,
      );
      assert.match(
        exit2([...baseArgs('/x'), '-kube-master-url', a.url, '-kube-context', 'ctx-a']),
        /-kube-context "ctx-a": contexts are a kubeconfig's, and -kube-master-url is set/,
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('-kube-master-url > -kubeconfig > $KUBECONFIG > ~/.kube/config', async () => {
    const fakes = {
      home: await fakeWith('from-home', { token: 'h' }),
      env: await fakeWith('from-env', { token: 'e' }),
      flag: await fakeWith('from-flag', { token: 'f' }),
      master: await fakeWith('from-master', { plain: true }),
    };
    try {
      const ca = server.ca.toString('base64');
      const config = (file: string, fake: FakeApiServer, token: string) =>
        writeKubeconfig(file, {
          clusters: { c: { server: fake.url, 'certificate-authority-data': ca } },
          users: { u: { token } },
          contexts: { c: { cluster: 'c', user: 'u' } },
          current: 'c',
        });
      const home = path.join(dir, 'home');
      mkdirSync(path.join(home, '.kube'), { recursive: true });
      config(path.join(home, '.kube', 'config'), fakes.home, 'h');
      const envFile = config(path.join(dir, 'env.yaml'), fakes.env, 'e');
      const flagFile = config(path.join(dir, 'flag.yaml'), fakes.flag, 'f');
      const cases: [string, string[], NodeJS.ProcessEnv, keyof typeof fakes][] = [
        ['~/.kube/config', [], { HOME: home }, 'home'],
        ['$KUBECONFIG', [], { HOME: home, KUBECONFIG: envFile }, 'env'],
        ['-kubeconfig', ['-kubeconfig', flagFile], { HOME: home, KUBECONFIG: envFile }, 'flag'],
        [
          '-kube-master-url',
          ['-kubeconfig', flagFile, '-kube-master-url', fakes.master.url],
          { HOME: home, KUBECONFIG: envFile },
          'master',
        ],
      ];
      for (const [what, args, env, want] of cases) {
        const seen = Object.fromEntries(Object.entries(fakes).map(([k, f]) => [k, f.requests.length]));
        const r = await runUntil(args, env, `from-${want}`);
        assert.deepEqual(r.names, [`from-${want}`], what);
        for (const [k, f] of Object.entries(fakes))
          if (k !== want) assert.equal(f.requests.length, seen[k], `${what}: ${k} not asked`);
      }
    } finally {
      for (const f of Object.values(fakes)) await f.close();
    }
  });
});
