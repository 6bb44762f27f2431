/**
 * The `hades-schedule` command line: `/etc/hades/hades-schedule.conf` in the seed's layout, every
 * key also a flag and `HADES_<KEY>` (see scanner.ts for the shared [Etcd] keys).
 */
import { FlagError, type FlagSpec, type FlagValues } from './flags.js';
import { buildMetricsPortConfig, type MetricsPortConfig, metricsFlagSpecs } from './metrics.js';
import {
  buildLogConfig,
  buildStoreConfig,
  type HealthLogConfig,
  type HealthStoreConfig,
  hostnameOf,
  storeFlagSpecs,
} from './scanner.js';

export interface ScheduleConfig extends HealthStoreConfig, MetricsPortConfig {
  hostname: string;
  /** `lock-path`: the election key (no trailing slash). */
  lockPath: string;
  scheduleIntervalMs: number;
  agentDowntimeMs: number;
  /** `force-lock-time`: accepted; the lease (`lockTtlSeconds`) replaces it. */
  forceLockTimeSeconds: number;
  lockTtlSeconds: number;
  log: HealthLogConfig;
}

export function scheduleFlagSpecs(): FlagSpec[] {
  return [
    {
      name: 'config-file',
      type: 'string',
      default: '/etc/hades/hades-schedule.conf',
      help: 'INI file to read the settings from',
    },
    ...storeFlagSpecs(),
    {
      name: 'lock-path',
      type: 'string',
      default: '/hades/monitor/lock',
      ini: 'Etcd.lock-path',
      help: 'election key: the active scheduler holds it under a lease',
    },
    {
      name: 'schedule-interval',
      type: 'int',
      default: '60',
      min: 1,
      ini: 'General.schedule-interval',
      help: 'seconds between full re-assignments (changes are handled at once too)',
    },
    {
      name: 'agent-downtime',
      type: 'int',
      default: '60',
      min: 0,
      ini: 'General.agent-downtime',
      help: "seconds a scanner's addresses wait for it after its heartbeat goes, before moving",
    },
    {
      name: 'force-lock-time',
      type: 'int',
      default: '1800',
      min: 0,
      ini: 'General.force-lock-time',
      help: 'accepted for compatibility; the lock is a lease of -lock-ttl seconds',
    },
    {
      name: 'lock-ttl',
      type: 'int',
      default: '10',
      min: 1,
      ini: 'General.lock-ttl',
      help: 'seconds a dead scheduler keeps the lock',
    },
    ...metricsFlagSpecs(),
  ];
}

export function buildScheduleConfig(v: FlagValues, env: NodeJS.ProcessEnv = process.env): ScheduleConfig {
  const store = buildStoreConfig(v, env);
  let lockPath = (v['lock-path'] as string).trim();
  while (lockPath.length > 1 && lockPath.endsWith('/')) lockPath = lockPath.slice(0, -1);
  if (!lockPath.startsWith('/') || lockPath === '/' || /\s/.test(lockPath))
    throw new FlagError(
      'lock-path',
      `-lock-path: "${lockPath}" is not a key (want e.g. /hades/monitor/lock)`,
    );
  for (const p of [store.statusPath, store.reportPath, store.heartPath])
    if (`${lockPath}/`.startsWith(p) || p.startsWith(`${lockPath}/`))
      throw new FlagError('lock-path', `-lock-path: "${lockPath}" overlaps ${p}`);
  return {
    ...store,
    hostname: hostnameOf(v),
    lockPath,
    scheduleIntervalMs: (v['schedule-interval'] as number) * 1000,
    agentDowntimeMs: (v['agent-downtime'] as number) * 1000,
    forceLockTimeSeconds: v['force-lock-time'] as number,
    lockTtlSeconds: v['lock-ttl'] as number,
    ...buildMetricsPortConfig(v),
    log: buildLogConfig(v),
  };
}
