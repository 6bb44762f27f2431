/**
 * KubeAuth without a server: which source applies (-kube-master-url, -kubeconfig, $KUBECONFIG,
 * ~/.kube/config, in-cluster), contexts, the one-line errors, and what each request gets
 * (Authorization, TLS material in the agent, token files read again when they change, an exec
 * plugin's credential and KUBERNETES_EXEC_INFO). Servers and etcd: test/kube/auth.test.ts.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { makeSelfSigned } from '../../test/harness/certs.js';
import { KubeAuth, type KubeAuthOptions, KubeConfigError } from './auth.js';

const dir = mkdtempSync(path.join(tmpdir(), 'hades-kubeauth-'));
const home = path.join(dir, 'home');
mkdirSync(path.join(home, '.kube'), { recursive: true });
const emptyHome = path.join(dir, 'empty-home');
mkdirSync(emptyHome);

/** A kubeconfig (JSON is YAML) with one context per cluster name given; current: the first. */
function kubeconfig(
  file: string,
  clusters: string[],
  user: { [k: string]: unknown } = { token: 'tok' },
  current: string | null = clusters[0],
): string {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: clusters.map((c) => ({ name: c, cluster: { server: `https://${c}.example:6443` } })),
    users: [{ name: 'u', user }],
    contexts: clusters.map((c) => ({ name: c, context: { cluster: c, user: 'u' } })),
    ...(current ? { 'current-context': current } : {}),
  };
  writeFileSync(file, JSON.stringify(doc, null, 2));
  return file;
}

const load = (o: KubeAuthOptions) => KubeAuth.load({ env: { HOME: emptyHome }, ...o });
const authz = async (a: KubeAuth) => (await a.requestOptions()).headers.Authorization;

describe('KubeAuth: the source', () => {
  kubeconfig(path.join(home, '.kube', 'config'), ['home']);
  const envFile = kubeconfig(path.join(dir, 'env.yaml'), ['env']);
  const flagFile = kubeconfig(path.join(dir, 'flag.yaml'), ['flag']);
  const cases: [string, KubeAuthOptions, string][] = [
    ['~/.kube/config', { env: { HOME: home } }, 'home.example'],
    ['$KUBECONFIG over ~/.kube/config', { env: { HOME: home, KUBECONFIG: envFile } }, 'env.example'],
    [
      '$KUBECONFIG: missing files skipped, the first file that exists',
      { env: { HOME: home, KUBECONFIG: `${dir}/nope.yaml:${envFile}:${flagFile}` } },
      'env.example',
    ],
    [
      '-kubeconfig over $KUBECONFIG',
      { kubeconfig: flagFile, env: { HOME: home, KUBECONFIG: envFile } },
      'flag.example',
    ],
    [
      '-kube-master-url over everything',
      { masterUrl: 'http://127.0.0.1:8080', kubeconfig: flagFile, env: { HOME: home, KUBECONFIG: envFile } },
      '127.0.0.1:8080',
    ],
  ];
  for (const [name, opts, host] of cases)
    test(name, () => {
      assert.equal(KubeAuth.load(opts).server.host.replace(/:6443$/, ''), host);
    });

  test('$KUBECONFIG with several files: merged, the first current-context and first definitions win', () => {
    const a = kubeconfig(path.join(dir, 'a.yaml'), ['a'], { token: 'from-a' }, null);
    const b = kubeconfig(path.join(dir, 'b.yaml'), ['b', 'a'], { token: 'from-b' }, 'a');
    const auth = load({ env: { HOME: emptyHome, KUBECONFIG: `${a}:${b}` } });
    assert.equal(auth.server.hostname, 'a.example');
    assert.match(auth.source, /context a/);
  });

  test('in-cluster: KUBERNETES_SERVICE_HOST/PORT and the service-account token and CA', async () => {
    const sa = path.join(dir, 'sa');
    const saDir = path.join(sa, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(saDir, { recursive: true });
    writeFileSync(path.join(saDir, 'token'), 'sa-token\n');
    writeFileSync(path.join(saDir, 'ca.crt'), (await makeSelfSigned(sa, { dns: ['kubernetes'] })).cert);
    const auth = load({
      env: { HOME: emptyHome, KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      serviceAccountPrefix: sa,
    });
    assert.equal(auth.server.href, 'https://[fd00::1]/');
    assert.equal(auth.source, 'in-cluster');
    assert.equal(await authz(auth), 'Bearer sa-token');
    assert.equal(process.env.KUBERNETES_SERVICE_HOST, undefined, 'process.env left as it was');
  });

  test('nothing configured: the -kube-master-url line', () => {
    assert.throws(() => load({}), /^KubeConfigError: -kube-master-url .*a value is required/);
  });
});

describe('KubeAuth: contexts and errors (one line, naming the file/context)', () => {
  const two = kubeconfig(path.join(dir, 'two.yaml'), ['one', 'two']);
  test('-kube-context picks the cluster', () => {
    assert.equal(load({ kubeconfig: two }).server.hostname, 'one.example');
    assert.equal(load({ kubeconfig: two, context: 'two' }).server.hostname, 'two.example');
  });
  const certs = path.join(dir, 'certs');
  mkdirSync(certs);
  const cases: [string, () => KubeAuthOptions, RegExp][] = [
    [
      'unknown context',
      () => ({ kubeconfig: two, context: 'three' }),
      /^-kube-context "three": no such context in .*two\.yaml \(contexts: one, two\)$/,
    ],
    [
      'no current-context',
      () => ({ kubeconfig: kubeconfig(path.join(dir, 'nocur.yaml'), ['x'], undefined, null) }),
      /nocur\.yaml: no current-context; pick one with -kube-context \(contexts: x\)$/,
    ],
    [
      'missing -kubeconfig file',
      () => ({ kubeconfig: `${dir}/missing.yaml` }),
      /^kubeconfig .*missing\.yaml: no such file$/,
    ],
    [
      'not YAML',
      () => {
        writeFileSync(path.join(dir, 'bad.yaml'), 'clusters: [\n');
        return { kubeconfig: path.join(dir, 'bad.yaml') };
      },
      /^kubeconfig .*bad\.yaml: /,
    ],
    [
      'client certificate file missing',
      () => ({
        kubeconfig: kubeconfig(path.join(dir, 'nocert.yaml'), ['x'], {
          'client-certificate': 'certs/nope.pem',
          'client-key': 'certs/nope.key',
        }),
      }),
      /user "u": client-certificate .*\/certs\/nope\.pem: no such file$/,
    ],
    [
      'client certificate without key',
      () => ({
        kubeconfig: kubeconfig(path.join(dir, 'nokey.yaml'), ['x'], {
          'client-certificate-data': Buffer.from('x').toString('base64'),
        }),
      }),
      /client-certificate without client-key$/,
    ],
    [
      'exec apiVersion v1alpha1',
      () => ({
        kubeconfig: kubeconfig(path.join(dir, 'alpha.yaml'), ['x'], {
          exec: { apiVersion: 'client.authentication.k8s.io/v1alpha1', command: 'true' },
        }),
      }),
      /exec apiVersion "client\.authentication\.k8s\.io\/v1alpha1" is not supported/,
    ],
    [
      '-kube-context with -kube-master-url',
      () => ({ masterUrl: 'https://10.0.0.1', context: 'x' }),
      /^-kube-context "x": contexts are a kubeconfig's/,
    ],
    [
      '-kube-ca-file missing',
      () => ({ masterUrl: 'https://10.0.0.1', caFile: `${dir}/ca.nope` }),
      /^-kube-ca-file .*ca\.nope: no such file$/,
    ],
  ];
  for (const [name, opts, re] of cases)
    test(name, () => {
      assert.throws(
        () => load(opts()),
        (err: Error) => {
          assert.ok(err instanceof KubeConfigError, String(err));
          assert.match(err.message, re);
          assert.ok(!err.message.includes('\n'), err.message);
          return true;
        },
      );
    });
});

describe('KubeAuth: per request', () => {
  test('client certificate (files, relative to the kubeconfig), CA data, insecure-skip-tls-verify', async () => {
    const d = mkdtempSync(path.join(dir, 'tls-'));
    const { cert, key } = await makeSelfSigned(d, { dns: ['hades-kubeapi'] });
    const file = path.join(d, 'config');
    writeFileSync(
      file,
      JSON.stringify({
        clusters: [
          {
            name: 'c',
            cluster: { server: 'https://c:6443', 'certificate-authority-data': cert.toString('base64') },
          },
          { name: 'i', cluster: { server: 'https://i:6443', 'insecure-skip-tls-verify': true } },
        ],
        users: [{ name: 'u', user: { 'client-certificate': 'self.pem', 'client-key': 'self.key' } }],
        contexts: [
          { name: 'c', context: { cluster: 'c', user: 'u' } },
          { name: 'i', context: { cluster: 'i', user: 'u' } },
        ],
        'current-context': 'c',
      }),
    );
    const ro = await load({ kubeconfig: file }).requestOptions();
    const agentOpts = (ro.agent as https.Agent).options;
    assert.equal(String(agentOpts.cert), String(cert));
    assert.equal(String(agentOpts.key), String(key));
    assert.equal(String(agentOpts.ca), String(cert));
    assert.equal(ro.headers.Authorization, undefined);
    const insecure = await load({ kubeconfig: file, context: 'i' }).requestOptions();
    assert.equal((insecure.agent as https.Agent).options.rejectUnauthorized, false);
  });

  test('tokenFile (relative): read again when it changes; -kube-token replaces it', async () => {
    const d = mkdtempSync(path.join(dir, 'tf-'));
    writeFileSync(path.join(d, 'token'), 'one\n');
    const file = kubeconfig(path.join(d, 'config'), ['x'], { token: 'static', tokenFile: 'token' });
    const auth = load({ kubeconfig: file });
    assert.equal(await authz(auth), 'Bearer one', 'tokenFile wins over token, as in client-go');
    writeFileSync(path.join(d, 'token'), 'second\n');
    assert.equal(await authz(auth), 'Bearer second');
    assert.equal(await authz(load({ kubeconfig: file, token: 'flag' })), 'Bearer flag');
  });

  test('exec plugin: KUBERNETES_EXEC_INFO, the relative command, the token; a failure hides its output', async () => {
    const d = mkdtempSync(path.join(dir, 'exec-'));
    const plugin = path.join(d, 'plugin.mjs');
    writeFileSync(
      plugin,
      `#!${process.execPath}
import { existsSync } from 'node:fs';
if (existsSync(new URL('./fail', import.meta.url))) {
  console.log('SECRET-OUTPUT'); console.error('SECRET-ERR'); process.exit(3);
}
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
console.log(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential',
  status: { token: 'tok-' + info.apiVersion.split('/')[1] + '-' + process.env.EXTRA } }));
`,
    );
    chmodSync(plugin, 0o755);
    for (const v of ['v1', 'v1beta1']) {
      const file = kubeconfig(path.join(d, `config-${v}`), ['x'], {
        exec: {
          apiVersion: `client.authentication.k8s.io/${v}`,
          command: './plugin.mjs',
          env: [{ name: 'EXTRA', value: 'e' }],
          interactiveMode: 'Never',
        },
      });
      assert.equal(await authz(load({ kubeconfig: file })), `Bearer tok-${v}-e`);
    }
    writeFileSync(path.join(d, 'fail'), '');
    const failing = load({ kubeconfig: path.join(d, 'config-v1') });
    await assert.rejects(failing.requestOptions(), (err: Error) => {
      assert.match(err.message, /^exec plugin ".*\/plugin\.mjs" of kubeconfig .* failed: /);
      assert.doesNotMatch(err.message, /SECRET/);
      return true;
    });
  });
});
