/**
 * GET /v1/dns-metrics: the DNS servers' Prometheus `/metrics` (kubeapi's `-dns-metrics`), scraped
 * server-side so the browser needs no CORS and never reaches the servers itself. A request
 * scrapes every server at once (each with a short timeout and a size cap) unless the last scrape
 * is younger than `minIntervalMs` (then it is reused: several open UIs cost one scrape).
 * Queries/s is the difference of `hades_requests_total` between this scrape and the previous one
 * of the same server, over the monotonic time between them (null on the first scrape, after a
 * failed one, or when the counter went back: a restart). A server that does not answer, answers
 * non-200 or answers something that is not the text format is `up: false` with the reason; it
 * never fails the request.
 */
import http from 'node:http';
import { parsePromText, sumBy, sumOf } from '../metrics/prom-text.js';

export interface MetricsTarget {
  host: string;
  port: number;
}

export interface DnsServerMetrics {
  /** `host:port` as configured (IPv6 in brackets). */
  server: string;
  up: boolean;
  /** Why it is down. */
  error?: string;
  /** Requests per second between the last two scrapes; null when not known yet. */
  queriesPerSecond: number | null;
  /** Counters since the server started. */
  requests: number;
  responses: Record<string, number>;
  cacheHits: number;
  cacheMisses: number;
  /** hits / (hits + misses); null without lookups (or with the cache off). */
  cacheHitRatio: number | null;
}

export interface DnsMetricsView {
  servers: DnsServerMetrics[];
  total: Omit<DnsServerMetrics, 'server' | 'up' | 'error'> & { up: number; down: number };
  /** When this scrape was taken (ISO). */
  scrapedAt: string;
}

interface Sample {
  at: number;
  requests: number;
}

export interface DnsMetricsOptions {
  targets: MetricsTarget[];
  /** Per server (default 2000 ms). */
  timeoutMs?: number;
  /** A scrape younger than this is reused (default 1000 ms). */
  minIntervalMs?: number;
  /** Largest body read (default 4 MiB). */
  maxBytes?: number;
}

export function formatTarget(t: MetricsTarget): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

function fetchText(t: MetricsTarget, timeoutMs: number, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: t.host, port: t.port, path: '/metrics', timeout: timeoutMs, headers: { accept: 'text/plain' } },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode} from /metrics`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) {
            req.destroy(new Error(`/metrics is larger than ${maxBytes} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    // one deadline for the whole exchange, not only for socket idleness
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

const ratio = (hits: number, misses: number): number | null =>
  hits + misses > 0 ? hits / (hits + misses) : null;

export class DnsMetrics {
  readonly targets: MetricsTarget[];
  #o: Required<Omit<DnsMetricsOptions, 'targets'>>;
  #prev = new Map<string, Sample>();
  #last: { at: number; view: DnsMetricsView } | undefined;
  #inflight: Promise<DnsMetricsView> | undefined;

  constructor(o: DnsMetricsOptions) {
    this.targets = o.targets;
    this.#o = {
      timeoutMs: o.timeoutMs ?? 2000,
      minIntervalMs: o.minIntervalMs ?? 1000,
      maxBytes: o.maxBytes ?? 4 << 20,
    };
  }

  /** The current view: a fresh scrape, or the last one when it is younger than minIntervalMs. */
  view(): Promise<DnsMetricsView> {
    const now = performance.now();
    if (this.#last && now - this.#last.at < this.#o.minIntervalMs) return Promise.resolve(this.#last.view);
    if (!this.#inflight)
      this.#inflight = this.#scrape().finally(() => {
        this.#inflight = undefined;
      });
    return this.#inflight;
  }

  async #scrape(): Promise<DnsMetricsView> {
    const servers = await Promise.all(this.targets.map((t) => this.#one(t)));
    const total: DnsMetricsView['total'] = {
      up: 0,
      down: 0,
      queriesPerSecond: null,
      requests: 0,
      responses: {},
      cacheHits: 0,
      cacheMisses: 0,
      cacheHitRatio: null,
    };
    for (const s of servers) {
      if (!s.up) {
        total.down++;
        continue;
      }
      total.up++;
      total.requests += s.requests;
      total.cacheHits += s.cacheHits;
      total.cacheMisses += s.cacheMisses;
      for (const [rc, n] of Object.entries(s.responses)) total.responses[rc] = (total.responses[rc] ?? 0) + n;
      if (s.queriesPerSecond !== null)
        total.queriesPerSecond = (total.queriesPerSecond ?? 0) + s.queriesPerSecond;
    }
    total.cacheHitRatio = ratio(total.cacheHits, total.cacheMisses);
    const view: DnsMetricsView = { servers, total, scrapedAt: new Date().toISOString() };
    this.#last = { at: performance.now(), view };
    return view;
  }

  async #one(t: MetricsTarget): Promise<DnsServerMetrics> {
    const server = formatTarget(t);
    const empty = {
      queriesPerSecond: null,
      requests: 0,
      responses: {},
      cacheHits: 0,
      cacheMisses: 0,
      cacheHitRatio: null,
    };
    let text: string;
    let at: number;
    try {
      text = await fetchText(t, this.#o.timeoutMs, this.#o.maxBytes);
      at = performance.now();
    } catch (err) {
      this.#prev.delete(server);
      return { server, up: false, error: (err as Error).message, ...empty };
    }
    let parsed: ReturnType<typeof parsePromText>;
    try {
      parsed = parsePromText(text);
    } catch (err) {
      this.#prev.delete(server);
      return { server, up: false, error: `not Prometheus text: ${(err as Error).message}`, ...empty };
    }
    const requests = sumOf(parsed, 'hades_requests_total');
    if (requests === undefined) {
      this.#prev.delete(server);
      return { server, up: false, error: 'no hades_requests_total: not a hades metrics port?', ...empty };
    }
    const cacheHits = sumOf(parsed, 'hades_cache_hits_total') ?? 0;
    const cacheMisses = sumOf(parsed, 'hades_cache_misses_total') ?? 0;
    const prev = this.#prev.get(server);
    let qps: number | null = null;
    if (prev && requests >= prev.requests && at > prev.at)
      qps = Math.round(((requests - prev.requests) / ((at - prev.at) / 1000)) * 100) / 100;
    this.#prev.set(server, { at, requests });
    return {
      server,
      up: true,
      queriesPerSecond: qps,
      requests,
      responses: sumBy(parsed, 'hades_responses_total', 'rcode'),
      cacheHits,
      cacheMisses,
      cacheHitRatio: ratio(cacheHits, cacheMisses),
    };
  }
}
