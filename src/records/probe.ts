/**
 * The probe of an address: the `probe` field of `/hades/monitor/status/<ip>`, in the shape of
 * Kubernetes' core/v1 Probe (`httpGet`, `tcpSocket`, `grpc`, `timeoutSeconds`, `periodSeconds`,
 * `successThreshold`, `failureThreshold`, `initialDelaySeconds`) plus Hades's `icmp` handler and
 * the httpGet additions `expectStatus`, `expectBody`, `insecureSkipVerify`.
 *
 * `parseProbe` validates strictly (unknown fields refused, so a typo is not silently a default)
 * and names the bad field as a path: `probe.httpGet.port`. Writers (API, kubeapi) refuse with it;
 * the scanner logs it and leaves the address's status alone.
 */
import { RecordError, show } from './errors.js';
import { parseIP } from './ip.js';

/** An inclusive range of HTTP status codes. */
export interface StatusRange {
  readonly from: number;
  readonly to: number;
}

export interface HttpGetProbe {
  readonly kind: 'httpGet';
  /** Request path with query, starting with `/` (default `/`). */
  readonly path: string;
  readonly port: number;
  /**
   * The name sent as `Host` and as the TLS server name (and verified against the certificate).
   * Unlike Kubernetes, the connection always goes to the address under test. Absent: the address.
   */
  readonly host: string | undefined;
  readonly scheme: 'HTTP' | 'HTTPS';
  readonly httpHeaders: readonly { readonly name: string; readonly value: string }[];
  /** Codes that pass (default 200-399, as Kubernetes). */
  readonly expectStatus: readonly StatusRange[];
  /** A substring the body must contain (the first 64 KiB of it are read). */
  readonly expectBody: string | undefined;
  readonly insecureSkipVerify: boolean;
}

export interface TcpSocketProbe {
  readonly kind: 'tcpSocket';
  readonly port: number;
}

export interface GrpcProbe {
  readonly kind: 'grpc';
  readonly port: number;
  /** grpc.health.v1 service name ('' = the server as a whole). */
  readonly service: string;
}

export interface IcmpProbe {
  readonly kind: 'icmp';
}

export type ProbeHandler = HttpGetProbe | TcpSocketProbe | GrpcProbe | IcmpProbe;
export type ProbeKind = ProbeHandler['kind'];
export const PROBE_KINDS: readonly ProbeKind[] = ['httpGet', 'tcpSocket', 'grpc', 'icmp'];

/** A validated probe. Timing fields absent here take the scanner's defaults. */
export interface Probe {
  readonly handler: ProbeHandler;
  readonly timeoutSeconds: number | undefined;
  readonly periodSeconds: number | undefined;
  readonly successThreshold: number | undefined;
  readonly failureThreshold: number | undefined;
  readonly initialDelaySeconds: number | undefined;
}

export const DEFAULT_EXPECT_STATUS = '200-399';
/** How much of a body `expectBody` looks at. */
export const MAX_PROBE_BODY = 64 * 1024;

const TIMING = [
  'timeoutSeconds',
  'periodSeconds',
  'successThreshold',
  'failureThreshold',
  'initialDelaySeconds',
];
/** Kubernetes Probe fields accepted (and validated) but not used here. */
const IGNORED = ['terminationGracePeriodSeconds'];
const HTTP_FIELDS = [
  'path',
  'port',
  'host',
  'scheme',
  'httpHeaders',
  'expectStatus',
  'expectBody',
  'insecureSkipVerify',
];
/** RFC 9110 token: a header name. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Header values and paths: visible ASCII and spaces/tabs only (no CR/LF smuggling). */
const SAFE_VALUE = /^[\t\x20-\x7e]*$/;
const SAFE_PATH = /^\/[\x21-\x7e]*$/;
/** A DNS name (labels of letters, digits, `-`, `_`; no trailing dot, as SNI has none). */
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

type Obj = { readonly [k: string]: unknown };

function object(v: unknown, field: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw new RecordError(field, `${field} must be a JSON object, got ${show(v)}`);
  return v as Obj;
}

function onlyFields(o: Obj, field: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw new RecordError(`${field}.${k}`, `${field}.${k} is not a known field`);
}

function port(v: unknown, field: string): number {
  const n = typeof v === 'string' && /^[0-9]{1,5}$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535)
    throw new RecordError(
      field,
      `${field} must be a port number 1-65535 (named ports are not supported), got ${show(v)}`,
    );
  return n;
}

function positiveInt(v: unknown, field: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 86400)
    throw new RecordError(field, `${field} must be an integer ${min}-86400, got ${show(v)}`);
  return v;
}

function str(v: unknown, field: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new RecordError(field, `${field} must be a string, got ${show(v)}`);
  return v;
}

/**
 * `"200-399"`, `"200,204,300-399"` or a number → ranges. Codes are 100-599.
 * Throws RecordError(field) on anything else.
 */
export function parseStatusRanges(v: unknown, field: string): StatusRange[] {
  const text = typeof v === 'number' ? String(v) : v;
  if (typeof text !== 'string' || text.trim() === '')
    throw new RecordError(field, `${field} must be codes and ranges like "200,204,300-399", got ${show(v)}`);
  const out: StatusRange[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*([0-9]{3})\s*(?:-\s*([0-9]{3})\s*)?$/.exec(part);
    const from = m ? Number(m[1]) : Number.NaN;
    const to = m?.[2] !== undefined ? Number(m[2]) : from;
    if (!m || from < 100 || to > 599 || to < from)
      throw new RecordError(
        field,
        `${field} must be codes and ranges like "200,204,300-399", got ${show(v)}`,
      );
    out.push({ from, to });
  }
  return out;
}

export function statusMatches(ranges: readonly StatusRange[], code: number): boolean {
  for (const r of ranges) if (code >= r.from && code <= r.to) return true;
  return false;
}

function httpGet(v: unknown, field: string): HttpGetProbe {
  const o = object(v, field);
  onlyFields(o, field, HTTP_FIELDS);
  const path = str(o.path, `${field}.path`) ?? '/';
  if (!SAFE_PATH.test(path))
    throw new RecordError(
      `${field}.path`,
      `${field}.path must start with / and hold visible ASCII only, got ${show(path)}`,
    );
  const host = str(o.host, `${field}.host`);
  // a name or a bare address: it is the TLS server name and goes into Host with the port added
  if (host !== undefined && !HOST_NAME.test(host) && parseIP(host) === undefined)
    throw new RecordError(
      `${field}.host`,
      `${field}.host must be a host name or an IP address without a port, got ${show(host)}`,
    );
  const scheme = o.scheme === undefined ? 'HTTP' : o.scheme;
  if (scheme !== 'HTTP' && scheme !== 'HTTPS')
    throw new RecordError(
      `${field}.scheme`,
      `${field}.scheme must be "HTTP" or "HTTPS", got ${show(o.scheme)}`,
    );
  const headers: { name: string; value: string }[] = [];
  if (o.httpHeaders !== undefined) {
    if (!Array.isArray(o.httpHeaders))
      throw new RecordError(`${field}.httpHeaders`, `${field}.httpHeaders must be a list of {name, value}`);
    o.httpHeaders.forEach((h: unknown, i: number) => {
      const hf = `${field}.httpHeaders[${i}]`;
      const ho = object(h, hf);
      onlyFields(ho, hf, ['name', 'value']);
      const name = str(ho.name, `${hf}.name`);
      const value = str(ho.value, `${hf}.value`) ?? '';
      if (name === undefined || !TOKEN.test(name))
        throw new RecordError(`${hf}.name`, `${hf}.name must be a header name, got ${show(ho.name)}`);
      if (!SAFE_VALUE.test(value))
        throw new RecordError(`${hf}.value`, `${hf}.value must be visible ASCII, got ${show(value)}`);
      headers.push({ name, value });
    });
  }
  const insecure = o.insecureSkipVerify ?? false;
  if (typeof insecure !== 'boolean')
    throw new RecordError(
      `${field}.insecureSkipVerify`,
      `${field}.insecureSkipVerify must be true or false, got ${show(insecure)}`,
    );
  const expectBody = str(o.expectBody, `${field}.expectBody`);
  if (expectBody !== undefined && (expectBody === '' || Buffer.byteLength(expectBody) > MAX_PROBE_BODY))
    throw new RecordError(`${field}.expectBody`, `${field}.expectBody must be 1 to ${MAX_PROBE_BODY} bytes`);
  return {
    kind: 'httpGet',
    path,
    port: port(o.port, `${field}.port`),
    host,
    scheme,
    httpHeaders: headers,
    expectStatus: parseStatusRanges(o.expectStatus ?? DEFAULT_EXPECT_STATUS, `${field}.expectStatus`),
    expectBody,
    insecureSkipVerify: insecure,
  };
}

/**
 * Validates a probe (the parsed JSON of the `probe` field). Exactly one handler; the field named
 * in the RecordError is a path under `field` (default `probe`), e.g. `probe.grpc.port`.
 */
export function parseProbe(v: unknown, field = 'probe'): Probe {
  const o = object(v, field);
  onlyFields(o, field, [...PROBE_KINDS, 'exec', ...TIMING, ...IGNORED]);
  if (o.exec !== undefined)
    throw new RecordError(
      `${field}.exec`,
      `${field}.exec is not supported: the scanner probes over the network`,
    );
  const present = PROBE_KINDS.filter((k) => o[k] !== undefined);
  if (present.length !== 1)
    throw new RecordError(
      field,
      `${field} must have exactly one of ${PROBE_KINDS.join(', ')}${present.length ? `, got ${present.join(' and ')}` : ''}`,
    );
  // accepted for Kubernetes manifests as they are, and still checked: a bad value is a typo
  positiveInt(o.terminationGracePeriodSeconds, `${field}.terminationGracePeriodSeconds`, 1);
  const kind = present[0];
  const f = `${field}.${kind}`;
  let handler: ProbeHandler;
  if (kind === 'httpGet') handler = httpGet(o.httpGet, f);
  else if (kind === 'tcpSocket') {
    const h = object(o.tcpSocket, f);
    onlyFields(h, f, ['port', 'host']);
    if (h.host !== undefined)
      throw new RecordError(`${f}.host`, `${f}.host is not supported: the address itself is probed`);
    handler = { kind, port: port(h.port, `${f}.port`) };
  } else if (kind === 'grpc') {
    const h = object(o.grpc, f);
    onlyFields(h, f, ['port', 'service']);
    handler = { kind, port: port(h.port, `${f}.port`), service: str(h.service, `${f}.service`) ?? '' };
  } else {
    onlyFields(object(o.icmp, f), f, []);
    handler = { kind: 'icmp' };
  }
  return {
    handler,
    timeoutSeconds: positiveInt(o.timeoutSeconds, `${field}.timeoutSeconds`, 1),
    periodSeconds: positiveInt(o.periodSeconds, `${field}.periodSeconds`, 1),
    successThreshold: positiveInt(o.successThreshold, `${field}.successThreshold`, 1),
    failureThreshold: positiveInt(o.failureThreshold, `${field}.failureThreshold`, 1),
    initialDelaySeconds: positiveInt(o.initialDelaySeconds, `${field}.initialDelaySeconds`, 0),
  };
}

/** One line for people: `httpGet HTTPS :8443/healthz`, `tcpSocket :80`, `grpc :50051 (svc)`, `icmp`. */
export function describeProbe(p: ProbeHandler): string {
  switch (p.kind) {
    case 'httpGet':
      return `httpGet ${p.scheme} ${p.host?.includes(':') ? `[${p.host}]` : (p.host ?? '')}:${p.port}${p.path}`;
    case 'tcpSocket':
      return `tcpSocket :${p.port}`;
    case 'grpc':
      return `grpc :${p.port}${p.service ? ` (${p.service})` : ''}`;
    case 'icmp':
      return 'icmp';
  }
}
