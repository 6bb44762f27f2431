/**
 * A TSIG key (RFC 8945) as `-tsig` gives it: `<name>:<algorithm>:<base64 secret>`, the form of
 * `kdig -y` and `dig -y` with the name first (`transfer.:hmac-sha256:c2VjcmV0…`). Parsed where
 * the flags are (src/config) and used by src/dns/transfer.
 */

export type TsigAlgorithm =
  | 'hmac-md5'
  | 'hmac-sha1'
  | 'hmac-sha224'
  | 'hmac-sha256'
  | 'hmac-sha384'
  | 'hmac-sha512';

export const TSIG_ALGORITHMS: readonly TsigAlgorithm[] = [
  'hmac-sha256',
  'hmac-sha384',
  'hmac-sha512',
  'hmac-sha224',
  'hmac-sha1',
  'hmac-md5',
];

export interface TsigKey {
  /** Lower case, absolute (`transfer.`). */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Buffer;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses `<name>:<algorithm>:<base64 secret>`. Throws an Error saying which part is wrong; the
 * message never holds the secret.
 */
export function parseTsigKey(spec: string): TsigKey {
  const parts = spec.trim().split(':');
  if (parts.length !== 3)
    throw new Error('is not <key name>:<algorithm>:<base64 secret> (e.g. transfer.:hmac-sha256:c2VjcmV0)');
  const [rawName, rawAlg, secretText] = parts;
  let name = rawName.toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name === '' || name.length > 253 || !name.split('.').every((l) => LABEL.test(l)))
    throw new Error(`key name "${rawName}" is not a domain name`);
  // BIND and Knot write the algorithm without the suffix; RFC 8945 names hmac-md5 with it
  const alg = rawAlg.toLowerCase().replace(/\.sig-alg\.reg\.int\.?$/, '') as TsigAlgorithm;
  if (!TSIG_ALGORITHMS.includes(alg))
    throw new Error(`algorithm "${rawAlg}" is not one of ${TSIG_ALGORITHMS.join(', ')}`);
  if (!BASE64.test(secretText) || secretText.length % 4 !== 0)
    throw new Error('secret is not base64 (the secret itself is not shown)');
  const secret = Buffer.from(secretText, 'base64');
  if (secret.length === 0) throw new Error('secret is empty');
  return { name: `${name}.`, algorithm: alg, secret };
}
