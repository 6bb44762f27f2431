/**
 * The etcd TLS files of every program that talks to etcd: the flags (`-ca-cert`, `-tls-key`,
 * `-tls-pem`, also INI keys and `HADES_<FLAG>` where the program has them), else the seed's
 * `ETCD_CACERT`, `ETCD_TLSKEY`, `ETCD_TLSPEM`. Each file must be readable at start (exit 2
 * otherwise); the store checks the contents (src/store/etcd/tls.ts). Each file keeps the name it
 * was given by, so every later message says which setting to fix.
 */
import { accessSync, constants } from 'node:fs';
import { FlagError, type FlagSpec } from './flags.js';

export interface EtcdTlsConfig {
  ca?: string;
  key?: string;
  cert?: string;
  /** How each file was given: `-ca-cert` or `$ETCD_CACERT`… */
  names: { ca?: string; key?: string; cert?: string };
}

const FILES = [
  { flag: 'ca-cert', field: 'ca', env: 'ETCD_CACERT' },
  { flag: 'tls-key', field: 'key', env: 'ETCD_TLSKEY' },
  { flag: 'tls-pem', field: 'cert', env: 'ETCD_TLSPEM' },
] as const;

/** The three flags; `ini` gives each its key in that section (`Etcd` → `[Etcd] ca-cert`). */
export function etcdTlsFlagSpecs(iniSection?: string): FlagSpec[] {
  const ini = (flag: string) => (iniSection ? { ini: `${iniSection}.${flag}` } : {});
  return [
    {
      name: 'tls-key',
      type: 'string',
      default: '',
      ...ini('tls-key'),
      help: 'etcd client private key (PEM file), with -tls-pem; else $ETCD_TLSKEY',
    },
    {
      name: 'tls-pem',
      type: 'string',
      default: '',
      ...ini('tls-pem'),
      help: 'etcd client certificate (PEM file), when etcd wants client certificates; else $ETCD_TLSPEM',
    },
    {
      name: 'ca-cert',
      type: 'string',
      default: '',
      ...ini('ca-cert'),
      help: 'CA certificate (PEM file) that signed the etcd server certificates; else $ETCD_CACERT, else the system roots',
    },
  ];
}

/**
 * The files from the flags' values (`flag(name)`), else the environment; undefined when none is
 * given. Throws FlagError for a file that cannot be read and for a key without a certificate.
 */
export function etcdTlsConfig(
  flag: (name: string) => string,
  env: NodeJS.ProcessEnv,
): EtcdTlsConfig | undefined {
  const tls: EtcdTlsConfig = { names: {} };
  let any = false;
  for (const f of FILES) {
    const fromFlag = flag(f.flag).trim();
    const file = fromFlag || (env[f.env] ?? '').trim();
    if (!file) continue;
    const name = fromFlag ? `-${f.flag}` : `$${f.env}`;
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code;
      throw new FlagError(f.flag, `${name} ${file}: cannot read it: ${why ?? err}`);
    }
    tls[f.field] = file;
    tls.names[f.field] = name;
    any = true;
  }
  if ((tls.key === undefined) !== (tls.cert === undefined)) {
    const [has, lacks] = tls.key === undefined ? (['cert', 'key'] as const) : (['key', 'cert'] as const);
    const missing = FILES.find((f) => f.field === lacks) ?? FILES[0];
    throw new FlagError(
      missing.flag,
      `${tls.names[has]} ${tls[has]} is given without -${missing.flag} (or $${missing.env}): client key and certificate go together`,
    );
  }
  return any ? tls : undefined;
}
