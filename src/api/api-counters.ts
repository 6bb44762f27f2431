/**
 * Plain counters of the API's requests, kept by the request path (server.ts) and read at scrape
 * time by src/metrics/kubeapi-metrics.ts: per request two map lookups and a few increments.
 */

/** Methods with their own label value; anything else counts as `other`. */
export const API_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const;

/** Upper bounds (seconds) of the request-duration histogram. */
export const API_DURATION_BOUNDS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export type AuthFailure = 'missing' | 'rejected' | 'scope';

export class ApiCounters {
  /** method → status code → requests answered. */
  readonly requests = new Map<string, Map<number, number>>();
  readonly durationBounds = API_DURATION_BOUNDS;
  /** Non-cumulative: `durationBuckets[i]` for `durationBounds[i]`, the last for +Inf. */
  readonly durationBuckets = new Float64Array(API_DURATION_BOUNDS.length + 1);
  durationSum = 0;
  /** 401 without a token, 401 with an unknown one, 403 for a token lacking the scope. */
  readonly authFailures: Record<AuthFailure, number> = { missing: 0, rejected: 0, scope: 0 };
  /** Requests refused with 429 by the per-client rate limit. */
  rateLimited = 0;

  /** One answered request: its method, status and time from arrival to the response. */
  observe(method: string | undefined, status: number, seconds: number): void {
    const m = (API_METHODS as readonly string[]).includes(method ?? '') ? (method as string) : 'other';
    let byCode = this.requests.get(m);
    if (byCode === undefined) {
      byCode = new Map();
      this.requests.set(m, byCode);
    }
    byCode.set(status, (byCode.get(status) ?? 0) + 1);
    let i = 0;
    while (i < this.durationBounds.length && seconds > this.durationBounds[i]) i++;
    this.durationBuckets[i]++;
    this.durationSum += seconds;
  }
}
