/**
 * `-metrics-port` / `-metrics-addr` of hades-scanner, hades-schedule and hades-kubeapi (hades has
 * its own, defaulting to the host of `-addr`: src/config/hades.ts). Also INI keys in [General].
 */
import { FlagError, type FlagSpec, type FlagValues } from './flags.js';

export interface MetricsPortConfig {
  /** Port of /metrics, /health, /ready; 0: off. */
  metricsPort: number;
  /** Address it binds. */
  metricsHost: string;
}

export function metricsFlagSpecs(): FlagSpec[] {
  return [
    {
      name: 'metrics-port',
      type: 'int',
      default: '0',
      min: 0,
      max: 65535,
      ini: 'General.metrics-port',
      help: 'port of /metrics, /health, /ready (0: off)',
    },
    {
      name: 'metrics-addr',
      type: 'string',
      default: '127.0.0.1',
      ini: 'General.metrics-addr',
      help: 'address of -metrics-port',
    },
  ];
}

export function buildMetricsPortConfig(v: FlagValues): MetricsPortConfig {
  const host = String(v['metrics-addr']).trim() || '127.0.0.1';
  if (/[\s/]/.test(host))
    throw new FlagError('metrics-addr', `-metrics-addr: "${host}" is not an address (want e.g. 0.0.0.0)`);
  return { metricsPort: v['metrics-port'] as number, metricsHost: host };
}
