/**
 * Certificates for tests, made with the system `openssl` at test time: a CA and server
 * certificates it signs for given DNS names and IP addresses (EC P-256, valid two days), client
 * certificates (signed by it or by another CA, or expired).
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface ServerCert {
  /** PEM files in the directory given. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The same, read. */
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** A self-signed certificate (PEM) and its key in `dir` (`self.pem`, `self.key`), for `dns` names and `ips`. */
export async function makeSelfSigned(
  dir: string,
  sans: { dns?: readonly string[]; ips?: readonly string[] },
): Promise<{ cert: Buffer; key: Buffer }> {
  const alt = [...(sans.dns ?? []).map((d) => `DNS:${d}`), ...(sans.ips ?? []).map((i) => `IP:${i}`)].join(
    ',',
  );
  const cn = sans.dns?.[0] ?? sans.ips?.[0] ?? 'self';
  await run(
    'openssl',
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      'self.key',
      '-out',
      'self.pem',
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      `subjectAltName=${alt}`,
    ],
    { cwd: dir },
  );
  return {
    cert: await readFile(path.join(dir, 'self.pem')),
    key: await readFile(path.join(dir, 'self.key')),
  };
}

/** A CA in `dir` (`ca.pem`, `ca.key`), made once per directory. */
async function ensureCA(dir: string): Promise<void> {
  try {
    await readFile(path.join(dir, 'ca.pem'));
    return;
  } catch {
    // not made yet
  }
  await run(
    'openssl',
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '2',
      '-subj',
      '/CN=hades-test-ca',
    ],
    {
      cwd: dir,
    },
  );
}

/**
 * A server certificate signed by the directory's CA (made first when missing), named `name`
 * (files `<name>.pem`, `<name>.key`), for `dns` names and `ips` in its subjectAltName.
 */
export async function makeServerCert(
  dir: string,
  sans: { dns?: readonly string[]; ips?: readonly string[] },
  name = 'server',
): Promise<ServerCert> {
  await ensureCA(dir);
  const alt = [...(sans.dns ?? []).map((d) => `DNS:${d}`), ...(sans.ips ?? []).map((i) => `IP:${i}`)].join(
    ',',
  );
  await writeFile(
    path.join(dir, `${name}.ext`),
    `subjectAltName=${alt}\nextendedKeyUsage=serverAuth,clientAuth\n`,
  );
  const cn = sans.dns?.[0] ?? sans.ips?.[0] ?? name;
  await run(
    'openssl',
    ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`],
    { cwd: dir },
  );
  await run(
    'openssl',
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    ],
    { cwd: dir },
  );
  const f = (n: string): string => path.join(dir, n);
  return {
    caFile: f('ca.pem'),
    certFile: f(`${name}.pem`),
    keyFile: f(`${name}.key`),
    ca: await readFile(f('ca.pem')),
    cert: await readFile(f(`${name}.pem`)),
    key: await readFile(f(`${name}.key`)),
  };
}

/** Another CA in `dir`: `<name>.pem`, `<name>.key` (one that nothing else trusts). */
export async function makeCA(dir: string, name: string): Promise<string> {
  await run(
    'openssl',
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
    ],
    { cwd: dir },
  );
  return path.join(dir, `${name}.pem`);
}

/**
 * A client certificate (`<name>.pem`, `<name>.key`, extendedKeyUsage clientAuth) signed by the
 * CA `<ca>.pem` in `dir` (default the directory's own CA, made when missing). `expired`: valid
 * only on 1-2 January 2020, through `openssl ca -startdate/-enddate` (OpenSSL 3.0's `x509 -req`
 * cannot set a past validity).
 */
export async function makeClientCert(
  dir: string,
  name: string,
  opts: { ca?: string; expired?: boolean } = {},
): Promise<{ certFile: string; keyFile: string }> {
  const ca = opts.ca ?? 'ca';
  if (ca === 'ca') await ensureCA(dir);
  await run(
    'openssl',
    ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`],
    {
      cwd: dir,
    },
  );
  if (opts.expired) {
    const db = path.join(dir, `${name}.db`);
    await mkdir(db, { recursive: true });
    await writeFile(path.join(db, 'index.txt'), '');
    await writeFile(path.join(db, 'serial'), '01\n');
    await writeFile(
      path.join(dir, `${name}.cnf`),
      [
        '[ca]',
        'default_ca = d',
        '[d]',
        `database = ${db}/index.txt`,
        `new_certs_dir = ${db}`,
        `serial = ${db}/serial`,
        'default_md = sha256',
        'policy = p',
        'unique_subject = no',
        '[p]',
        'commonName = supplied',
        '[ext]',
        'extendedKeyUsage = clientAuth',
        '',
      ].join('\n'),
    );
    await run(
      'openssl',
      [
        'ca',
        '-batch',
        '-config',
        `${name}.cnf`,
        '-cert',
        `${ca}.pem`,
        '-keyfile',
        `${ca}.key`,
        '-in',
        `${name}.csr`,
        '-out',
        `${name}.pem`,
        '-startdate',
        '20200101000000Z',
        '-enddate',
        '20200102000000Z',
        '-extensions',
        'ext',
        '-notext',
      ],
      { cwd: dir },
    );
  } else {
    await writeFile(path.join(dir, `${name}.ext`), 'extendedKeyUsage=clientAuth\n');
    await run(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        `${ca}.pem`,
        '-CAkey',
        `${ca}.key`,
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.pem`,
      ],
      { cwd: dir },
    );
  }
  return { certFile: path.join(dir, `${name}.pem`), keyFile: path.join(dir, `${name}.key`) };
}
