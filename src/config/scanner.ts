/**
 * The `hades-scanner` and `hades-schedule` command lines: the seed's INI files
 * (`/etc/hades/hades-scanner.conf`, `/etc/hades/hades-schedule.conf`, gcfg layout) with every key
 * also a flag (`-check-interval 5`) and `HADES_<KEY>` in the environment. Precedence: command
 * line, environment, the file, the default.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { normalizeMonitorPath } from '../records/health.js';
import { type EtcdTlsConfig, etcdTlsConfig, etcdTlsFlagSpecs } from './etcd-tls.js';
import { FlagError, type FlagSpec, type FlagValues } from './flags.js';
import { buildMetricsPortConfig, type MetricsPortConfig, metricsFlagSpecs } from './metrics.js';

/** Etcd connection and key layout, shared by the scanner and the scheduler. */
export interface HealthStoreConfig {
  /** etcd endpoints; empty = the embedded store in `dataDir`. */
  machines: string[];
  dataDir: string;
  tls: EtcdTlsConfig | undefined;
  /** `status-path`, `report-path`, `heart-path`: normalised, one trailing slash. */
  statusPath: string;
  reportPath: string;
  heartPath: string;
}

export interface HealthLogConfig {
  logtostderr: boolean;
  logDir: string;
  verbosity: number;
}

export interface ScannerConfig extends HealthStoreConfig, MetricsPortConfig {
  hostname: string;
  /** `core`: accepted for compatibility (Go's GOMAXPROCS); Node runs one event loop. */
  core: number;
  enableCheck: boolean;
  heartbeatIntervalMs: number;
  checkTimeoutMs: number;
  checkIntervalMs: number;
  scanPorts: string[];
  enableIcmp: boolean;
  pingTimeoutMs: number;
  pingCount: number;
  fall: number;
  rise: number;
  maxConcurrency: number;
  /** `probe-ca-file`: path ('' = system CAs only). */
  probeCaFile: string;
  /** Its certificates, read and checked at start. */
  probeCa: Buffer | undefined;
  probeKeepAlive: boolean;
  log: HealthLogConfig;
}

/** Flags of both programs: the [Etcd] section, logging, the data dir. */
export function storeFlagSpecs(): FlagSpec[] {
  return [
    {
      name: 'etcd-machine',
      type: 'list',
      default: '',
      ini: 'Etcd.etcd-machine',
      aliases: ['machines'],
      help: 'etcd endpoint(s), comma separated; none: the embedded store in -data-dir',
    },
    {
      name: 'data-dir',
      type: 'string',
      default: './hades-data',
      help: 'directory of the embedded store (when no -etcd-machine)',
    },
    ...etcdTlsFlagSpecs('Etcd'),
    {
      name: 'status-path',
      type: 'string',
      default: '/hades/monitor/status',
      ini: 'Etcd.status-path',
      help: 'health status keys: <status-path>/<ip> = {"status":"UP"|"DOWN","ports":[...]}',
    },
    {
      name: 'report-path',
      type: 'string',
      default: '/hades/monitor/report',
      ini: 'Etcd.report-path',
      help: 'assignments: <report-path>/<ip> = {"hostname":"<scanner>"}',
    },
    {
      name: 'heart-path',
      type: 'string',
      default: '/hades/monitor/heart',
      ini: 'Etcd.heart-path',
      help: "scanners' heartbeats: <heart-path>/<hostname>, under a lease",
    },
    {
      name: 'hostname',
      type: 'string',
      default: '',
      ini: 'General.hostname',
      help: 'this process in heartbeats, assignments and the lock (default: the host name)',
    },
    {
      name: 'log-dir',
      type: 'string',
      default: '',
      ini: 'General.log-dir',
      aliases: ['log_dir'],
      help: 'log files directory (<log-dir>/<program>.log); empty: stderr',
    },
    { name: 'logtostderr', type: 'bool', default: 'false', help: 'log to standard error instead of files' },
    {
      name: 'log-level',
      type: 'int',
      default: '0',
      min: 0,
      ini: 'General.log-level',
      aliases: ['v'],
      help: 'log verbosity (0: info; 1 and above: debug)',
    },
  ];
}

export function scannerFlagSpecs(): FlagSpec[] {
  return [
    {
      name: 'config-file',
      type: 'string',
      default: '/etc/hades/hades-scanner.conf',
      help: 'INI file to read the settings from',
    },
    ...storeFlagSpecs(),
    {
      name: 'core',
      type: 'int',
      default: '0',
      min: 0,
      ini: 'General.core',
      help: 'accepted, unused (Go GOMAXPROCS)',
    },
    {
      name: 'enable-check',
      type: 'bool',
      default: 'true',
      ini: 'General.enable-check',
      help: 'probe and send heartbeats; false: idle (no heartbeat, so nothing is assigned)',
    },
    {
      name: 'heartbeat-interval',
      type: 'int',
      default: '30',
      min: 1,
      ini: 'General.heartbeat-interval',
      help: 'seconds between heartbeat renewals (the lease lives 3 intervals)',
    },
    {
      name: 'check-timeout',
      type: 'int',
      default: '2',
      min: 1,
      ini: 'Check.check-timeout',
      help: 'seconds a TCP connect may take',
    },
    {
      name: 'check-interval',
      type: 'int',
      default: '10',
      min: 1,
      ini: 'Check.check-interval',
      help: 'seconds between two rounds of checks of an address',
    },
    {
      name: 'scann-ports',
      type: 'list',
      default: '',
      ini: 'Check.scann-ports',
      help: 'TCP ports to connect to when the status has no "ports"',
    },
    {
      name: 'enable-icmp',
      type: 'bool',
      default: 'false',
      ini: 'Check.enable-icmp',
      help: 'also ping (system ping)',
    },
    {
      name: 'ping-timeout',
      type: 'int',
      default: '1000',
      min: 1,
      ini: 'Check.ping-timeout',
      help: 'milliseconds to wait for an echo reply',
    },
    {
      name: 'ping-count',
      type: 'int',
      default: '2',
      min: 1,
      max: 20,
      ini: 'Check.ping-count',
      help: 'echo requests per round',
    },
    {
      name: 'fall',
      type: 'int',
      default: '3',
      min: 1,
      ini: 'Check.fall',
      help: 'consecutive failed rounds before DOWN',
    },
    {
      name: 'rise',
      type: 'int',
      default: '2',
      min: 1,
      ini: 'Check.rise',
      help: 'consecutive passed rounds before UP',
    },
    {
      name: 'max-concurrency',
      type: 'int',
      default: '256',
      min: 1,
      ini: 'Check.max-concurrency',
      help: 'probes in flight at once',
    },
    {
      name: 'probe-ca-file',
      type: 'string',
      default: '',
      ini: 'Check.probe-ca-file',
      help: 'PEM file of CAs trusted by HTTPS probes besides the system ones',
    },
    {
      name: 'probe-keepalive',
      type: 'bool',
      default: 'false',
      ini: 'Check.probe-keepalive',
      help: 'HTTP(S) probes reuse a kept-alive connection per address and port (default: a new one per check)',
    },
    ...metricsFlagSpecs(),
  ];
}

function keyPath(v: FlagValues, name: string): string {
  const p = (v[name] as string).trim();
  if (p === '' || p === '/' || !p.startsWith('/') || /\s/.test(p))
    throw new FlagError(name, `-${name}: "${p}" is not a key prefix (want e.g. /hades/monitor/...)`);
  return normalizeMonitorPath(p);
}

function checkEndpoint(e: string): string {
  if (!/^(https?:\/\/)?[^\s/]+:\d+\/?$/.test(e))
    throw new FlagError('etcd-machine', `-etcd-machine: "${e}" is not host:port or http(s)://host:port`);
  return e.replace(/\/$/, '');
}

export function buildStoreConfig(v: FlagValues, env: NodeJS.ProcessEnv): HealthStoreConfig {
  const machines = (v['etcd-machine'] as string[]).map(checkEndpoint);
  const dataDir = (v['data-dir'] as string).trim();
  if (machines.length === 0 && dataDir === '')
    throw new FlagError('data-dir', '-data-dir: empty, and no -etcd-machine given');
  const tls = etcdTlsConfig((n) => v[n] as string, env);
  const statusPath = keyPath(v, 'status-path');
  const reportPath = keyPath(v, 'report-path');
  const heartPath = keyPath(v, 'heart-path');
  const paths = [statusPath, reportPath, heartPath];
  for (const a of paths)
    for (const b of paths)
      if (a !== b && b.startsWith(a))
        throw new FlagError('status-path', `key paths must not contain each other: ${a} and ${b}`);
  return {
    machines,
    dataDir,
    tls,
    statusPath,
    reportPath,
    heartPath,
  };
}

export function buildLogConfig(v: FlagValues): HealthLogConfig {
  return {
    logtostderr: v.logtostderr as boolean,
    logDir: (v['log-dir'] as string).trim(),
    verbosity: v['log-level'] as number,
  };
}

export function hostnameOf(v: FlagValues): string {
  const h = (v.hostname as string).trim() || osHostname();
  if (/[\s/]/.test(h)) throw new FlagError('hostname', `-hostname: "${h}" must not contain spaces or "/"`);
  return h;
}

/** A PEM file of certificates, each parsed (TLS would silently ignore a file that holds none). */
function readCertificates(file: string): Buffer | undefined {
  if (file === '') return undefined;
  let pem: Buffer;
  try {
    pem = readFileSync(file);
  } catch (err) {
    throw new FlagError('probe-ca-file', `-probe-ca-file: ${(err as Error).message}`);
  }
  const blocks =
    pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw new FlagError('probe-ca-file', `-probe-ca-file: ${file} holds no PEM certificate`);
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch (err) {
      throw new FlagError('probe-ca-file', `-probe-ca-file: ${file}: ${(err as Error).message}`);
    }
  }
  return pem;
}

export function buildScannerConfig(v: FlagValues, env: NodeJS.ProcessEnv = process.env): ScannerConfig {
  const ports = v['scann-ports'] as string[];
  for (const p of ports)
    if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535)
      throw new FlagError('scann-ports', `-scann-ports: "${p}" is not a port number`);
  const secs = (n: string): number => (v[n] as number) * 1000;
  return {
    ...buildStoreConfig(v, env),
    hostname: hostnameOf(v),
    core: v.core as number,
    enableCheck: v['enable-check'] as boolean,
    heartbeatIntervalMs: secs('heartbeat-interval'),
    checkTimeoutMs: secs('check-timeout'),
    checkIntervalMs: secs('check-interval'),
    scanPorts: ports.map((p) => String(Number(p))),
    enableIcmp: v['enable-icmp'] as boolean,
    pingTimeoutMs: v['ping-timeout'] as number,
    pingCount: v['ping-count'] as number,
    fall: v.fall as number,
    rise: v.rise as number,
    maxConcurrency: v['max-concurrency'] as number,
    probeCaFile: (v['probe-ca-file'] as string).trim(),
    probeCa: readCertificates((v['probe-ca-file'] as string).trim()),
    probeKeepAlive: v['probe-keepalive'] as boolean,
    ...buildMetricsPortConfig(v),
    log: buildLogConfig(v),
  };
}
