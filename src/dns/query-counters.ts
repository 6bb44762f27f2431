/**
 * Per-query counters the server keeps for the metrics (src/metrics reads them at scrape time):
 * requests by transport and query type, responses by transport and rcode, and the request
 * duration histogram. Plain Float64Arrays indexed by small integers: counting a query is a few
 * array increments, no labels, no strings, no allocation, no prom-client call.
 */
import { RRType } from './wire/constants.js';

/** Query types counted by name; every other type is counted as `other`. A bounded label set. */
export const QTYPE_LABELS: readonly string[] = Object.freeze([
  'A',
  'AAAA',
  'CNAME',
  'MX',
  'NS',
  'PTR',
  'SOA',
  'SRV',
  'TXT',
  'ANY',
  'CAA',
  'DS',
  'DNSKEY',
  'HTTPS',
  'SVCB',
  'NAPTR',
  'AXFR',
  'IXFR',
  'other',
]);

/** Index of `other` in QTYPE_LABELS (also used for requests whose question cannot be read). */
export const QTYPE_OTHER = QTYPE_LABELS.length - 1;

/** qtype → index into QTYPE_LABELS (64 KiB, built once). */
const QTYPE_INDEX: Uint8Array = (() => {
  const t = new Uint8Array(65536).fill(QTYPE_OTHER);
  const types = RRType as Readonly<Record<string, number>>;
  QTYPE_LABELS.forEach((name, i) => {
    if (name !== 'other') t[types[name]] = i;
  });
  return t;
})();

/** Rcode label per header rcode (the 4 bits of the header; BADVERS, an extended rcode, reads as NOERROR there). */
export const RCODE_LABELS: readonly string[] = Object.freeze([
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
  'YXDOMAIN',
  'YXRRSET',
  'NXRRSET',
  'NOTAUTH',
  'NOTZONE',
  'RCODE11',
  'RCODE12',
  'RCODE13',
  'RCODE14',
  'RCODE15',
]);

/** Transport index in the arrays: 0 UDP, 1 TCP. */
export const TRANSPORT_LABELS: readonly string[] = Object.freeze(['udp', 'tcp']);
export const TRANSPORT_UDP = 0;
export const TRANSPORT_TCP = 1;

/**
 * Upper bounds (seconds) of the request duration buckets; one more bucket counts the rest (+Inf).
 * Answers from the catalog take microseconds; forwarded ones milliseconds to the 5 s deadline.
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]);

export class QueryCounters {
  /** The label tables the arrays are indexed by (for the metrics registry). */
  readonly qtypeLabels = QTYPE_LABELS;
  readonly rcodeLabels = RCODE_LABELS;
  readonly transportLabels = TRANSPORT_LABELS;
  readonly durationBounds = DURATION_BUCKETS;
  /** Requests: `[transport * QTYPE_LABELS.length + qtypeIndex]`. */
  readonly requests = new Float64Array(2 * QTYPE_LABELS.length);
  /** Responses sent: `[transport * 16 + header rcode]`. */
  readonly responses = new Float64Array(2 * 16);
  /** Per DURATION_BUCKETS bound, plus +Inf last; not cumulative (each observation counted once). */
  readonly durationBuckets = new Float64Array(DURATION_BUCKETS.length + 1);
  durationSum = 0;
  durationCount = 0;

  /** Counts one request on `transport` (0 UDP, 1 TCP) of type `qtype` (-1: no readable question). */
  request(transport: number, qtype: number): void {
    this.requests[transport * QTYPE_LABELS.length + (qtype < 0 ? QTYPE_OTHER : QTYPE_INDEX[qtype])]++;
  }

  /** Requests counted on `transport`, every type. */
  requestsOn(transport: number): number {
    let n = 0;
    const base = transport * QTYPE_LABELS.length;
    for (let i = 0; i < QTYPE_LABELS.length; i++) n += this.requests[base + i];
    return n;
  }

  /** Counts one reply (its header's rcode) on `transport`. */
  response(transport: number, reply: Buffer): void {
    this.responses[transport * 16 + (reply[3] & 0x0f)]++;
  }

  /** Records one request's duration, in seconds. */
  observe(seconds: number): void {
    let i = 0;
    const b = DURATION_BUCKETS;
    while (i < b.length && seconds > b[i]) i++;
    this.durationBuckets[i]++;
    this.durationSum += seconds;
    this.durationCount++;
  }
}
