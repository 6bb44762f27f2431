/**
 * A TSIG key (RFC 8945) as `-tsig` gives it: `<name>:<algorithm>:<base64 secret>` (the order of
 * BIND's `dig -y [alg:]name:secret` with the algorithm moved second; kdig's `-y` puts the
 * algorithm first). Parsed where the flags are (src/config), used by src/dns/transfer.
 */

export type TsigAlgorithm =
  | 'hmac-md5'
  | 'hmac-sha1'
  | 'hmac-sha224'
  | 'hmac-sha256'
  | 'hmac-sha384'
  | 'hmac-sha512';

export const TSIG_ALGORITHMS: readonly TsigAlgorithm[] = Object.freeze([
  'hmac-md5',
  'hmac-sha1',
  'hmac-sha224',
  'hmac-sha256',
  'hmac-sha384',
  'hmac-sha512',
]);

export interface TsigKey {
  /** Lower case, absolute (`xfr.`). */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Buffer;
}

/** Why a `-tsig` spec is bad; `part` is the part named in the message. */
export class TsigSpecError extends Error {
  readonly part: 'format' | 'name' | 'algorithm' | 'secret';
  constructor(part: TsigSpecError['part'], message: string) {
    super(message);
    this.name = 'TsigSpecError';
    this.part = part;
  }
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * `<name>:<algorithm>:<base64 secret>`. Only that order: a guess between it and kdig's would make a
 * typo a different key. The message of a TsigSpecError names the bad part and never holds the
 * secret.
 */
export function parseTsigSpec(spec: string): TsigKey {
  const parts = spec.split(':');
  if (parts.length !== 3) {
    // the text may hold the secret: say only how many parts there were
    throw new TsigSpecError(
      'format',
      `TSIG key has ${parts.length} ':'-separated parts, want name:algorithm:secret`,
    );
  }
  const [rawName, rawAlg, secretText] = parts;
  const alg = rawAlg.toLowerCase() as TsigAlgorithm;
  if (!TSIG_ALGORITHMS.includes(alg)) {
    const hint = TSIG_ALGORITHMS.includes(rawName.toLowerCase() as TsigAlgorithm)
      ? ' (the name comes first: name:algorithm:secret)'
      : '';
    throw new TsigSpecError(
      'algorithm',
      `TSIG key algorithm "${rawAlg}" is not one of ${TSIG_ALGORITHMS.join(', ')}${hint}`,
    );
  }
  let name = rawName.toLowerCase();
  if (name === '' || name === '.') throw new TsigSpecError('name', 'TSIG key name is empty');
  if (!name.endsWith('.')) name += '.';
  if (
    name.length > 254 ||
    !name
      .slice(0, -1)
      .split('.')
      .every((l) => LABEL.test(l))
  )
    throw new TsigSpecError('name', `TSIG key name "${rawName}" is not a domain name`);
  if (secretText === '' || !BASE64.test(secretText))
    throw new TsigSpecError('secret', 'TSIG key secret is not base64');
  return { name, algorithm: alg, secret: Buffer.from(secretText, 'base64') };
}
