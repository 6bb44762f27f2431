/**
 * The one Record type, used by every reader and writer of Hades data.
 *
 * On disk (etcd) a record is the SkyDNS service JSON plus Hades fields, every field optional
 * (`RecordValue`). In memory it is a `Record`: the value plus where it lives and what it is,
 * derived once at parse time so the DNS path never re-parses.
 */

/** Answer selection policy for a name with several addresses (docs/dns.md, "Answer selection"). */
export type SelectPolicy = 'sticky' | 'random-one' | 'all';
export const SELECT_POLICIES: readonly SelectPolicy[] = ['sticky', 'random-one', 'all'];

/**
 * What a name answers when every address not drained is DOWN (docs/dns.md, "Answer selection"):
 * `open` serves them (fail-open), `closed` answers SERVFAIL.
 */
export type AllDownPolicy = 'open' | 'closed';
export const ALL_DOWN_POLICIES: readonly AllDownPolicy[] = ['open', 'closed'];

/** The JSON stored at a record key. Unknown fields are kept out of the parsed value. */
export interface RecordValue {
  /** IPv4 → A, IPv6 → AAAA, a name → CNAME (and SRV/MX/NS target). */
  host?: string;
  port?: number;
  priority?: number;
  weight?: number;
  text?: string;
  /** true: also an MX with preference `priority`. */
  mail?: boolean;
  /** Seconds; absent → the server's default. */
  ttl?: number;
  targetstrip?: number;
  group?: string;
  /** Hades: declared type (Hades 1.x writes "A", "cname", ...). Informational. */
  type?: string;
  /** Hades: who wrote it: "api", "svc", ... */
  source?: string;
  user?: string;
  cluster?: string;
  /** Hades: per-name selection override. */
  select?: SelectPolicy;
  /** Hades: per-name all-down override. */
  alldown?: AllDownPolicy;
  /** Hades: the topology zone this address lives in (topology.ts; locality). */
  zone?: string;
}

/** What `host` holds, decided once when the record is parsed. */
export type HostKind = 'ipv4' | 'ipv6' | 'name' | 'none';

export interface Record extends Readonly<RecordValue> {
  /** Store key, e.g. `/hades/local/hades/user/cctv1/4af19cb2`. */
  readonly key: string;
  /** Owner name from the key: lower case, absolute (trailing dot), e.g. `4af19cb2.cctv1.user.hades.local.` */
  readonly name: string;
  readonly hostKind: HostKind;
  /** `host` normalised: IPs in canonical text form, names lower-case absolute. '' when none. */
  readonly target: string;
  /** Store revision of the last write to the key. */
  readonly modRevision: number;
}

/** `{"status":"UP"|"DOWN","ports":["80"]}` at `<ip-monitor-path><ip>`. */
export type HealthState = 'UP' | 'DOWN';
export interface HealthStatus {
  status: HealthState;
  ports?: string[];
  /** A Kubernetes-shaped probe (raw JSON; validated by `parseProbe` in probe.ts). */
  probe?: unknown;
  /** Why the scanner wrote the last change: `HTTP 503`, `timeout after 1s`, … */
  reason?: string;
  /** When the scanner wrote the last change (ISO 8601). */
  changed?: string;
  /** `drain`: never served, not even fail-open; `none` (or absent): served by health. */
  admin?: unknown;
  /** Other fields a writer put there (kept by compare-and-swap writers). */
  [extra: string]: unknown;
}
