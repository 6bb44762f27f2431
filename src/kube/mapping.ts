/**
 * Kubernetes objects → the records Hades serves (the Kubernetes DNS specification, under
 * `svc.<domain>`). Pure: `desiredState(services, slices, opts)` gives every key and value the
 * cluster should have in the store, the health status to create for each address, and the
 * probes of `hades.io/probe` annotations (probe-keys.ts).
 */
import {
  canonicalIP,
  checkZoneName,
  leafKey,
  nameToKey,
  parseIP,
  parseName,
  type RecordValue,
  reverseName,
  serializeRecordValue,
} from '../records/index.js';
import type { KubeObject } from './client.js';
import { type DesiredProbes, desiredProbes } from './probe-keys.js';

export interface ServicePort {
  name?: string;
  protocol?: string;
  port: number;
  targetPort?: number | string;
}

export interface Service extends KubeObject {
  spec?: {
    type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName' | string;
    clusterIP?: string;
    clusterIPs?: string[];
    externalIPs?: string[];
    externalName?: string;
    ports?: ServicePort[];
  };
  status?: { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } };
}

export interface EndpointSlice extends KubeObject {
  addressType?: 'IPv4' | 'IPv6' | 'FQDN' | string;
  endpoints?: {
    addresses: string[];
    hostname?: string;
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    /** The topology zone the endpoint is in (the node's `topology.kubernetes.io/zone` label). */
    zone?: string | null;
  }[];
  ports?: { name?: string; protocol?: string; port?: number }[] | null;
}

export type SvcIpSource = 'clusterIP' | 'externalIPs' | 'loadBalancer';
export const SVC_IP_SOURCES: readonly SvcIpSource[] = ['clusterIP', 'externalIPs', 'loadBalancer'];

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const DNS_SCHEMA_VERSION = '1.1.0';
export const SOURCE = 'svc';

export interface MappingOptions {
  /** Served domain, e.g. `hades.local.` */
  domain: string;
  /** Store key prefix, e.g. `/hades`. */
  prefix: string;
  /** Which addresses a non-headless service's name gets. Default `clusterIP`. */
  svcIpSource?: SvcIpSource;
  /** TTL of the records written (seconds). Default 30 (Hades 1.x's). */
  ttl?: number;
}

/** An EndpointSlice endpoint whose `zone` is not a zone name (its records get no `zone`). */
export interface InvalidZone {
  /** `namespace/name` of the EndpointSlice. */
  slice: string;
  /** The `zone` as found (a string from a real API server). */
  zone: unknown;
  message: string;
}

export interface DesiredState extends DesiredProbes {
  /** Record key → record JSON (every value carries `source: "svc"`). */
  records: Map<string, string>;
  /** Endpoints' `zone` values that are not zone names (checkZoneName), each slice and value once. */
  invalidZones: InvalidZone[];
  /** Canonical IP → ports (strings) for the health status created for a new address. */
  addresses: Map<string, string[]>;
  /** The served domain, canonical (`hades.local.`). */
  domain: string;
}

/** `172.0.0.2` → `172-0-0-2`; `5678:abcd::1` → `5678-abcd--1` (canonical text, `:` → `-`). */
export function dashedIP(ip: string): string {
  const c = canonicalIP(ip) ?? ip;
  return c.replace(/[.:]/g, '-');
}

/** The key ranges the mapping writes into (what the reconciler lists to find its records). */
export function ownedRanges(opts: MappingOptions): string[] {
  const p = opts.prefix === '/' ? '' : opts.prefix;
  return [
    `${nameToKey(`svc.${opts.domain}`, opts.prefix)}/`,
    `${p}/arpa/`,
    `${nameToKey(`dns-version.${opts.domain}`, opts.prefix)}/`,
  ];
}

/**
 * The `zone` an endpoint's records carry: its EndpointSlice `zone` when that is a zone name
 * (checkZoneName); undefined when absent, null or empty (no zone: the node has no
 * `topology.kubernetes.io/zone`) and when invalid (reported through `invalid`).
 */
export function endpointZone(zone: unknown, invalid?: (message: string) => void): string | undefined {
  if (zone === undefined || zone === null || zone === '') return undefined;
  const problem = checkZoneName(zone);
  if (problem === undefined) return zone as string;
  invalid?.(problem);
  return undefined;
}

function validLabel(s: string): boolean {
  return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(s);
}

/** The desired records for the whole cluster state. Objects that cannot be named are skipped. */
export function desiredState(
  serviceList: Iterable<Service>,
  slices: Iterable<EndpointSlice>,
  opts: MappingOptions,
): DesiredState {
  const domain = parseName(opts.domain);
  const services = [...serviceList];
  const ttl = opts.ttl ?? 30;
  const source = opts.svcIpSource ?? 'clusterIP';
  const records = new Map<string, string>();
  const addresses = new Map<string, string[]>();
  const add = (name: string, v: RecordValue): void => {
    const value = serializeRecordValue({ ...v, ttl, source: SOURCE });
    records.set(leafKey(nameToKey(name, opts.prefix), value), value);
  };
  const addAddress = (ip: string, ports: string[]): void => {
    const prev = addresses.get(ip);
    if (prev === undefined) addresses.set(ip, [...ports]);
    else for (const p of ports) if (!prev.includes(p)) prev.push(p);
  };
  const invalidZones: InvalidZone[] = [];
  const addIP = (name: string, ip: string, ports: string[], select?: 'all', zone?: string): void => {
    const p = parseIP(ip);
    if (p === undefined) return;
    add(name, { host: p.text, type: p.kind === 'ipv4' ? 'A' : 'AAAA', select, zone });
    add(reverseName(p.text), { host: name.slice(0, -1), type: 'PTR', zone });
    addAddress(p.text, ports);
  };

  add(`dns-version.${domain}`, { text: DNS_SCHEMA_VERSION, type: 'TXT' });

  // slices by namespace/service
  const byService = new Map<string, EndpointSlice[]>();
  for (const s of slices) {
    const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const k = `${s.metadata.namespace ?? 'default'}/${svc}`;
    const list = byService.get(k);
    if (list) list.push(s);
    else byService.set(k, [s]);
  }

  for (const svc of services) {
    const ns = svc.metadata.namespace ?? 'default';
    const nm = svc.metadata.name;
    if (!validLabel(nm) || !validLabel(ns)) continue;
    const svcName = `${nm}.${ns}.svc.${domain}`;
    const spec = svc.spec ?? {};
    const ports = spec.ports ?? [];
    const svcPorts = ports.map((p) => String(p.port));
    if (spec.type === 'ExternalName') {
      if (spec.externalName) {
        try {
          add(svcName, { host: parseName(spec.externalName).slice(0, -1), type: 'CNAME' });
        } catch {
          // not a usable name
        }
      }
      continue;
    }
    const headless = spec.clusterIP === 'None';
    if (!headless) {
      let ips: string[];
      if (source === 'loadBalancer')
        ips = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter((ip) => ip !== '');
      else if (source === 'externalIPs') ips = spec.externalIPs ?? [];
      else
        ips =
          spec.clusterIPs && spec.clusterIPs.length > 0
            ? spec.clusterIPs
            : spec.clusterIP
              ? [spec.clusterIP]
              : [];
      let any = false;
      for (const ip of ips) {
        if (parseIP(ip) === undefined) continue;
        addIP(svcName, ip, svcPorts);
        any = true;
      }
      if (!any) continue;
      for (const p of ports) {
        if (!p.name || !validLabel(p.name)) continue;
        const proto = (p.protocol ?? 'TCP').toLowerCase();
        add(`_${p.name}._${proto}.${svcName}`, { host: svcName.slice(0, -1), port: p.port, type: 'SRV' });
      }
      continue;
    }
    // headless: every ready endpoint, answered all together
    for (const slice of byService.get(`${ns}/${nm}`) ?? []) {
      if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
      const slicePorts = slice.ports ?? [];
      const epPorts = slicePorts.filter((p) => typeof p.port === 'number').map((p) => String(p.port));
      const sliceId = `${slice.metadata.namespace ?? 'default'}/${slice.metadata.name}`;
      const seen = new Set<string>(); // invalid zones of this slice already reported
      for (const ep of slice.endpoints ?? []) {
        if (ep.conditions?.ready === false) continue;
        // an endpoint's zone: on its A/AAAA, its PTR and the SRV records naming it
        const zone = endpointZone(ep.zone, (message) => {
          const shown = JSON.stringify(ep.zone);
          if (seen.has(shown)) return;
          seen.add(shown);
          invalidZones.push({ slice: sliceId, zone: ep.zone, message });
        });
        for (const addr of ep.addresses ?? []) {
          const ip = canonicalIP(addr);
          if (ip === undefined) continue;
          const label = ep.hostname && validLabel(ep.hostname) ? ep.hostname : dashedIP(ip);
          const epName = `${label}.${svcName}`;
          addIP(epName, ip, epPorts.length > 0 ? epPorts : svcPorts, 'all', zone);
          for (const p of slicePorts) {
            if (!p.name || !validLabel(p.name) || typeof p.port !== 'number') continue;
            const proto = (p.protocol ?? 'TCP').toLowerCase();
            add(`_${p.name}._${proto}.${svcName}`, {
              host: epName.slice(0, -1),
              port: p.port,
              type: 'SRV',
              select: 'all',
              zone,
            });
          }
        }
      }
    }
  }
  return { records, addresses, invalidZones, domain, ...desiredProbes(services, domain) };
}
