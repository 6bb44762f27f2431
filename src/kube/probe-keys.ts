/**
 * The `hades.io/probe` Service annotation → the `probe` field of the status keys of the
 * Service's addresses (its ClusterIPs and load-balancer ingress IPs), and who owns what in a
 * status key. Pure: `desiredProbes` reads the Services, `statusOp` decides the one write (if
 * any) a status key needs; reconcile.ts runs them against the store.
 *
 * Ownership, recorded in the status value itself so that it survives restarts and replicas:
 * - `"source":"svc"`: hades-kubeapi created the key (for a record's address or for a probe).
 *   Only such keys (and, for record addresses, the bare `{"status","ports"}` shape older
 *   kubeapi releases wrote) are ever deleted by kubeapi; a key a person or the API wrote is not.
 * - `"probeService":"<svc>.<ns>.svc.<domain>"`: the probe came from that Service's annotation.
 *   kubeapi changes or removes only a probe carrying a name in its own `svc.<domain>`; a probe
 *   without it (the API's, a person's) is left alone and the annotation skipped for that address.
 */
import {
  type HealthStatus,
  isDrained,
  parseIP,
  parseName,
  parseProbe,
  RecordError,
  serializeHealthStatus,
} from '../records/index.js';
import type { Service } from './mapping.js';

export const PROBE_ANNOTATION = 'hades.io/probe';
/** `source` of a status key hades-kubeapi created. */
export const KEY_SOURCE = 'svc';
/** The status field naming the Service whose annotation the probe came from. */
export const PROBE_OWNER = 'probeService';

export interface DesiredProbe {
  /** The annotation's JSON, as written (validated by parseProbe). */
  probe: unknown;
  /** The Service's name, `web.default.svc.hades.local.` (stored in `probeService`). */
  service: string;
}

export interface InvalidProbe {
  /** `namespace/name` */
  service: string;
  /** The annotation's value (to warn once per value). */
  value: string;
  /** The field path at fault, e.g. `probe.httpGet.port` ('probe' when not JSON). */
  field: string;
  message: string;
}

export interface ProbeConflict {
  ip: string;
  /** `namespace/name` of the Service whose probe the address gets (the first by namespace/name). */
  kept: string;
  ignored: string;
}

export interface DesiredProbes {
  /** Canonical IP → the probe it should carry. */
  probes: Map<string, DesiredProbe>;
  /**
   * Addresses of Services whose annotation does not validate: their status keys are left as
   * they are (a typo must not silently drop the last good check of a live Service).
   */
  hold: Set<string>;
  invalid: InvalidProbe[];
  /** Two Services sharing an address (a shared load-balancer IP) with different probes. */
  conflicts: ProbeConflict[];
}

/** The addresses a Service's probe applies to: ClusterIPs (both families) and LB ingress IPs. */
export function probeAddresses(svc: Service): string[] {
  const spec = svc.spec ?? {};
  if (spec.type === 'ExternalName') return [];
  const cluster =
    spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  const lb = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');
  const out: string[] = [];
  for (const text of [...cluster, ...lb]) {
    const ip = parseIP(text)?.text; // 'None' (headless) and '' are not addresses
    if (ip !== undefined && !out.includes(ip)) out.push(ip);
  }
  return out;
}

/** JSON with object keys sorted: two probes are equal when their canonical texts are. */
export function canonicalJSON(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as { [k: string]: unknown };
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJSON(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The probes every address should carry, from the annotations of all Services. */
export function desiredProbes(services: Iterable<Service>, domain: string): DesiredProbes {
  const zone = parseName(domain);
  const out: DesiredProbes = { probes: new Map(), hold: new Set(), invalid: [], conflicts: [] };
  const owner = new Map<string, string>(); // ip → namespace/name of the probe kept
  // namespace/name order: a shared address gets the same probe on every replica and every pass
  const annotated = [...services]
    .filter((s) => s.metadata.annotations?.[PROBE_ANNOTATION] !== undefined)
    .map((s) => ({ s, id: `${s.metadata.namespace ?? 'default'}/${s.metadata.name}` }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const { s, id } of annotated) {
    const ips = probeAddresses(s);
    if (ips.length === 0) continue; // headless, ExternalName, no address yet: nothing to check
    const value = String(s.metadata.annotations?.[PROBE_ANNOTATION]); // a string from a real API server
    let raw: unknown;
    try {
      raw = JSON.parse(value);
      parseProbe(raw, 'probe');
    } catch (err) {
      const field = err instanceof RecordError ? err.field : 'probe';
      const why = err instanceof RecordError ? err.message : `not JSON: ${(err as Error).message}`;
      out.invalid.push({ service: id, value, field, message: why });
      for (const ip of ips) out.hold.add(ip);
      continue;
    }
    const [ns, name] = [s.metadata.namespace ?? 'default', s.metadata.name];
    const want: DesiredProbe = { probe: raw, service: `${name}.${ns}.svc.${zone}` };
    for (const ip of ips) {
      const prev = out.probes.get(ip);
      if (prev === undefined) {
        out.probes.set(ip, want);
        owner.set(ip, id);
      } else if (canonicalJSON(prev.probe) !== canonicalJSON(raw))
        out.conflicts.push({ ip, kept: owner.get(ip) ?? '', ignored: id });
    }
  }
  return out;
}

export type StatusOpKind = 'healthCreated' | 'probeSet' | 'probeRemoved' | 'healthDeleted';

export interface StatusInput {
  /** The address's ports when one of our records uses it (its key is created if absent). */
  create?: string[];
  /** The probe the address should carry. */
  probe?: DesiredProbe;
  /** The address belongs to a Service whose annotation is invalid: leave its probe alone. */
  hold?: boolean;
  /** Our records used the address before this pass and no record in our ranges does after. */
  released?: boolean;
  /** A record in our ranges (ours or a user's) uses the address after this pass. */
  used?: boolean;
  /** `svc.<domain>.` of this kubeapi: probes whose `probeService` ends with it are ours (none when undefined). */
  zone: string | undefined;
}

export type StatusOp =
  | { kind: 'healthCreated' | 'probeSet' | 'probeRemoved'; value: string }
  | { kind: 'healthDeleted' }
  /** Someone else's probe (or a value that is not a JSON object) is there: left alone. */
  | { kind: 'probeSkipped' };

type Obj = { [k: string]: unknown };

function object(value: string): Obj | undefined {
  try {
    const v = JSON.parse(value) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
  } catch {
    return undefined;
  }
}

/** The probe in `o` was written by this kubeapi (from an annotation in its zone). */
export function ownProbe(o: Obj, zone: string | undefined): boolean {
  const s = o[PROBE_OWNER];
  return zone !== undefined && typeof s === 'string' && s.toLowerCase().endsWith(`.${zone.toLowerCase()}`);
}

const LEGACY_FIELDS = new Set(['status', 'ports', 'reason', 'changed']);

/** What kubeapi releases before `source` wrote for a record's address: status + ports (+ scanner fields). */
function legacyShape(o: Obj): boolean {
  if (o.source !== undefined) return false;
  const keys = Object.keys(o).map((k) => k.toLowerCase());
  return keys.includes('ports') && keys.every((k) => LEGACY_FIELDS.has(k));
}

/**
 * The one write the status key of an address needs, given its current value (undefined:
 * absent), or undefined when it is right as it is.
 */
export function statusOp(current: string | undefined, w: StatusInput): StatusOp | undefined {
  if (current === undefined) {
    if (w.create === undefined && w.probe === undefined) return undefined;
    const h: HealthStatus = { status: 'UP' };
    if (w.create !== undefined) h.ports = w.create;
    if (w.probe !== undefined) {
      h.probe = w.probe.probe;
      h[PROBE_OWNER] = w.probe.service;
    }
    h.source = KEY_SOURCE;
    return { kind: 'healthCreated', value: serializeHealthStatus(h) };
  }
  const o = object(current);
  if (o === undefined) return w.probe !== undefined ? { kind: 'probeSkipped' } : undefined;
  const ours = ownProbe(o, w.zone);
  if (w.probe !== undefined) {
    if (o.probe !== undefined && !ours) return { kind: 'probeSkipped' };
    if (ours && o[PROBE_OWNER] === w.probe.service && canonicalJSON(o.probe) === canonicalJSON(w.probe.probe))
      return undefined;
    // every other field (status, reason, changed, admin, ports, unknown ones) kept, in place
    return {
      kind: 'probeSet',
      value: JSON.stringify({ ...o, probe: w.probe.probe, [PROBE_OWNER]: w.probe.service }),
    };
  }
  if (w.hold) return undefined;
  const rest: Obj = { ...o };
  if (ours) {
    delete rest.probe;
    delete rest[PROBE_OWNER];
  }
  // a drain or another writer's probe is someone's claim on the key: it stays
  const claimed = isDrained(rest as HealthStatus) || rest.probe !== undefined;
  const created = o.source === KEY_SOURCE;
  const gone =
    !w.used && !claimed && ((w.released === true && (created || legacyShape(rest))) || (ours && created));
  if (gone) return { kind: 'healthDeleted' };
  if (ours) return { kind: 'probeRemoved', value: JSON.stringify(rest) };
  return undefined;
}
