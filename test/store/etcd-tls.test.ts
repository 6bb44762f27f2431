/**
 * openEtcdStore's TLS, table-driven, on a real etcd with `--client-cert-auth` and certificates made
 * by openssl here: every bad file is refused before any connection (ESTORE_INVALID, one line
 * naming the setting, the file and the cause), every refused handshake or unverified server is
 * ESTORE_UNAVAILABLE at once with a line naming the file at fault, and the right files work.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type EtcdTlsFiles, openEtcdStore } from '../../src/store/etcd/etcd.js';
import { describeTlsFailure } from '../../src/store/etcd/tls.js';
import { StoreError } from '../../src/store/types.js';
import { makeCA, makeClientCert, makeServerCert } from '../harness/certs.js';
import { type EtcdProcess, startEtcd } from '../harness/etcd.js';

const openssl = ['/usr/bin/openssl', '/bin/openssl'].find((f) => existsSync(f));
const NAMES = { ca: '-ca-cert', key: '-tls-key', cert: '-tls-pem' };

describe('etcd TLS: openEtcdStore', { skip: openssl ? false : 'openssl is not installed' }, () => {
  let dir: string;
  let etcd: EtcdProcess;
  let plain: EtcdProcess;
  const f = (name: string) => path.join(dir, name);
  let keyLine: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-store-tls-'));
    await makeServerCert(dir, { dns: ['localhost'], ips: ['127.0.0.1'] }, 'server');
    await makeClientCert(dir, 'client');
    await makeCA(dir, 'other-ca');
    await makeClientCert(dir, 'other-client', { ca: 'other-ca' });
    await makeClientCert(dir, 'expired-client', { expired: true });
    await writeFile(f('garbage.pem'), 'not a certificate\n');
    await writeFile(f('broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    await mkdir(f('a-dir'));
    await copyFile(f('client.key'), f('unreadable.key'));
    await chmod(f('unreadable.key'), 0o000);
    keyLine = (await readFile(f('client.key'), 'utf8')).split('\n')[1];
    etcd = await startEtcd({
      tls: {
        certFile: f('server.pem'),
        keyFile: f('server.key'),
        caFile: f('ca.pem'),
        clientCertAuth: true,
        clientCertFile: f('client.pem'),
        clientKeyFile: f('client.key'),
      },
    });
    plain = await startEtcd();
  });

  after(async () => {
    await etcd?.stop();
    await plain?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const good = (): EtcdTlsFiles => ({
    ca: f('ca.pem'),
    key: f('client.key'),
    cert: f('client.pem'),
    names: NAMES,
  });

  it('the right files: reads and writes', async () => {
    const store = await openEtcdStore({ endpoints: [etcd.endpoint], tls: good() });
    try {
      await store.put('/tls/k', 'v');
      assert.equal((await store.get('/tls/k'))?.value, 'v');
    } finally {
      await store.close();
    }
  });

  it('a bad local file: ESTORE_INVALID before any connection, naming the setting, file and cause', async () => {
    const root = process.getuid?.() === 0;
    const cases: [string, Partial<EtcdTlsFiles>, () => RegExp][] = [
      [
        'missing CA',
        { ca: f('nope/ca.pem') },
        () => /^etcd TLS: -ca-cert \S+nope\/ca\.pem: cannot read it: no such file$/,
      ],
      [
        'CA is a directory',
        { ca: f('a-dir') },
        () => /^etcd TLS: -ca-cert \S+a-dir: cannot read it: is a directory$/,
      ],
      [
        'CA holds no certificate',
        { ca: f('garbage.pem') },
        () => /^etcd TLS: -ca-cert \S+garbage\.pem: holds no PEM certificate$/,
      ],
      [
        'CA does not parse',
        { ca: f('broken.pem') },
        () => /^etcd TLS: -ca-cert \S+broken\.pem: not a valid certificate: /,
      ],
      [
        'missing client certificate',
        { cert: f('nope/client.pem') },
        () => /^etcd TLS: -tls-pem \S+nope\/client\.pem: cannot read it: no such file$/,
      ],
      [
        'missing client key',
        { key: f('nope/client.key') },
        () => /^etcd TLS: -tls-key \S+nope\/client\.key: cannot read it: no such file$/,
      ],
      [
        'expired client certificate',
        { key: f('expired-client.key'), cert: f('expired-client.pem') },
        () =>
          /^etcd TLS: -tls-pem \S+expired-client\.pem: certificate has expired \(not after 2020-01-02T00:00:00Z\)$/,
      ],
      [
        'key of another certificate',
        { key: f('other-client.key') },
        () => /^etcd TLS: -tls-key \S+other-client\.key is not the key of -tls-pem \S+\/client\.pem$/,
      ],
      [
        'a certificate as the key',
        { key: f('client.pem') },
        () => /^etcd TLS: -tls-key \S+client\.pem: not a PEM private key/,
      ],
      [
        'key without certificate',
        { cert: undefined },
        () => /^etcd TLS: -tls-key \S+client\.key needs -tls-pem too/,
      ],
      ...(root
        ? []
        : [
            [
              'unreadable key',
              { key: f('unreadable.key') },
              () => /^etcd TLS: -tls-key \S+unreadable\.key: cannot read it: permission denied$/,
            ] as [string, Partial<EtcdTlsFiles>, () => RegExp],
          ]),
    ];
    for (const [what, change, re] of cases) {
      const tls = { ...good(), ...change };
      const err = await openEtcdStore({ endpoints: [etcd.endpoint], tls, dialTimeoutMs: 20_000 }).then(
        () => assert.fail(`${what}: opened`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StoreError, what);
      assert.equal(err.code, 'ESTORE_INVALID', `${what}: ${err.message}`);
      assert.match(err.message, re(), what);
      assert.ok(
        !err.message.includes('PRIVATE KEY') && !err.message.includes(keyLine),
        `${what}: key material`,
      );
    }
  });

  it('a handshake that fails: ESTORE_UNAVAILABLE at once (not after the dial timeout), naming the file at fault', async () => {
    const ep = () => etcd.endpoint.replace(/[.]/g, '\\.');
    const cases: [string, EtcdTlsFiles | undefined, () => string, () => RegExp][] = [
      [
        'a CA that did not sign the server certificate',
        { ...good(), ca: f('other-ca.pem') },
        () => etcd.endpoint,
        () =>
          new RegExp(
            `^etcd TLS: the server certificate of ${ep()} is not signed by -ca-cert \\S+other-ca\\.pem \\(unable to verify the first certificate\\)$`,
          ),
      ],
      [
        'no CA: the system roots',
        { key: f('client.key'), cert: f('client.pem'), names: NAMES },
        () => etcd.endpoint,
        () => /is not signed by a system root CA \(no -ca-cert or \$ETCD_CACERT given\)/,
      ],
      [
        'no client certificate',
        { ca: f('ca.pem'), names: NAMES },
        () => etcd.endpoint,
        () =>
          new RegExp(
            `^etcd TLS: ${ep()} wants a client certificate and none was given \\(-tls-pem and -tls-key, or \\$ETCD_TLSPEM and \\$ETCD_TLSKEY\\) \\(TLS alert from the server: (bad certificate|certificate required)\\)$`,
          ),
      ],
      [
        "another CA's client certificate",
        { ...good(), key: f('other-client.key'), cert: f('other-client.pem') },
        () => etcd.endpoint,
        () =>
          new RegExp(
            `^etcd TLS: ${ep()} refused the client certificate -tls-pem \\S+other-client\\.pem \\(TLS alert from the server: bad certificate\\); it is not signed by -ca-cert \\S+/ca\\.pem`,
          ),
      ],
      [
        'https to an etcd speaking http',
        good(),
        () => plain.endpoint.replace('http:', 'https:'),
        () =>
          /^etcd TLS: https:\/\/127\.0\.0\.1:\d+ closed the connection during the TLS handshake \(.*\): an etcd without TLS \(then use http:\/\/ endpoints\)\?$/,
      ],
    ];
    for (const [what, tls, endpoint, re] of cases) {
      const t0 = Date.now();
      // a cut handshake may be the network: that one waits for the dial timeout, then says it
      const cut = what.startsWith('https to');
      const err = await openEtcdStore({
        endpoints: [endpoint()],
        tls,
        dialTimeoutMs: cut ? 3000 : 20_000,
      }).then(
        () => assert.fail(`${what}: opened`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof StoreError, what);
      assert.equal(err.code, 'ESTORE_UNAVAILABLE', `${what}: ${err.message}`);
      assert.match(err.message, re(), what);
      // told at the first refusal, long before the 20 s dial timeout
      assert.ok(Date.now() - t0 < 15_000, `${what}: took ${Date.now() - t0} ms`);
    }
  });

  it('describeTlsFailure: the other causes OpenSSL and Node report', () => {
    const files: EtcdTlsFiles = { ca: '/p/ca.pem', key: '/p/c.key', cert: '/p/c.pem', names: NAMES };
    const grpc = (last: string) =>
      `14 UNAVAILABLE: No connection established. Last error: ${last}. Resolution note: `;
    const cases: [string, string, RegExp | undefined][] = [
      [
        'server says the client certificate expired',
        grpc(
          '80CC03A89F7F0000:error:0A000415:SSL routines:ssl3_read_bytes:sslv3 alert certificate expired:../deps/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 45\n (2026-12-06T10:17:38.563Z)',
        ),
        /^etcd TLS: https:\/\/e:1 refused the client certificate -tls-pem \/p\/c\.pem \(TLS alert from the server: certificate expired\); is -ca-cert \/p\/ca\.pem in etcd's --trusted-ca-file\?$/,
      ],
      [
        'server certificate for another name',
        grpc(
          "Error: Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list: ",
        ),
        /^etcd TLS: the server certificate of https:\/\/e:1 is not for that address \(Hostname\/IP does not match/,
      ],
      [
        'expired server certificate',
        grpc('Error: certificate has expired'),
        /^etcd TLS: the server certificate of https:\/\/e:1 is not valid now \(certificate has expired\)$/,
      ],
      [
        'self-signed server certificate',
        grpc('Error: self-signed certificate'),
        /^etcd TLS: the server certificate of https:\/\/e:1 is not signed by -ca-cert \/p\/ca\.pem \(self-signed certificate\)$/,
      ],
      ['connection refused', grpc('Error: connect ECONNREFUSED 127.0.0.1:1'), undefined],
      ['deadline', '4 DEADLINE_EXCEEDED: Deadline exceeded', undefined],
    ];
    for (const [what, message, re] of cases) {
      const line = describeTlsFailure(new Error(message), ['https://e:1'], files, { clientSignedByCa: true });
      if (re === undefined) assert.equal(line, undefined, what);
      else assert.match(line ?? '', re, what);
    }
  });
});
