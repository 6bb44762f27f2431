/**
 * Kubernetes credentials end to end, in process (startKube), against the fake API server over
 * HTTPS and a real etcd: inline client certificates (-data) on a server that requires one, a
 * bearer token from an exec credential plugin (cached until its expirationTimestamp, run again
 * when expired and after a 401, its failure logged without its output), and the in-cluster
 * service-account token rotated under a running watcher (re-read after the 401, and when the file
 * changes). Certificates by openssl at test time. hades-kubeapi's flags: kubeconfig-cli.test.ts.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type KubeHandle, type KubeOptions, startKube } from '../../src/kube/index.js';
import { nameToKey } from '../../src/records/index.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { waitFor } from '../dns/clients.js';
import { makeServerCert, type ServerCert } from '../harness/certs.js';
import { type EtcdProcess, startEtcd } from '../harness/etcd.js';
import { FakeApiServer, service } from './fake-apiserver.js';

const DOMAIN = 'hades.local.';
let etcd: EtcdProcess;
let store: Store;
let dir: string;
let server: ServerCert;
let client: ServerCert;
let seq = 0;

before(async () => {
  etcd = await startEtcd();
  store = await openEtcdStore({ endpoints: [etcd.endpoint] });
  dir = mkdtempSync(path.join(tmpdir(), 'hades-kube-auth-'));
  server = await makeServerCert(dir, { ips: ['127.0.0.1'], dns: ['localhost'] }, 'apiserver');
  client = await makeServerCert(dir, { dns: ['hades-kubeapi'] }, 'client');
});
after(async () => {
  await store?.close();
  await etcd?.stop();
});

interface Logged {
  level: string;
  obj: { [k: string]: unknown };
  msg: string;
}

/** startKube on its own prefix; every log line kept. */
function start(extra: Partial<KubeOptions>): { kube: KubeHandle; prefix: string; logs: Logged[] } {
  const prefix = `/ka${++seq}`;
  const logs: Logged[] = [];
  const keep =
    (level: string) =>
    (obj: object, msg = '') =>
      logs.push({ level, obj: obj as Logged['obj'], msg });
  const kube = startKube({
    store,
    domain: DOMAIN,
    prefix,
    ipMonitorPath: `${prefix}/monitor/status/`,
    debounceMs: 20,
    backoffMs: 20,
    maxBackoffMs: 200,
    logger: { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') },
    env: { HOME: dir }, // no ~/.kube/config, no $KUBECONFIG, not in a pod
    ...extra,
  });
  return { kube, prefix, logs };
}

async function hasService(prefix: string, name: string): Promise<boolean> {
  const l = await store.list(`${nameToKey(`${name}.default.svc.${DOMAIN}`, prefix)}/`);
  return l.kvs.length > 0;
}

/** A new Service on the fake, then its record in etcd: the watch carried it. */
async function watched(fake: FakeApiServer, prefix: string, name: string, ip: string): Promise<void> {
  fake.apply('Service', service({ name, clusterIP: ip }));
  await waitFor(`${name} by watch`, () => hasService(prefix, name));
}

/**
 * Once both resources watch (none is between requests), cut the watches and wait until both
 * watch again: each resume is one more request, made with the credentials of that moment.
 */
async function resumed(fake: FakeApiServer, kube: KubeHandle): Promise<void> {
  const diag = () =>
    `watchers ${fake.watcherCount}, stats ${JSON.stringify([kube.stats.services, kube.stats.slices])}`;
  await waitFor('both resources watching', () => fake.watcherCount === 2, 15_000, { diag });
  const before = kube.stats.services.watches + kube.stats.slices.watches;
  fake.dropStreams();
  await waitFor(
    'both watches resumed',
    () => fake.watcherCount === 2 && kube.stats.services.watches + kube.stats.slices.watches >= before + 2,
    15_000,
    { diag },
  );
}

function writeKubeconfig(file: string, cluster: object, user: object): string {
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster }],
      users: [{ name: 'hades', user }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'hades' } }],
      'current-context': 'fake',
    }),
  );
  return file;
}

const SECRETS = /SECRET|T0KEN|BEGIN/;

describe('kube credentials over HTTPS', () => {
  test('client certificate and CA inline (-data) on a server that requires a client certificate', async () => {
    const fake = new FakeApiServer({ cert: server.cert, key: server.key, ca: server.ca });
    await fake.start();
    fake.apply('Service', service({ name: 'web', clusterIP: '10.96.0.10' }));
    const b64 = (b: Buffer) => b.toString('base64');
    const cluster = { server: fake.url, 'certificate-authority-data': b64(server.ca) };
    const file = writeKubeconfig(path.join(dir, 'inline.yaml'), cluster, {
      'client-certificate-data': b64(client.cert),
      'client-key-data': b64(client.key),
    });
    // without a client certificate the server refuses the handshake: nothing listed
    const anon = start({ kubeconfig: writeKubeconfig(path.join(dir, 'anon.yaml'), cluster, {}) });
    try {
      await waitFor('refused handshakes', () => anon.kube.stats.services.errors >= 2);
      assert.equal(fake.requests.length, 0);
      assert.equal(anon.kube.state(), 'starting');
    } finally {
      await anon.kube.stop();
    }
    const { kube, prefix, logs } = start({ kubeconfig: file });
    try {
      await waitFor('web listed', () => hasService(prefix, 'web'));
      await watched(fake, prefix, 'api', '10.96.0.11');
      assert.ok(fake.requests.some((r) => r.includes('watch=1')));
      assert.deepEqual([...new Set(fake.clientNames)], ['hades-kubeapi']);
      assert.ok(logs.some((l) => l.msg === 'kube: API server' && l.obj.server === fake.url));
      assert.doesNotMatch(JSON.stringify(logs), SECRETS);
    } finally {
      await kube.stop();
      await fake.close();
    }
  });

  test('exec plugin: its token; cached until expirationTimestamp; run again when expired and after a 401', async () => {
    const d = mkdtempSync(path.join(dir, 'plugin-'));
    const plugin = path.join(d, 'plugin.mjs');
    // prints the token and lifetime the test puts in state.json; counts its runs in runs.log
    writeFileSync(
      plugin,
      `#!${process.execPath}
import { appendFileSync, readFileSync } from 'node:fs';
const here = (f) => new URL(f, import.meta.url);
const state = JSON.parse(readFileSync(here('./state.json'), 'utf8'));
appendFileSync(here('./runs.log'), state.token + '\\n');
if (state.fail) { console.log('SECRET-STDOUT'); console.error('SECRET-STDERR'); process.exit(1); }
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
console.log(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential', status: {
  token: state.token, expirationTimestamp: new Date(Date.now() + state.lifetimeSeconds * 1000).toISOString() } }));
`,
    );
    chmodSync(plugin, 0o755);
    const setState = (s: { token: string; lifetimeSeconds: number; fail?: boolean }) =>
      writeFileSync(path.join(d, 'state.json'), JSON.stringify(s));
    const runs = (): string[] => {
      try {
        return readFileSync(path.join(d, 'runs.log'), 'utf8').trim().split('\n').filter(Boolean);
      } catch {
        return [];
      }
    };
    const fake = new FakeApiServer({ cert: server.cert, key: server.key });
    await fake.start();
    fake.token = 'T0KEN-exec-1';
    fake.apply('Service', service({ name: 'web', clusterIP: '10.96.0.10' }));
    setState({ token: 'T0KEN-exec-1', lifetimeSeconds: 3600 });
    const file = writeKubeconfig(
      path.join(d, 'config'),
      { server: fake.url, 'certificate-authority': path.join(dir, 'ca.pem') },
      {
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: './plugin.mjs',
          interactiveMode: 'Never',
        },
      },
    );
    const { kube, prefix, logs } = start({ kubeconfig: file });
    try {
      await waitFor('web listed', () => hasService(prefix, 'web'));
      assert.deepEqual(runs(), ['T0KEN-exec-1'], 'one run for both watchers');
      assert.deepEqual([...new Set(fake.authorizations)], ['Bearer T0KEN-exec-1']);
      // resumed watches use the cached credential
      await resumed(fake, kube);
      assert.deepEqual(runs(), ['T0KEN-exec-1']);

      // the server stops taking exec-1: the 401 runs the plugin again, once
      setState({ token: 'T0KEN-exec-2', lifetimeSeconds: -60 }); // already expired
      fake.token = 'T0KEN-exec-2';
      const unauthorized = fake.unauthorized;
      fake.dropStreams();
      await watched(fake, prefix, 'after-401', '10.96.0.12');
      assert.ok(fake.unauthorized > unauthorized);
      assert.equal(runs()[1], 'T0KEN-exec-2');

      // exec-2 came expired: the next request runs the plugin again without any 401
      setState({ token: 'T0KEN-exec-3', lifetimeSeconds: 3600 });
      fake.token = ['T0KEN-exec-2', 'T0KEN-exec-3'];
      const u2 = fake.unauthorized;
      await waitFor('a request with exec-3', async () => {
        await resumed(fake, kube);
        return fake.authorizations.includes('Bearer T0KEN-exec-3');
      });
      assert.equal(fake.unauthorized, u2, 'no 401 needed: expiry alone ran the plugin');
      const n = runs().length;
      await resumed(fake, kube);
      assert.equal(runs().length, n, 'exec-3 is cached until it expires');
      assert.equal(fake.authorizations.at(-1), 'Bearer T0KEN-exec-3');

      // a failing plugin: one warn line naming the command, never its output; then recovery
      setState({ token: 'T0KEN-exec-4', lifetimeSeconds: 3600, fail: true });
      fake.token = 'T0KEN-exec-4';
      fake.dropStreams();
      await waitFor('the failure logged', () =>
        logs.some((l) => l.level === 'warn' && String(l.obj.err).includes(`exec plugin "${plugin}"`)),
      );
      setState({ token: 'T0KEN-exec-4', lifetimeSeconds: 3600 });
      await watched(fake, prefix, 'after-failure', '10.96.0.13');
      assert.doesNotMatch(JSON.stringify(logs), SECRETS);
    } finally {
      await kube.stop();
      await fake.close();
    }
  });

  test('in-cluster token rotated: picked up after the 401, and when the file changes, without a restart', async () => {
    const sa = mkdtempSync(path.join(dir, 'svcacct-'));
    const saDir = path.join(sa, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(saDir, { recursive: true });
    writeFileSync(path.join(saDir, 'ca.crt'), server.ca);
    // as the kubelet does: write beside, rename over
    const rotate = (token: string) => {
      writeFileSync(path.join(saDir, '.token.tmp'), token);
      renameSync(path.join(saDir, '.token.tmp'), path.join(saDir, 'token'));
    };
    rotate('T0KEN-sa-1');
    const fake = new FakeApiServer({ cert: server.cert, key: server.key });
    await fake.start();
    fake.token = 'T0KEN-sa-1';
    fake.apply('Service', service({ name: 'web', clusterIP: '10.96.0.10' }));
    const { kube, prefix, logs } = start({
      env: { HOME: dir, KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(fake.port) },
      serviceAccountPrefix: sa,
    });
    try {
      await waitFor('web listed', () => hasService(prefix, 'web'));
      assert.ok(logs.some((l) => l.msg === 'kube: API server' && l.obj.from === 'in-cluster'));

      // the old token is refused; the watcher retries (reading the file again) until it rotates
      fake.token = 'T0KEN-sa-2';
      fake.dropStreams();
      await waitFor(
        '401s and retries',
        () => fake.unauthorized >= 2 && kube.stats.services.errors + kube.stats.slices.errors > 0,
      );
      rotate('T0KEN-sa-2');
      await watched(fake, prefix, 'after-rotation', '10.96.0.12');

      // a changed file is read before the next request, no 401 needed
      const u = fake.unauthorized;
      writeFileSync(path.join(saDir, 'token'), 'T0KEN-sa-3-longer'); // in place this time
      fake.token = ['T0KEN-sa-2', 'T0KEN-sa-3-longer'];
      await resumed(fake, kube);
      assert.equal(fake.authorizations.at(-1), 'Bearer T0KEN-sa-3-longer');
      assert.equal(fake.unauthorized, u);
      assert.doesNotMatch(JSON.stringify(logs), SECRETS);
    } finally {
      await kube.stop();
      await fake.close();
    }
  });
});
