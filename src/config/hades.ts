/**
 * The `hades` command line: the seed's flags (Hades 1.0.1's `hades`), the ones this release adds,
 * and the one typed HadesConfig every other part of the program reads.
 *
 *   hades [flags]              the DNS server (etcd with -machines, else the embedded store)
 *   hades standalone [flags]   zero-setup: DNS on 127.0.0.1:5353, embedded store in ./hades-data,
 *                              /health and /ready on 127.0.0.1:9001 (where the API will live)
 *
 * Every flag is also `--flag=value` and `HADES_<FLAG>` in the environment (flags.ts). The etcd
 * TLS files also come from the seed's ETCD_CACERT / ETCD_TLSKEY / ETCD_TLSPEM.
 */
import { availableParallelism } from 'node:os';
import {
  type HostPort,
  HostPortError,
  type HostPortOptions,
  parseHostPort,
  UPSTREAM,
} from '../common/host-port.js';
import type { ServerTls } from '../common/http-server.js';
import { parseTsigSpec, type TsigKey } from '../common/tsig-key.js';
import { normalizeMonitorPath } from '../records/health.js';
import { canonicalIP } from '../records/ip.js';
import { normalizePrefix } from '../records/keys.js';
import { parseName } from '../records/names.js';
import { MAX_TTL } from '../records/record.js';
import { DEFAULT_TOPOLOGY_PATH, normalizeTopologyPath } from '../records/topology.js';
import type { AllDownPolicy, SelectPolicy } from '../records/types.js';
import { ALL_DOWN_POLICIES, SELECT_POLICIES } from '../records/types.js';
import { loadServerTls, parseCidrList, parseTrustedProxies } from './api-tls.js';
import { type CommandLine, VERSION_FLAG } from './cli.js';
import { type EtcdTlsConfig, etcdTlsConfig, etcdTlsFlagSpecs } from './etcd-tls.js';
import { FlagError, type FlagSpec, type FlagValues, parseFlags, strayArgument, usage } from './flags.js';
import { ForwardConfigError, parseStubFlag } from './forward.js';

export const PROGRAM = 'hades';
export const STANDALONE = 'standalone';

export const DEFAULT_ADDR = '127.0.0.1:53';
export const STANDALONE_ADDR = '127.0.0.1:5353';
export const STANDALONE_API_ADDR = '127.0.0.1:9001';
export const DEFAULT_DATA_DIR = './hades-data';

export interface HadesConfig {
  /** `server` (plain `hades`) or `standalone`. */
  mode: 'server' | 'standalone';
  /** DNS listen address (UDP and TCP). */
  listen: HostPort;
  /** Zones Hades is authoritative for, canonical (lower case, trailing dot), first = the main one. */
  zones: string[];
  /** etcd endpoints; empty = the embedded store in `dataDir`. */
  machines: string[];
  dataDir: string;
  /** etcd TLS files (flags, else ETCD_CACERT / ETCD_TLSKEY / ETCD_TLSPEM); undefined when none. */
  tls: EtcdTlsConfig | undefined;
  /** Record key prefix, normalised (`/hades`). */
  prefix: string;
  /** Health key prefix, one trailing slash (`/hades/monitor/status/`). */
  ipMonitorPath: string;
  /** `-topology-path`: `<path><zone>` = `{"cidrs":[…]}` (locality). */
  topologyPath: string;
  /** Network read timeout: TCP idle timeout, and the time each forwarded try waits, ms. */
  readTimeoutMs: number;
  /** TTL of records without a `ttl` field, seconds. */
  defaultTtl: number;
  select: SelectPolicy;
  /** `-all-down`: what a name answers when every address not drained is DOWN; a record's `alldown` overrides it. */
  allDown: AllDownPolicy;
  /** `-trust-ecs`: sticky identifies clients by the query's EDNS Client Subnet (and echoes it). */
  trustEcs: boolean;
  /** `-transfer-allow`: canonical CIDRs that may AXFR/IXFR the zones (empty: none). */
  transferAllow: string[];
  /** `-tsig`: the key transfers must be signed with (and NOTIFYs are signed with). */
  tsig: TsigKey | undefined;
  /** `-notify`: secondaries told of every zone change (RFC 1996). */
  notify: HostPort[];
  /** Worker processes (≥ 1; `-workers 0` means one per CPU). */
  workers: number;
  /** Concurrent TCP connections per worker; more are closed at once. */
  maxTcpConnections: number;
  /** `-udp-batch`: batched UDP (recvmmsg/sendmmsg via the native addon); false: node:dgram. */
  udpBatch: boolean;
  /** Prometheus /metrics, /health, /ready port (0 = off). */
  metricsPort: number;
  /** IP the metrics port binds: `-metrics-addr`, else the host of `-addr`. */
  metricsHost: string;
  /** `-log-queries`: one log line per query. */
  logQueries: boolean;
  /** `-snapshot`: the catalog's snapshot file ('' = none). */
  snapshot: string;
  /** Upstreams for non-local names; empty = those of /etc/resolv.conf (unless `forwarding` is off). */
  nameservers: HostPort[];
  /** False for `-nameservers none`: names outside -domain get REFUSED, nothing is sent upstream. */
  forwarding: boolean;
  /** `-stub`: zone (canonical) → its upstreams; the longest matching zone wins. */
  stubs: Map<string, HostPort[]>;
  /** Response cache (forwarded answers) capacity in messages (0 = off) and its TTL cap, seconds. */
  rcache: number;
  rcacheTtl: number;
  /** Standalone only: where the REST API (`/hades`, `/v1`) and /health, /ready listen. */
  apiAddr: HostPort | undefined;
  /** Standalone only: the API's read + write token (`-hades-auth`); '' = generate one at start. */
  hadesAuth: string;
  /** Standalone only: `-api-tls-cert`/`-api-tls-key` (and `-api-client-ca`), read and checked: HTTPS only. */
  apiTls: ServerTls | undefined;
  /** Standalone only: `-api-trusted-proxies`, canonical CIDRs (X-Forwarded-For believed from them). */
  apiTrustedProxies: string[];
  log: { logtostderr: boolean; logDir: string; verbosity: number };
}

/** The flag table. `standalone` changes only the defaults that differ in standalone mode. */
export function hadesFlagSpecs(mode: 'server' | 'standalone' = 'server'): FlagSpec[] {
  const standalone = mode === 'standalone';
  return [
    {
      name: 'addr',
      type: 'string',
      default: standalone ? STANDALONE_ADDR : DEFAULT_ADDR,
      help: 'IP:port to serve DNS on, UDP and TCP (IPv6 as [::1]:53; :53 means every IPv4 address)',
    },
    {
      name: 'domain',
      type: 'list',
      default: 'hades.local.',
      help: 'zone(s) Hades is authoritative for, comma separated; reverse zones (e.g. 10.in-addr.arpa.) too',
    },
    {
      name: 'machines',
      type: 'list',
      default: '',
      help: 'etcd endpoints, comma separated (http://127.0.0.1:2379); none: the embedded store in -data-dir',
    },
    {
      name: 'data-dir',
      type: 'string',
      default: DEFAULT_DATA_DIR,
      help: 'directory of the embedded store, used when -machines is empty',
    },
    {
      name: 'prefix',
      type: 'string',
      default: '/hades',
      help: 'etcd key prefix of the records (SkyDNS used /skydns)',
    },
    {
      name: 'ip-monitor-path',
      type: 'string',
      default: '/hades/monitor/status/',
      help: 'etcd prefix of the health states: <path><ip> = {"status":"UP"|"DOWN"}',
    },
    {
      name: 'topology-path',
      type: 'string',
      default: DEFAULT_TOPOLOGY_PATH,
      help: 'etcd prefix of the zones for locality: <path><zone> = {"cidrs":["10.1.0.0/16"]}',
    },
    {
      name: 'ttl',
      type: 'int',
      default: '3600',
      min: 0,
      max: MAX_TTL,
      help: 'TTL in seconds of records without a "ttl" field',
    },
    {
      name: 'select',
      type: 'string',
      default: 'sticky',
      choices: SELECT_POLICIES,
      help:
        'which addresses an A/AAAA answer carries: sticky (one per client, the same from every replica), ' +
        'random-one (one, weighted random per query), all (every healthy one, shuffled); a record\'s "select" overrides it',
    },
    {
      name: 'all-down',
      type: 'string',
      default: 'open',
      choices: ALL_DOWN_POLICIES,
      help:
        'when every address of a name that is not drained is DOWN: open serves them (fail-open), ' +
        'closed answers SERVFAIL (try again later); a record\'s "alldown" overrides it',
    },
    {
      name: 'trust-ecs',
      type: 'bool',
      default: 'false',
      help:
        'sticky: identify clients by the EDNS Client Subnet their resolver sends (its prefix) instead of the ' +
        'source address, and echo it with a scope; only when every resolver asking is trusted',
    },
    {
      name: 'transfer-allow',
      type: 'list',
      default: '',
      help: 'CIDRs or addresses (comma separated) that may transfer the zones (AXFR, IXFR over TCP) as -select all answers them; none: REFUSED',
    },
    {
      name: 'tsig',
      type: 'string',
      default: '',
      help: 'TSIG key <name>:<algorithm>:<base64 secret> (hmac-sha256, -sha384, -sha512, -sha224, -sha1, -md5): transfers must be signed with it, NOTIFYs and replies to signed requests are signed',
    },
    {
      name: 'notify',
      type: 'list',
      default: '',
      help: 'secondaries (ip:port, comma separated; port 53 when left out) sent a NOTIFY when a zone changes, at most one per second per zone, retried until acknowledged',
    },
    {
      name: 'read_timeout',
      aliases: ['rtimeout'],
      type: 'duration',
      default: '2s',
      help: 'network read timeout: idle TCP connections are closed after it, and each forwarded try waits this long',
    },
    {
      name: 'workers',
      type: 'int',
      default: '1',
      min: 0,
      max: 1024,
      help: 'processes serving the same address, each with its own catalog (0: one per CPU)',
    },
    {
      name: 'udp-batch',
      type: 'bool',
      default: 'true',
      help:
        'receive and send UDP in batches (recvmmsg/sendmmsg, native addon, Linux); false, or the addon ' +
        'not built: node:dgram, one datagram per call (slower)',
    },
    {
      name: 'max-tcp-connections',
      type: 'int',
      default: '1000',
      min: 1,
      max: 1_000_000,
      help: 'concurrent TCP connections per worker; connections beyond it are closed at once',
    },
    {
      name: 'nameservers',
      type: 'list',
      default: '',
      help:
        'upstream resolvers (ip:port, comma separated) for names outside -domain; default: those of /etc/resolv.conf; ' +
        '"none": no forwarding (such names get REFUSED). Never this server itself: hades refuses to start on a loop',
    },
    {
      name: 'stub',
      type: 'string',
      default: '',
      help:
        'per-zone upstreams, used instead of -nameservers for names in the zone (longest zone wins): ' +
        'zone=ip:port,ip:port;zone2=ip:port',
    },
    {
      name: 'rcache',
      type: 'int',
      default: '0',
      min: 0,
      max: 100_000_000,
      help:
        'capacity of the response cache in messages (0: no cache): upstream answers for names outside -domain, ' +
        'per worker, least recently used evicted first',
    },
    {
      name: 'rcache_ttl',
      type: 'int',
      default: '60',
      min: 1,
      max: MAX_TTL,
      help: 'longest time in seconds an answer stays in the response cache, and the largest TTL it serves',
    },
    {
      name: 'metrics-port',
      type: 'int',
      default: '0',
      min: 0,
      max: 65535,
      help: 'port of Prometheus /metrics, /health and /ready (0: off); with -workers, one port for all of them',
    },
    {
      name: 'metrics-addr',
      type: 'string',
      default: '',
      help: 'IP address the metrics port binds (default: the host of -addr)',
    },
    {
      name: 'snapshot',
      type: 'string',
      default: '',
      help: 'keep the records in this file (written atomically, at most every 5 s) and answer from it while the store is unreachable at start',
    },
    {
      name: 'log-queries',
      type: 'bool',
      default: 'false',
      help: 'log one line per query (client, name, type, rcode, answer count, duration)',
    },
    {
      name: 'api-addr',
      type: 'string',
      default: standalone ? STANDALONE_API_ADDR : '',
      help: 'standalone only: IP:port of the REST API (/hades, /v1) and /health, /ready; empty: none',
    },
    {
      name: 'hades-auth',
      type: 'string',
      default: '',
      help: 'standalone only: the API token (read and write); empty: a random one in <data-dir>/api-token',
    },
    {
      name: 'api-tls-cert',
      type: 'string',
      default: '',
      help: 'standalone only: certificate (PEM file, chain after it) of the API port; with -api-tls-key it speaks HTTPS only',
    },
    {
      name: 'api-tls-key',
      type: 'string',
      default: '',
      help: 'standalone only: private key (PEM file) of -api-tls-cert',
    },
    {
      name: 'api-client-ca',
      type: 'string',
      default: '',
      help: 'standalone only: CA (PEM file) that signs client certificates; set, every API client must present one (tokens still apply)',
    },
    {
      name: 'api-trusted-proxies',
      type: 'list',
      default: '',
      help: 'standalone only: proxies (CIDRs or addresses, comma separated) whose X-Forwarded-For names the client for the rate limit; none: the header is ignored',
    },

    ...etcdTlsFlagSpecs(),
    { name: 'logtostderr', type: 'bool', default: 'false', help: 'log to standard error instead of files' },
    {
      name: 'log_dir',
      type: 'string',
      default: '',
      help: 'directory of the log file (<dir>/hades.log); none: standard error',
    },
    { name: 'v', type: 'int', default: '0', min: 0, max: 10, help: 'log verbosity (1 and above: debug)' },
    VERSION_FLAG,
  ];
}

export const HADES_SYNOPSIS = '[flags]\n       hades standalone [flags]';

/** `-tsig`: a key, or undefined when empty; a bad one is a FlagError that never shows the secret. */
function tsigFlag(text: string): TsigKey | undefined {
  if (text === '') return undefined;
  try {
    return parseTsigSpec(text);
  } catch (err) {
    throw new FlagError('tsig', `-tsig: ${(err as Error).message}`);
  }
}

/** A host:port flag value; a bad one is a FlagError naming the flag. */
export function hostPortFlag(flag: string, text: string, opts?: HostPortOptions): HostPort {
  try {
    return parseHostPort(text, opts);
  } catch (err) {
    if (err instanceof HostPortError) throw new FlagError(flag, `-${flag}: "${text}" ${err.message}`);
    throw err;
  }
}

function checkEndpoint(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new FlagError('machines', `-machines: "${text}" is not an etcd endpoint (want http://host:port)`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname.length > 1 || !url.port)
    throw new FlagError('machines', `-machines: "${text}" is not an etcd endpoint (want http://host:port)`);
  return text.replace(/\/+$/, '');
}

/** Builds and validates the config from parsed flag values. Throws FlagError naming the flag. */
export function buildHadesConfig(
  mode: 'server' | 'standalone',
  v: FlagValues,
  env: NodeJS.ProcessEnv = process.env,
): HadesConfig {
  const str = (name: string): string => (v[name] as string).trim();
  const num = (name: string): number => v[name] as number;
  const list = (name: string): string[] => v[name] as string[];

  const listen = hostPortFlag('addr', str('addr'));

  const zones: string[] = [];
  for (const z of list('domain')) {
    let zone: string;
    try {
      zone = parseName(z);
    } catch (err) {
      throw new FlagError('domain', `-domain: "${z}" is not a zone name: ${(err as Error).message}`);
    }
    if (zone.includes('*')) throw new FlagError('domain', `-domain: "${z}" has a wildcard label`);
    if (!zones.includes(zone)) zones.push(zone);
  }
  if (zones.length === 0) throw new FlagError('domain', '-domain: no zone given');

  const machines = list('machines').map(checkEndpoint);
  const dataDir = str('data-dir');
  if (machines.length === 0 && dataDir === '')
    throw new FlagError('data-dir', '-data-dir: empty, and no -machines given: nowhere to keep records');

  const prefixText = str('prefix');
  if (prefixText === '' || !prefixText.startsWith('/') || /\s/.test(prefixText))
    throw new FlagError('prefix', `-prefix: "${prefixText}" is not a key prefix (want e.g. /hades)`);
  const prefix = normalizePrefix(prefixText);

  const mon = str('ip-monitor-path');
  if (mon === '' || !mon.startsWith('/') || mon === '/')
    throw new FlagError(
      'ip-monitor-path',
      `-ip-monitor-path: "${mon}" is not a key prefix (want e.g. /hades/monitor/status/)`,
    );
  const ipMonitorPath = normalizeMonitorPath(mon);
  const recordStart = prefix === '/' ? '/' : `${prefix}/`;
  if (recordStart.startsWith(ipMonitorPath))
    throw new FlagError('ip-monitor-path', `-ip-monitor-path: "${mon}" contains the record prefix ${prefix}`);

  const topo = str('topology-path');
  if (topo === '' || !topo.startsWith('/') || topo === '/' || /\s/.test(topo))
    throw new FlagError(
      'topology-path',
      `-topology-path: "${topo}" is not a key prefix (want e.g. /hades/topology/)`,
    );
  const topologyPath = normalizeTopologyPath(topo);
  if (recordStart.startsWith(topologyPath))
    throw new FlagError('topology-path', `-topology-path: "${topo}" contains the record prefix ${prefix}`);
  if (topologyPath.startsWith(ipMonitorPath) || ipMonitorPath.startsWith(topologyPath))
    throw new FlagError(
      'topology-path',
      `-topology-path: "${topo}" overlaps -ip-monitor-path ${ipMonitorPath}`,
    );

  const readTimeoutMs = num('read_timeout');
  if (!(readTimeoutMs >= 1) || readTimeoutMs > 3_600_000)
    throw new FlagError('read_timeout', `-read_timeout: ${readTimeoutMs} ms is outside 1ms-1h`);

  let workers = num('workers');
  if (workers === 0) workers = availableParallelism();

  const nsList = list('nameservers');
  const forwarding = !(nsList.length === 1 && nsList[0].toLowerCase() === 'none');
  const nameservers = (forwarding ? nsList : []).map((s) => {
    const hp = hostPortFlag('nameservers', s, UPSTREAM);
    if (hp.host === '0.0.0.0' || hp.host === '::')
      throw new FlagError('nameservers', `-nameservers: "${s}" is not a server address`);
    return hp;
  });

  let stubs: Map<string, HostPort[]>;
  try {
    stubs = parseStubFlag(str('stub'));
  } catch (err) {
    if (!(err instanceof ForwardConfigError)) throw err;
    throw new FlagError('stub', err.message.startsWith('-stub') ? err.message : `-stub: ${err.message}`);
  }

  const metricsText = str('metrics-addr');
  let metricsHost = listen.host;
  if (metricsText !== '') {
    const bare =
      metricsText.startsWith('[') && metricsText.endsWith(']') ? metricsText.slice(1, -1) : metricsText;
    const canon = canonicalIP(bare);
    if (canon === undefined)
      throw new FlagError(
        'metrics-addr',
        `-metrics-addr: "${metricsText}" is not an IP address (the port is -metrics-port)`,
      );
    metricsHost = canon;
  }

  const apiText = str('api-addr');
  const apiAddr = mode === 'standalone' && apiText !== '' ? hostPortFlag('api-addr', apiText) : undefined;

  const tls = etcdTlsConfig(str, env);

  return {
    mode,
    listen,
    zones,
    machines,
    dataDir,
    tls,
    prefix,
    ipMonitorPath,
    topologyPath,
    readTimeoutMs,
    defaultTtl: num('ttl'),
    select: v.select as SelectPolicy,
    allDown: v['all-down'] as AllDownPolicy,
    trustEcs: v['trust-ecs'] as boolean,
    transferAllow: parseCidrList('transfer-allow', list('transfer-allow')),
    tsig: tsigFlag(str('tsig')),
    notify: list('notify').map((s) => {
      const hp = hostPortFlag('notify', s, { defaultPort: 53 });
      if (hp.host === '0.0.0.0' || hp.host === '::')
        throw new FlagError('notify', `-notify: "${s}" is not a server address`);
      return hp;
    }),
    workers,
    maxTcpConnections: num('max-tcp-connections'),
    udpBatch: v['udp-batch'] as boolean,
    metricsPort: num('metrics-port'),
    metricsHost,
    logQueries: v['log-queries'] as boolean,
    snapshot: String(v.snapshot),
    nameservers,
    forwarding,
    stubs,
    rcache: num('rcache'),
    rcacheTtl: num('rcache_ttl'),
    apiAddr,
    hadesAuth: mode === 'standalone' ? str('hades-auth') : '',
    apiTls:
      mode === 'standalone'
        ? loadServerTls({
            cert: str('api-tls-cert'),
            key: str('api-tls-key'),
            clientCa: str('api-client-ca'),
          })
        : undefined,
    apiTrustedProxies: mode === 'standalone' ? parseTrustedProxies(list('api-trusted-proxies')) : [],
    log: { logtostderr: v.logtostderr as boolean, logDir: str('log_dir'), verbosity: num('v') },
  };
}

/**
 * Parses a `hades` command line into a HadesConfig. Throws FlagError (bad flag or value) and
 * HelpRequested (-h); -version is a value (`version: true`) the caller acts on.
 */
export function parseHadesArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): { config: HadesConfig; version: boolean } {
  const first = parseFlags(hadesFlagSpecs('server'), argv, env);
  let mode: 'server' | 'standalone' = 'server';
  let values = first.values;
  if (first.positionals.length > 0) {
    if (first.positionals[0] !== STANDALONE)
      throw new FlagError(
        first.positionals[0],
        `unexpected argument "${first.positionals[0]}" (the only command is "${STANDALONE}")`,
      );
    mode = STANDALONE;
    // flags may come before and after the word: parse again without it, with standalone defaults
    const at = argv.length - first.positionals.length;
    const rest = [...argv.slice(0, at), ...argv.slice(at + 1)];
    const second = parseFlags(hadesFlagSpecs(STANDALONE), rest, env);
    if (second.positionals.length > 0)
      throw strayArgument(hadesFlagSpecs(STANDALONE), rest, second.positionals);
    values = second.values;
  }
  const version = values.version === true;
  return { config: buildHadesConfig(mode, values, env), version };
}

/** Usage text of `hades` (server defaults, then what standalone changes). */
export function hadesUsage(standalone = false): string {
  const text = usage(PROGRAM, hadesFlagSpecs(standalone ? STANDALONE : 'server'), HADES_SYNOPSIS);
  return (
    text +
    '\n`hades standalone` runs DNS on 127.0.0.1:5353 and the REST API on 127.0.0.1:9001 (-api-addr),\n' +
    'on the embedded store in ./hades-data unless -machines is given.\n'
  );
}

/** The `hades` command line: flags, and `standalone` before or among them. */
export const hadesCommandLine: CommandLine<HadesConfig> = {
  program: PROGRAM,
  parse(argv, env) {
    const { config, version } = parseHadesArgs(argv, env);
    return version ? 'version' : config;
  },
  usage: (argv) => hadesUsage(argv.includes(STANDALONE)),
};
