/**
 * etcd client TLS: the PEM files read and checked before any connection (a missing, unreadable,
 * unparsable, expired or mismatched file is a configuration error), and TLS handshake failures
 * turned into one line naming the file and the cause.
 *
 * No message made here ever holds file contents: only paths, names and OpenSSL's reasons.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { StoreError } from '../types.js';

export interface EtcdTlsFiles {
  /** CA certificate (PEM file) that signed the etcd server certificates. */
  ca?: string;
  /** Client private key (PEM file), when etcd requires client certificates. */
  key?: string;
  /** Client certificate (PEM file), when etcd requires client certificates. */
  cert?: string;
  /**
   * How each file was given, for messages (`-ca-cert`, `$ETCD_CACERT`); default the seed's
   * variables. Also the names suggested when etcd asks for a client certificate none was given.
   */
  names?: { ca?: string; key?: string; cert?: string };
}

export const SEED_TLS_NAMES = { ca: '$ETCD_CACERT', key: '$ETCD_TLSKEY', cert: '$ETCD_TLSPEM' } as const;

type Which = 'ca' | 'key' | 'cert';

/** `-tls-pem` or `$ETCD_TLSPEM`: how the file `which` was given. */
export function tlsName(files: EtcdTlsFiles | undefined, which: Which): string {
  return files?.names?.[which] ?? SEED_TLS_NAMES[which];
}

/** `-tls-pem /etc/hades/client.pem`. */
function label(files: EtcdTlsFiles, which: Which): string {
  return `${tlsName(files, which)} ${files[which]}`;
}

/** What gRPC needs, and what the checks learned (for later messages). */
export interface EtcdTlsCredentials {
  rootCertificate: Buffer | undefined;
  privateKey: Buffer | undefined;
  certChain: Buffer | undefined;
  /** The client certificate is signed by a CA of the `ca` file (undefined: no cert or no CA file). */
  clientSignedByCa: boolean | undefined;
}

function invalid(message: string, cause?: unknown): StoreError {
  return new StoreError(
    'ESTORE_INVALID',
    `etcd TLS: ${message}`,
    cause === undefined ? undefined : { cause },
  );
}

function pemCertificates(pem: Buffer): string[] {
  return pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function iso(date: string): string {
  const t = Date.parse(date);
  return Number.isNaN(t) ? date : new Date(t).toISOString().replace('.000Z', 'Z');
}

/** Validity of `c` at `now`: undefined when valid, else why not. */
function validity(c: X509Certificate, now: number): string | undefined {
  if (Date.parse(c.validTo) < now) return `certificate has expired (not after ${iso(c.validTo)})`;
  if (Date.parse(c.validFrom) > now) return `certificate is not valid yet (not before ${iso(c.validFrom)})`;
  return undefined;
}

/**
 * Reads and checks the files: each readable; the CA file holds certificates, not all expired; the
 * client certificate parses and is valid now; the key parses and belongs to the certificate.
 * Throws ESTORE_INVALID `etcd TLS: <name> <file>: <cause>`.
 */
export async function loadEtcdTls(files: EtcdTlsFiles, now = Date.now()): Promise<EtcdTlsCredentials> {
  if ((files.key === undefined) !== (files.cert === undefined)) {
    const has: Which = files.key === undefined ? 'cert' : 'key';
    const lacks: Which = has === 'key' ? 'cert' : 'key';
    throw invalid(
      `${label(files, has)} needs ${tlsName(files, lacks)} too (client key and certificate go together)`,
    );
  }
  const read = async (which: Which): Promise<Buffer | undefined> => {
    const file = files[which];
    if (!file) return undefined;
    try {
      return await readFile(file);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why =
        e.code === 'ENOENT'
          ? 'no such file'
          : e.code === 'EACCES'
            ? 'permission denied'
            : e.code === 'EISDIR'
              ? 'is a directory'
              : (e.code ?? e.message);
      throw invalid(`${label(files, which)}: cannot read it: ${why}`, err);
    }
  };
  const caPem = await read('ca');
  const keyPem = await read('key');
  const certPem = await read('cert');

  const parse = (which: Which, pem: Buffer): X509Certificate[] => {
    const blocks = pemCertificates(pem);
    if (blocks.length === 0) throw invalid(`${label(files, which)}: holds no PEM certificate`);
    return blocks.map((b) => {
      try {
        return new X509Certificate(b);
      } catch (err) {
        throw invalid(`${label(files, which)}: not a valid certificate: ${(err as Error).message}`, err);
      }
    });
  };

  let cas: X509Certificate[] | undefined;
  if (caPem) {
    cas = parse('ca', caPem);
    const usable = cas.filter((c) => validity(c, now) === undefined);
    if (usable.length === 0) throw invalid(`${label(files, 'ca')}: ${validity(cas[0], now)}`);
  }

  let clientSignedByCa: boolean | undefined;
  if (certPem && keyPem) {
    const leaf = parse('cert', certPem)[0];
    const bad = validity(leaf, now);
    if (bad) throw invalid(`${label(files, 'cert')}: ${bad}`);
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPem);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why =
        e.code === 'ERR_MISSING_PASSPHRASE'
          ? 'the key is encrypted (a passphrase is not supported)'
          : `not a PEM private key (${e.code ?? e.message})`;
      throw invalid(`${label(files, 'key')}: ${why}`, err);
    }
    if (key.type !== 'private') throw invalid(`${label(files, 'key')}: not a private key`);
    if (!leaf.checkPrivateKey(key))
      throw invalid(`${label(files, 'key')} is not the key of ${label(files, 'cert')}`);
    if (cas) clientSignedByCa = cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  }
  return { rootCertificate: caPem, privateKey: keyPem, certChain: certPem, clientSignedByCa };
}

/** OpenSSL's reason inside a gRPC error message, without codes, file names and timestamps. */
function reasonOf(message: string): string {
  const alert = /alert ([a-z ]+?)(?::|\s*$|\s+\(|\s+SSL)/i.exec(message);
  if (alert) return `TLS alert from the server: ${alert[1].trim()}`;
  const last = /Last error: (?:Error: )?([\s\S]*?)(?:\.?\s*Resolution note[\s\S]*)?$/.exec(message);
  // Node 24 appends advice about --use-system-ca to certificate errors: not ours to give
  return (last ? last[1] : message)
    .replace(/; if the root CA is installed locally, try running Node\.js with --use-system-ca/, '')
    .trim()
    .replace(/\.$/, '');
}

const SERVER_UNTRUSTED =
  /unable to verify the first certificate|unable to get local issuer certificate|unable to get issuer certificate|self[- ]signed certificate|certificate signature failure|CERT_UNTRUSTED|certificate chain too long|invalid CA certificate/i;
const SERVER_NAME = /Hostname\/IP does not match|ERR_TLS_CERT_ALTNAME_INVALID|altnames/i;
const SERVER_TIME =
  /certificate has expired|certificate is not yet valid|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID/i;
const CLIENT_REFUSED =
  /alert (bad certificate|certificate required|unknown ca|certificate expired|certificate unknown|certificate revoked|unsupported certificate|access denied|handshake failure)/i;
const NOT_TLS = /wrong version number|packet length too long|http request|unknown protocol/i;
/** Also what a network cut mid-handshake looks like: not a reason to stop waiting for etcd. */
const HANDSHAKE_CUT = /socket disconnected before secure TLS connection was established/i;

/** A failure waiting does not cure (unlike a connection cut during the handshake). */
export function tlsFailureIsFinal(err: unknown): boolean {
  return !HANDSHAKE_CUT.test(err instanceof Error ? err.message : String(err));
}

/**
 * One line for a failed TLS handshake with etcd, naming the file at fault and the cause;
 * undefined when `err` is not a TLS failure.
 */
export function describeTlsFailure(
  err: unknown,
  endpoints: readonly string[],
  files: EtcdTlsFiles | undefined,
  creds: Pick<EtcdTlsCredentials, 'clientSignedByCa'> | undefined,
): string | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const where = endpoints.join(', ');
  const reason = reasonOf(message);
  if (CLIENT_REFUSED.test(message)) {
    if (!files?.cert)
      return `etcd TLS: ${where} wants a client certificate and none was given (-tls-pem and -tls-key, or $ETCD_TLSPEM and $ETCD_TLSKEY) (${reason})`;
    const hint =
      creds?.clientSignedByCa === false
        ? `; it is not signed by ${label(files, 'ca')}, and etcd takes only certificates of a CA in its --trusted-ca-file`
        : creds?.clientSignedByCa === true
          ? `; is ${label(files, 'ca')} in etcd's --trusted-ca-file?`
          : '; etcd takes only certificates of a CA in its --trusted-ca-file';
    return `etcd TLS: ${where} refused the client certificate ${label(files, 'cert')} (${reason})${hint}`;
  }
  if (SERVER_UNTRUSTED.test(message)) {
    const by = files?.ca ? label(files, 'ca') : 'a system root CA (no -ca-cert or $ETCD_CACERT given)';
    return `etcd TLS: the server certificate of ${where} is not signed by ${by} (${reason})`;
  }
  if (SERVER_NAME.test(message))
    return `etcd TLS: the server certificate of ${where} is not for that address (${reason})`;
  if (SERVER_TIME.test(message))
    return `etcd TLS: the server certificate of ${where} is not valid now (${reason})`;
  if (NOT_TLS.test(message) && /SSL|TLS|ssl/.test(message))
    return `etcd TLS: ${where} does not speak TLS (${reason}); use http:// endpoints`;
  if (HANDSHAKE_CUT.test(message))
    return `etcd TLS: ${where} closed the connection during the TLS handshake (${reason}): an etcd without TLS (then use http:// endpoints)?`;
  return undefined;
}
