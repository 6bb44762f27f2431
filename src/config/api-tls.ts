/**
 * The API port's TLS files (`-api-tls-cert`, `-api-tls-key`, `-api-client-ca`) read and checked
 * at start, and `-api-trusted-proxies` parsed: a problem is a FlagError naming the flag and the
 * file (the program exits 2 with that one line), never a server that starts and then fails every
 * handshake.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { ServerTls } from '../common/http-server.js';
import { CidrSet } from '../records/cidr-set.js';
import { FlagError } from './flags.js';

export const API_TLS_FLAGS = {
  cert: 'api-tls-cert',
  key: 'api-tls-key',
  clientCa: 'api-client-ca',
  proxies: 'api-trusted-proxies',
} as const;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function read(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FlagError(flag, `-${flag}: cannot read "${file}": ${code ?? (err as Error).message}`);
  }
}

/** The PEM certificates of a file, parsed; a FlagError when there is none or one does not parse. */
function certificates(flag: string, file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new FlagError(flag, `-${flag}: "${file}" is not a PEM certificate`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new FlagError(
        flag,
        `-${flag}: "${file}": certificate ${i + 1} does not parse: ${(err as Error).message}`,
      );
    }
  });
}

/**
 * Reads and checks the files; undefined when neither certificate nor key is given. Checked: each
 * file readable, the certificate PEM and not expired, the key a PEM private key that is the
 * certificate's, the client CA PEM certificates; a client CA needs the certificate and key.
 */
export function loadServerTls(files: { cert: string; key: string; clientCa: string }): ServerTls | undefined {
  const { cert: certFile, key: keyFile, clientCa: caFile } = files;
  const F = API_TLS_FLAGS;
  if (certFile === '' && keyFile === '') {
    if (caFile !== '')
      throw new FlagError(
        F.clientCa,
        `-${F.clientCa} needs -${F.cert} and -${F.key} (client certificates are checked over TLS)`,
      );
    return undefined;
  }
  if (certFile === '' || keyFile === '') {
    const missing = certFile === '' ? F.cert : F.key;
    throw new FlagError(missing, `-${F.cert} and -${F.key} go together: -${missing} is missing`);
  }
  const cert = read(F.cert, certFile);
  const leaf = certificates(F.cert, certFile, cert)[0];
  if (Date.parse(leaf.validTo) < Date.now())
    throw new FlagError(F.cert, `-${F.cert}: "${certFile}" expired on ${leaf.validTo}`);
  const key = read(F.key, keyFile);
  let keyObject: KeyObject;
  try {
    if (!key.toString('latin1').includes('-----BEGIN')) throw new Error('no PEM block');
    keyObject = createPrivateKey(key);
  } catch (err) {
    throw new FlagError(
      F.key,
      `-${F.key}: "${keyFile}" is not a PEM private key (${(err as Error).message})`,
    );
  }
  if (!leaf.checkPrivateKey(keyObject))
    throw new FlagError(F.key, `-${F.key}: "${keyFile}" is not the key of the certificate in "${certFile}"`);
  let clientCa: Buffer | undefined;
  if (caFile !== '') {
    clientCa = read(F.clientCa, caFile);
    certificates(F.clientCa, caFile, clientCa);
  }
  try {
    createSecureContext({ cert, key, ca: clientCa });
  } catch (err) {
    throw new FlagError(F.cert, `-${F.cert}: "${certFile}": ${(err as Error).message}`);
  }
  return clientCa ? { cert, key, clientCa } : { cert, key };
}

/**
 * `-api-trusted-proxies`: CIDRs or bare addresses → canonical CIDRs (`192.0.2.7` → `192.0.2.7/32`).
 * A FlagError names the first entry that is neither.
 */
export function parseTrustedProxies(list: readonly string[]): string[] {
  return parseCidrList(F_PROXIES, list);
}

/** A flag's list of CIDRs or bare addresses → canonical CIDRs; a FlagError names a bad entry. */
export function parseCidrList(flag: string, list: readonly string[]): string[] {
  const set = CidrSet.parse(list);
  if (!(set instanceof CidrSet))
    throw new FlagError(flag, `-${flag}: "${set.entry}" is not an IP address or CIDR (${set.why})`);
  return set.list;
}
const F_PROXIES = API_TLS_FLAGS.proxies;
