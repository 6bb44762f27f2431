/**
 * TLS for the API, with certificates made by openssl at test time (test/harness/certs.ts):
 * `hades standalone -api-tls-cert/-api-tls-key` speaks HTTPS only (curl with the CA: 200; with
 * another CA: refused; plain HTTP to the port: no answer); `-api-client-ca` (client certificates,
 * tokens still needed): no certificate or one from another CA fails the handshake, one the CA
 * signed gets 200; hades-kubeapi the same from its INI's [HadesApi] keys; hades-apicmd over https
 * with -cacert (and -cert/-key, or their environment variables); every bad file or pairing exits 2
 * with one line naming the flag and the file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, waitFor } from '../dns/clients.js';
import { freeDnsPort, HADES_BIN, type HadesProc, spawnHades } from '../dns/hades-proc.js';
import { makeSelfSigned, makeServerCert, type ServerCert } from '../harness/certs.js';
import { APICMD_BIN, apicmd, KUBEAPI_BIN, startKubeapi, TOKEN } from './helpers.js';

/** curl's exit code, the HTTP status it got ('000': none) and its error line. */
async function curl(args: string[]): Promise<{ code: number; status: string; stderr: string }> {
  const r = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', ...args]);
  return { code: r.code, status: r.stdout.trim(), stderr: r.stderr.trim() };
}

function runBin(bin: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HADES_')) clean[k] = v;
  return spawnSync(process.execPath, [bin, ...args], {
    env: { ...clean, HADES_NAMESERVERS: 'none', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

async function standalone(dir: string, extra: string[]): Promise<{ h: HadesProc; port: number }> {
  const dnsPort = await freeDnsPort();
  const port = await freeDnsPort();
  const h = spawnHades(
    [
      'standalone',
      '-addr',
      `127.0.0.1:${dnsPort}`,
      '-api-addr',
      `127.0.0.1:${port}`,
      '-data-dir',
      path.join(dir, `data-${port}`),
      '-hades-auth',
      TOKEN,
      ...extra,
    ],
    { cwd: dir, env: { HADES_NAMESERVERS: 'none' } },
  );
  await waitFor(
    'the standalone banner',
    () => h.stdout().includes('Ctrl-C stops it.') || h.child.exitCode !== null,
  );
  assert.equal(h.child.exitCode, null, h.stderr());
  return { h, port };
}

describe('TLS for the API and UI', () => {
  let dir: string;
  let srv: ServerCert;
  let client: ServerCert;
  let other: ServerCert;
  const procs: HadesProc[] = [];
  const auth = ['-H', `Authorization: Bearer ${TOKEN}`];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-apitls-'));
    await mkdir(path.join(dir, 'a'));
    await mkdir(path.join(dir, 'b'));
    srv = await makeServerCert(path.join(dir, 'a'), { ips: ['127.0.0.1'], dns: ['localhost'] });
    client = await makeServerCert(path.join(dir, 'a'), { dns: ['api-client'] }, 'client');
    // another CA, and a certificate it signed (a client certificate the API must not accept)
    other = await makeServerCert(path.join(dir, 'b'), { ips: ['127.0.0.1'], dns: ['api-client'] });
  });
  after(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  describe('hades standalone -api-tls-cert -api-tls-key', () => {
    let port: number;
    let base: string;
    before(async () => {
      const s = await standalone(dir, ['-api-tls-cert', srv.certFile, '-api-tls-key', srv.keyFile]);
      procs.push(s.h);
      port = s.port;
      base = `https://127.0.0.1:${port}`;
      assert.match(s.h.stdout(), new RegExp(`web UI  https://127\\.0\\.0\\.1:${port}/ui/`));
    });

    it('curl with the CA: 200 (the API with the token, /health and the UI without)', async () => {
      for (const [p, args] of [
        ['/v1/zones', auth],
        ['/health', []],
        ['/ui/', []],
      ] as const) {
        const r = await curl(['--cacert', srv.caFile, ...args, `${base}${p}`]);
        assert.deepEqual([r.code, r.status], [0, '200'], `${p}: ${r.stderr}`);
      }
      assert.equal((await curl(['--cacert', srv.caFile, `${base}/v1/zones`])).status, '401');
    });

    it('another CA: the certificate is refused (curl 60, fetch fails)', async () => {
      const r = await curl(['--cacert', other.caFile, ...auth, `${base}/v1/zones`]);
      assert.deepEqual([r.code, r.status], [60, '000'], r.stderr);
      await assert.rejects(fetch(`${base}/health`));
    });

    it('plain HTTP to the port gets no HTTP answer (no fallback)', async () => {
      const r = await curl([`http://127.0.0.1:${port}/health`]);
      assert.notEqual(r.code, 0, 'curl must fail');
      assert.equal(r.status, '000');
      await assert.rejects(fetch(`http://127.0.0.1:${port}/health`));
    });

    it('hades-apicmd: -cacert (an -addr without a scheme is then https), HADES_API_CACERT, https:// in -addr', async () => {
      const env = { HADES_API_TOKEN: TOKEN };
      const created = await apicmd(
        [
          '-addr',
          `127.0.0.1:${port}`,
          '-cacert',
          srv.caFile,
          '-method',
          'create',
          '-domain',
          'tls1',
          '-ips',
          '10.7.0.1',
        ],
        env,
      );
      assert.deepEqual([created.code, created.stdout], [0, 'OK\n'], created.stderr);
      const listed = await apicmd(['-list'], { ...env, HADES_API_ADDR: base, HADES_API_CACERT: srv.caFile });
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /tls1\.user\.hades\.local\s+val: \{ type:A {2}ips:\[10\.7\.0\.1\] \}/);
      const wrong = await apicmd(['-addr', base, '-cacert', other.caFile, '-list'], env);
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, new RegExp(`^hades-apicmd: cannot reach ${base}: \\S+`));
      assert.equal(wrong.stderr.trim().split('\n').length, 1);
      const system = await apicmd(['-addr', base, '-list'], env);
      assert.equal(system.code, 1, 'the system CAs do not know the test CA');
      const plain = runBin(
        APICMD_BIN,
        ['-addr', `http://127.0.0.1:${port}`, '-cacert', srv.caFile, '-list'],
        env,
      );
      assert.equal(plain.status, 2);
      assert.match(plain.stderr, /need an https API/);
      const missing = runBin(
        APICMD_BIN,
        ['-addr', base, '-cacert', path.join(dir, 'nope.pem'), '-list'],
        env,
      );
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /-cacert: cannot read ".*nope\.pem": ENOENT/);
    });
  });

  describe('client certificates: -api-client-ca', () => {
    let base: string;
    before(async () => {
      const s = await standalone(dir, [
        '-api-tls-cert',
        srv.certFile,
        '-api-tls-key',
        srv.keyFile,
        '-api-client-ca',
        srv.caFile,
      ]);
      procs.push(s.h);
      base = `https://127.0.0.1:${s.port}`;
    });

    it('no client certificate: the handshake is refused', async () => {
      const r = await curl(['--cacert', srv.caFile, ...auth, `${base}/v1/zones`]);
      assert.notEqual(r.code, 0, 'curl must fail');
      assert.equal(r.status, '000');
      assert.match(r.stderr, /alert|certificate|handshake|reset/i);
    });

    it('a certificate from another CA: refused', async () => {
      const r = await curl([
        '--cacert',
        srv.caFile,
        '--cert',
        other.certFile,
        '--key',
        other.keyFile,
        ...auth,
        `${base}/v1/zones`,
      ]);
      assert.notEqual(r.code, 0);
      assert.equal(r.status, '000');
    });

    it('a certificate the CA signed: 200 with the token, 401 without (the token is still needed)', async () => {
      const withCert = ['--cacert', srv.caFile, '--cert', client.certFile, '--key', client.keyFile];
      assert.equal((await curl([...withCert, ...auth, `${base}/v1/zones`])).status, '200');
      assert.equal((await curl([...withCert, `${base}/v1/zones`])).status, '401');
    });

    it('hades-apicmd -cert -key (and HADES_API_CERT / HADES_API_KEY); without them it fails', async () => {
      const env = { HADES_API_TOKEN: TOKEN, HADES_API_ADDR: base, HADES_API_CACERT: srv.caFile };
      const flags = await apicmd(['-cert', client.certFile, '-key', client.keyFile, '-list'], env);
      assert.equal(flags.code, 0, flags.stderr);
      const viaEnv = await apicmd(['-list'], {
        ...env,
        HADES_API_CERT: client.certFile,
        HADES_API_KEY: client.keyFile,
      });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      const none = await apicmd(['-list'], env);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /^hades-apicmd: cannot reach /);
      const half = runBin(APICMD_BIN, ['-cert', client.certFile, '-list'], env);
      assert.equal(half.status, 2);
      assert.match(half.stderr, /-cert and -key go together: -key is missing/);
    });
  });

  it('hades-kubeapi over HTTPS from its INI ([HadesApi] api-tls-cert, api-tls-key, api-client-ca, api-trusted-proxies)', async () => {
    const port = await freeDnsPort();
    const ini = path.join(dir, 'hades-api.conf');
    await writeFile(
      ini,
      [
        '[General]',
        `data-dir = ${path.join(dir, 'kube-data')}`,
        '[HadesApi]',
        'api-enable = YES',
        `api-address = 127.0.0.1:${port}`,
        `hades-auth = ${TOKEN}`,
        `api-tls-cert = ${srv.certFile}`,
        `api-tls-key = ${srv.keyFile}`,
        `api-client-ca = ${srv.caFile}`,
        'api-trusted-proxies = 127.0.0.0/8',
        '',
      ].join('\n'),
    );
    const k = await startKubeapi(['-config-file', ini, '-logtostderr']);
    try {
      const base = `https://127.0.0.1:${port}`;
      const withCert = ['--cacert', srv.caFile, '--cert', client.certFile, '--key', client.keyFile];
      assert.equal((await curl([...withCert, ...auth, `${base}/v1/zones`])).status, '200');
      // [HadesApi] api-trusted-proxies: the request log names the X-Forwarded-For client
      const xff = ['-H', 'X-Forwarded-For: 203.0.113.77'];
      assert.equal((await curl([...withCert, ...xff, `${base}/v1/zones`])).status, '401');
      await waitFor('the request line', () => k.stderr().includes('203.0.113.77'));
      assert.match(k.stderr(), /"client":"203\.0\.113\.77","peer":"127\.0\.0\.1"/);
      assert.equal((await curl(['--cacert', srv.caFile, ...auth, `${base}/v1/zones`])).status, '000');
      assert.equal((await curl([`http://127.0.0.1:${port}/health`])).status, '000');
      const listed = await apicmd(
        ['-addr', base, '-cacert', srv.caFile, '-cert', client.certFile, '-key', client.keyFile, '-list'],
        {
          HADES_API_TOKEN: TOKEN,
        },
      );
      assert.equal(listed.code, 0, listed.stderr);
    } finally {
      await k.stop();
    }
  });

  it('bad files and pairings: exit 2, one line naming the flag and the file', async () => {
    const notPem = path.join(dir, 'not.pem');
    await writeFile(notPem, 'hello\n');
    await mkdir(path.join(dir, 'self'));
    await makeSelfSigned(path.join(dir, 'self'), { ips: ['127.0.0.1'] });
    const nope = path.join(dir, 'nope.pem');
    const cases: [string[], RegExp][] = [
      [
        ['-api-tls-cert', nope, '-api-tls-key', srv.keyFile],
        /^hades: -api-tls-cert: cannot read ".*nope\.pem": ENOENT$/,
      ],
      [
        ['-api-tls-cert', srv.certFile, '-api-tls-key', nope],
        /^hades: -api-tls-key: cannot read ".*nope\.pem": ENOENT$/,
      ],
      [
        ['-api-tls-cert', notPem, '-api-tls-key', srv.keyFile],
        /^hades: -api-tls-cert: ".*not\.pem" is not a PEM certificate$/,
      ],
      [
        ['-api-tls-cert', srv.certFile, '-api-tls-key', notPem],
        /^hades: -api-tls-key: ".*not\.pem" is not a PEM private key/,
      ],
      [
        ['-api-tls-cert', srv.keyFile, '-api-tls-key', srv.keyFile],
        /^hades: -api-tls-cert: ".*server\.key" is not a PEM certificate$/,
      ],
      [
        ['-api-tls-cert', srv.certFile, '-api-tls-key', other.keyFile],
        /^hades: -api-tls-key: ".*b\/server\.key" is not the key of the certificate in ".*a\/server\.pem"$/,
      ],
      [
        ['-api-tls-cert', srv.certFile],
        /^hades: -api-tls-cert and -api-tls-key go together: -api-tls-key is missing$/,
      ],
      [['-api-client-ca', srv.caFile], /^hades: -api-client-ca needs -api-tls-cert and -api-tls-key/],
      [
        ['-api-tls-cert', srv.certFile, '-api-tls-key', srv.keyFile, '-api-client-ca', notPem],
        /^hades: -api-client-ca: ".*not\.pem" is not a PEM certificate$/,
      ],
      [
        ['-api-trusted-proxies', '10.0.0.0/8,bogus'],
        /^hades: -api-trusted-proxies: "bogus" is not an IP address or CIDR/,
      ],
      [
        ['-api-trusted-proxies', '10.0.0.0/33'],
        /^hades: -api-trusted-proxies: "10\.0\.0\.0\/33" is not an IP address or CIDR/,
      ],
    ];
    for (const [args, want] of cases) {
      const r = runBin(HADES_BIN, ['standalone', '-data-dir', path.join(dir, 'never'), ...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], want);
    }
    // hades-kubeapi: the same checks, from flags or the INI
    const k = runBin(KUBEAPI_BIN, [
      '-config-file',
      '',
      '-data-dir',
      path.join(dir, 'never'),
      '-hades-auth',
      TOKEN,
      '-api-tls-cert',
      srv.certFile,
      '-api-tls-key',
      other.keyFile,
    ]);
    assert.equal(k.status, 2, k.stderr);
    assert.match(
      k.stderr.trim(),
      /^hades-kubeapi: -api-tls-key: ".*" is not the key of the certificate in ".*"$/,
    );
    const ini = path.join(dir, 'bad.conf');
    await writeFile(
      ini,
      `[General]\ndata-dir = ${dir}/never\n[HadesApi]\nhades-auth = ${TOKEN}\napi-tls-cert = ${nope}\napi-tls-key = ${srv.keyFile}\n`,
    );
    const k2 = runBin(KUBEAPI_BIN, ['-config-file', ini]);
    assert.equal(k2.status, 2, k2.stderr);
    assert.match(k2.stderr.trim(), /^hades-kubeapi: -api-tls-cert: cannot read ".*nope\.pem": ENOENT$/);
  });
});
