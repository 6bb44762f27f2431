/**
 * The `hades-kubeapi` command line: Hades 1.0.1's `-config-file` (default
 * /etc/hades/hades-api.conf, INI) with its keys, each also a flag (and `HADES_<FLAG>`):
 *
 *   [General]    domain, etcd-server, ip-monitor-path, log-dir, log-level, log-to-stdio
 *   [Kube2Hades] kube-enable YES|NO, kube-master-url (+ kube-token, kube-ca-file, kubeconfig, kube-context)
 *   [HadesApi]   api-enable YES|NO, api-address, hades-auth
 *
 * plus what this release adds (-data-dir, [General] ca-cert / tls-key / tls-pem (etcd TLS, else the
 * seed's ETCD_* variables), -prefix, -tokens-file, -api-rate, -api-burst, [HadesApi]
 * api-tls-cert, api-tls-key, api-client-ca (HTTPS, client certificates) and api-trusted-proxies, [General]
 * metrics-port and metrics-addr, topology-path (/v1/topology); for the web UI's panels [General] heart-path, report-path,
 * lock-path and [HadesApi] dns-metrics) and the
 * seed's logging flags (-logtostderr, -log_dir, -v). Precedence: argv > env > file > default.
 */
import type { HostPort } from '../common/host-port.js';
import type { ServerTls } from '../common/http-server.js';
import { normalizeMonitorPath } from '../records/health.js';
import { parseIP, splitHostPort } from '../records/ip.js';
import { normalizePrefix } from '../records/keys.js';
import { parseName } from '../records/names.js';
import { DEFAULT_TOPOLOGY_PATH, normalizeTopologyPath } from '../records/topology.js';
import { loadServerTls, parseTrustedProxies } from './api-tls.js';
import { VERSION_FLAG } from './cli.js';
import { type EtcdTlsConfig, etcdTlsConfig, etcdTlsFlagSpecs } from './etcd-tls.js';
import { FlagError, type FlagSpec, type FlagValues } from './flags.js';
import { hostPortFlag } from './hades.js';
import { buildMetricsPortConfig, type MetricsPortConfig, metricsFlagSpecs } from './metrics.js';

export const KUBEAPI_PROGRAM = 'hades-kubeapi';
export const DEFAULT_KUBEAPI_CONFIG = '/etc/hades/hades-api.conf';

const YES_NO = ['YES', 'NO', 'yes', 'no', 'Yes', 'No', 'true', 'false'];

export interface KubeapiConfig extends MetricsPortConfig {
  /** The zone, canonical (`hades.local.`). */
  domain: string;
  /** etcd endpoints; empty = the embedded store in dataDir. */
  machines: string[];
  dataDir: string;
  /** etcd TLS files ([General] ca-cert, tls-key, tls-pem, else ETCD_*); undefined when none. */
  tls: EtcdTlsConfig | undefined;
  prefix: string;
  ipMonitorPath: string;
  /** `-topology-path`: the zones `/v1/topology` reads and writes, `<path><zone>`. */
  topologyPath: string;
  /** hades-scanner / hades-schedule keys: heart and report with one trailing slash, lock without. */
  monitor: { heartPath: string; reportPath: string; lockPath: string };
  kube: {
    enable: boolean;
    masterUrl: string;
    /** Bearer token for the API server ('' = none / from kubeconfig or the service account). */
    token: string;
    caFile: string;
    kubeconfig: string;
    /** `-kube-context`: a context of the kubeconfig ('' = its current-context). */
    context: string;
    svcIpSource: 'clusterIP' | 'externalIPs' | 'loadBalancer';
  };
  api: {
    enable: boolean;
    address: HostPort | undefined;
    /** The `hades-auth` token ('' = none). */
    hadesAuth: string;
    tokensFile: string;
    /** Requests per second per client IP (0 = no limit) and the burst. */
    rate: number;
    burst: number;
    /** The DNS servers' metrics ports to scrape (-dns-metrics). */
    dnsMetrics: { host: string; port: number }[];
    /** `api-tls-cert`/`api-tls-key` (and `api-client-ca`), read and checked: HTTPS only. */
    tls: ServerTls | undefined;
    /** `api-trusted-proxies`: canonical CIDRs whose X-Forwarded-For names the client. */
    trustedProxies: string[];
  };
  log: { logtostderr: boolean; logDir: string; verbosity: number };
}

export function kubeapiFlagSpecs(): FlagSpec[] {
  return [
    {
      name: 'config-file',
      type: 'string',
      default: DEFAULT_KUBEAPI_CONFIG,
      help: 'INI file with [General], [Kube2Hades] and [HadesApi] (a missing default file is fine)',
    },
    {
      name: 'domain',
      type: 'string',
      default: 'hades.local.',
      ini: 'General.domain',
      help: 'zone the records live in (user records under user.<domain>, services under svc.<domain>)',
    },
    {
      name: 'etcd-server',
      type: 'list',
      default: '',
      ini: 'General.etcd-server',
      aliases: ['machines'],
      help: 'etcd endpoints, comma separated; none: the embedded store in -data-dir',
    },
    {
      name: 'data-dir',
      type: 'string',
      default: '',
      ini: 'General.data-dir',
      help: 'directory of the embedded store, used when -etcd-server is empty',
    },
    ...etcdTlsFlagSpecs('General'),
    { name: 'prefix', type: 'string', default: '/hades', ini: 'General.prefix', help: 'record key prefix' },
    {
      name: 'ip-monitor-path',
      type: 'string',
      default: '/hades/monitor/status/',
      ini: 'General.ip-monitor-path',
      help: 'prefix of the health keys <path><ip>',
    },
    {
      name: 'topology-path',
      type: 'string',
      default: DEFAULT_TOPOLOGY_PATH,
      ini: 'General.topology-path',
      help: 'prefix of the locality zones <path><zone> = {"cidrs":[…]} (GET/PUT/DELETE /v1/topology); as hades\'s -topology-path',
    },
    {
      name: 'heart-path',
      type: 'string',
      default: '/hades/monitor/heart',
      ini: 'General.heart-path',
      help: "hades-scanner's heartbeat keys <path>/<hostname> (GET /v1/scanners, the UI's scanners panel)",
    },
    {
      name: 'report-path',
      type: 'string',
      default: '/hades/monitor/report',
      ini: 'General.report-path',
      help: "hades-schedule's assignment keys <path>/<ip> (assigned counts in GET /v1/scanners)",
    },
    {
      name: 'lock-path',
      type: 'string',
      default: '/hades/monitor/lock',
      ini: 'General.lock-path',
      help: "hades-schedule's election key (the active scheduler in GET /v1/scanners)",
    },
    {
      name: 'log-dir',
      type: 'string',
      default: '',
      ini: 'General.log-dir',
      help: 'directory of the log file (same as -log_dir)',
    },
    {
      name: 'log-level',
      type: 'int',
      default: '0',
      min: 0,
      max: 1000,
      ini: 'General.log-level',
      help: 'log level (as the seed configs: above 0 means debug; same as -v)',
    },
    {
      name: 'log-to-stdio',
      type: 'bool',
      default: 'false',
      ini: 'General.log-to-stdio',
      help: 'log to standard error (same as -logtostderr)',
    },
    ...metricsFlagSpecs(),
    {
      name: 'kube-enable',
      type: 'string',
      default: 'NO',
      choices: YES_NO,
      ini: 'Kube2Hades.kube-enable',
      help: 'YES: watch Kubernetes Services/EndpointSlices and write their records',
    },
    {
      name: 'kube-master-url',
      type: 'string',
      default: '',
      ini: 'Kube2Hades.kube-master-url',
      help: 'Kubernetes API server URL (with -kube-token, -kube-ca-file); when set, no kubeconfig or in-cluster config is read',
    },
    {
      name: 'kube-token',
      type: 'string',
      default: '',
      ini: 'Kube2Hades.kube-token',
      help: 'bearer token for the Kubernetes API server (never logged)',
    },
    {
      name: 'kube-ca-file',
      type: 'string',
      default: '',
      ini: 'Kube2Hades.kube-ca-file',
      help: 'CA certificate (PEM file) of the Kubernetes API server',
    },
    {
      name: 'kubeconfig',
      type: 'string',
      default: '',
      ini: 'Kube2Hades.kubeconfig',
      help: 'kubeconfig file, used when -kube-master-url is empty (else $KUBECONFIG, ~/.kube/config, then the in-cluster service account)',
    },
    {
      name: 'kube-context',
      type: 'string',
      default: '',
      ini: 'Kube2Hades.kube-context',
      help: 'context of the kubeconfig to use (default: its current-context)',
    },
    {
      name: 'svc-ip-source',
      type: 'string',
      default: 'clusterIP',
      choices: ['clusterIP', 'externalIPs', 'loadBalancer'],
      ini: 'Kube2Hades.svc-ip-source',
      help: 'which service address the svc records carry (Hades 1.x wrote the load-balancer VIP)',
    },
    {
      name: 'api-enable',
      type: 'string',
      default: 'YES',
      choices: YES_NO,
      ini: 'HadesApi.api-enable',
      help: 'YES: serve the REST API on -api-address',
    },
    {
      name: 'api-address',
      type: 'string',
      default: '127.0.0.1:9001',
      ini: 'HadesApi.api-address',
      help: 'IP:port of the REST API',
    },
    {
      name: 'hades-auth',
      type: 'string',
      default: '',
      ini: 'HadesApi.hades-auth',
      help: 'token with read and write scope (header "token" or "Authorization: Bearer")',
    },
    {
      name: 'tokens-file',
      type: 'string',
      default: '',
      ini: 'HadesApi.tokens-file',
      help: 'file of more tokens, one per line: "<token> read" or "<token> read,write"',
    },
    {
      name: 'api-rate',
      type: 'int',
      default: '50',
      min: 0,
      max: 1_000_000,
      ini: 'HadesApi.api-rate',
      help: 'requests per second per client IP (0: unlimited); beyond it 429',
    },
    {
      name: 'api-burst',
      type: 'int',
      default: '100',
      min: 1,
      max: 1_000_000,
      ini: 'HadesApi.api-burst',
      help: 'requests a client IP may make at once before -api-rate applies',
    },
    {
      name: 'dns-metrics',
      type: 'list',
      default: '',
      ini: 'HadesApi.dns-metrics',
      help: "hades servers' metrics addresses host:port, comma separated (their -metrics-port), scraped for GET /v1/dns-metrics and the UI's live panel; none: no panel",
    },
    {
      name: 'api-tls-cert',
      type: 'string',
      default: '',
      ini: 'HadesApi.api-tls-cert',
      help: 'certificate (PEM file, chain after it) of the API port; with -api-tls-key it speaks HTTPS only',
    },
    {
      name: 'api-tls-key',
      type: 'string',
      default: '',
      ini: 'HadesApi.api-tls-key',
      help: 'private key (PEM file) of -api-tls-cert',
    },
    {
      name: 'api-client-ca',
      type: 'string',
      default: '',
      ini: 'HadesApi.api-client-ca',
      help: 'CA (PEM file) that signs client certificates; set, every API client must present one (tokens still apply)',
    },
    {
      name: 'api-trusted-proxies',
      type: 'list',
      default: '',
      ini: 'HadesApi.api-trusted-proxies',
      help: 'proxies (CIDRs or addresses, comma separated) whose X-Forwarded-For names the client for the rate limit; none: the header is ignored',
    },
    { name: 'logtostderr', type: 'bool', default: 'false', help: 'log to standard error instead of files' },
    {
      name: 'log_dir',
      type: 'string',
      default: '',
      help: 'directory of the log file (<dir>/hades-kubeapi.log)',
    },
    { name: 'v', type: 'int', default: '0', min: 0, max: 10, help: 'log verbosity (1 and above: debug)' },
    VERSION_FLAG,
  ];
}

function yes(v: FlagValue): boolean {
  return ['yes', 'true'].includes(String(v).toLowerCase());
}
type FlagValue = FlagValues[string];

function checkEndpoint(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL | undefined;
  try {
    url = new URL(withScheme);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname.length > 1 || !url.port)
    throw new FlagError(
      'etcd-server',
      `-etcd-server: "${text}" is not an etcd endpoint (want http://host:port)`,
    );
  return text.replace(/\/+$/, '');
}

/** One `-dns-metrics` entry: `host:port` or `[ipv6]:port`, the host an address or a DNS name. */
function metricsTarget(text: string): { host: string; port: number } {
  const bad = (why: string): never => {
    throw new FlagError('dns-metrics', `-dns-metrics: "${text}" ${why}`);
  };
  const parts = splitHostPort(text);
  if (typeof parts === 'string') return bad(parts);
  if (parts.port === undefined) return bad('has no port (want host:port, e.g. 127.0.0.1:9153)');
  if (!/^\d{1,5}$/.test(parts.port) || Number(parts.port) < 1 || Number(parts.port) > 65535)
    return bad('has no port from 1 to 65535');
  const host = parts.host;
  if (host === '') return bad('has no host');
  if (parts.bracketed ? parseIP(host)?.kind !== 'ipv6' : !/^[A-Za-z0-9.-]+$/.test(host))
    return bad('is not host:port');
  return { host, port: Number(parts.port) };
}

/** Validates parsed values; throws FlagError naming the flag (the program exits 2). */
export function buildKubeapiConfig(v: FlagValues, env: NodeJS.ProcessEnv = process.env): KubeapiConfig {
  const str = (n: string): string => String(v[n]).trim();
  let domain: string;
  const d = str('domain');
  if (d === '') throw new FlagError('domain', '-domain ([General] domain): a value is required');
  try {
    domain = parseName(d);
  } catch (err) {
    throw new FlagError('domain', `-domain: "${d}" is not a zone name: ${(err as Error).message}`);
  }
  if (domain === '.' || domain.includes('*'))
    throw new FlagError('domain', `-domain: "${d}" cannot be the root or have a wildcard`);
  const machines = (v['etcd-server'] as string[]).map(checkEndpoint);
  const dataDir = str('data-dir');
  if (machines.length === 0 && dataDir === '')
    throw new FlagError(
      'etcd-server',
      '-etcd-server ([General] etcd-server): a value is required (or -data-dir for the embedded store)',
    );
  const tls = etcdTlsConfig(str, env);
  const prefixText = str('prefix');
  if (!prefixText.startsWith('/') || /\s/.test(prefixText))
    throw new FlagError('prefix', `-prefix: "${prefixText}" is not a key prefix (want e.g. /hades)`);
  const mon = str('ip-monitor-path');
  if (!mon.startsWith('/') || mon === '/')
    throw new FlagError('ip-monitor-path', `-ip-monitor-path: "${mon}" is not a key prefix`);
  const topo = str('topology-path');
  if (!topo.startsWith('/') || topo === '/' || /\s/.test(topo))
    throw new FlagError(
      'topology-path',
      `-topology-path: "${topo}" is not a key prefix (want e.g. /hades/topology/)`,
    );
  const topologyPath = normalizeTopologyPath(topo);
  const ipMonitorPath = normalizeMonitorPath(mon);
  if (topologyPath.startsWith(ipMonitorPath) || ipMonitorPath.startsWith(topologyPath))
    throw new FlagError(
      'topology-path',
      `-topology-path: "${topo}" overlaps -ip-monitor-path ${ipMonitorPath}`,
    );
  const keyPath = (flag: string): string => {
    let p = str(flag);
    while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
    if (!p.startsWith('/') || p === '/' || /\s/.test(p))
      throw new FlagError(
        flag,
        `-${flag}: "${str(flag)}" is not a key prefix (want e.g. /hades/monitor/${flag.split('-')[0]})`,
      );
    return p;
  };
  const monitor = {
    heartPath: `${keyPath('heart-path')}/`,
    reportPath: `${keyPath('report-path')}/`,
    lockPath: keyPath('lock-path'),
  };
  const dnsMetrics = (v['dns-metrics'] as string[]).map(metricsTarget);
  const kubeEnable = yes(v['kube-enable']);
  const masterUrl = str('kube-master-url');
  const kubeconfig = str('kubeconfig');
  const kubeContext = str('kube-context');
  // which source applies (-kube-master-url, a kubeconfig, in-cluster) and whether it reads is
  // decided when hades-kubeapi starts the watcher (src/kube/auth.ts), exiting 2 the same way
  if (kubeContext !== '' && masterUrl !== '')
    throw new FlagError(
      'kube-context',
      `-kube-context "${kubeContext}": contexts are a kubeconfig's, and -kube-master-url is set`,
    );
  const apiEnable = yes(v['api-enable']);
  const addrText = str('api-address');
  if (apiEnable && addrText === '')
    throw new FlagError('api-address', '-api-address ([HadesApi] api-address): a value is required');
  const address = apiEnable ? hostPortFlag('api-address', addrText) : undefined;
  const hadesAuth = String(v['hades-auth']);
  const tokensFile = str('tokens-file');
  if (apiEnable && hadesAuth === '' && tokensFile === '')
    throw new FlagError(
      'hades-auth',
      '-hades-auth ([HadesApi] hades-auth): a value is required (or -tokens-file) when api-enable is YES',
    );
  if (!kubeEnable && !apiEnable)
    throw new FlagError('api-enable', '-api-enable and -kube-enable are both NO: nothing to do');
  return {
    domain,
    machines,
    dataDir,
    tls,
    prefix: normalizePrefix(prefixText),
    ipMonitorPath,
    topologyPath,
    monitor,
    kube: {
      enable: kubeEnable,
      masterUrl,
      token: String(v['kube-token']),
      caFile: str('kube-ca-file'),
      kubeconfig,
      context: kubeContext,
      svcIpSource: v['svc-ip-source'] as KubeapiConfig['kube']['svcIpSource'],
    },
    api: {
      enable: apiEnable,
      address,
      hadesAuth,
      tokensFile,
      rate: v['api-rate'] as number,
      burst: v['api-burst'] as number,
      dnsMetrics,
      tls: apiEnable
        ? loadServerTls({
            cert: str('api-tls-cert'),
            key: str('api-tls-key'),
            clientCa: str('api-client-ca'),
          })
        : undefined,
      trustedProxies: parseTrustedProxies(v['api-trusted-proxies'] as string[]),
    },
    ...buildMetricsPortConfig(v),
    log: {
      logtostderr: (v.logtostderr as boolean) || (v['log-to-stdio'] as boolean),
      logDir: str('log_dir') || str('log-dir'),
      verbosity: Math.max(v.v as number, (v['log-level'] as number) > 0 ? 1 : 0),
    },
  };
}
