/**
 * `-workers N`: one metrics port for the whole process group. The primary (which answers no DNS)
 * holds the port; on each scrape or /ready it asks every worker over the cluster IPC channel for
 * its registry as JSON and its readiness, and aggregates the answers with prom-client's
 * `AggregatorRegistry.aggregate` (counters and histograms summed; each gauge by its own rule:
 * records the largest, revision the lowest, readiness the lowest, …). /ready is 200 only when
 * all N workers answered and every one is ready.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Registry } from 'prom-client';
import { Collected } from './collected.js';
import type { ExplainQuery, ExplainReply, HadesMetrics } from './hades-metrics.js';
import type { MetricsEndpoints } from './http.js';

const REQUEST = 'hades:metrics-request';
const REPLY = 'hades:metrics-reply';
const EXPLAIN = 'hades:explain-request';
const EXPLAINED = 'hades:explain-reply';

interface Reply {
  type: typeof REPLY;
  id: number;
  ready: boolean;
  metrics: unknown[];
}

function isReply(m: unknown): m is Reply {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === REPLY;
}

/** In a worker: answers the primary's requests with this process's metrics. Returns a detach function. */
export function answerPrimary(metrics: HadesMetrics): () => void {
  const onMessage = (m: unknown): void => {
    const type = typeof m === 'object' && m !== null ? (m as { type?: unknown }).type : undefined;
    const id = Number((m as { id?: unknown }).id);
    if (type === EXPLAIN) {
      const reply = metrics.explain((m as { params?: ExplainQuery }).params ?? {});
      if (process.connected)
        process.send?.({ type: EXPLAINED, id, ...reply }, undefined, undefined, () => {});
      return;
    }
    if (type !== REQUEST) return;
    metrics.json().then(
      (json) => {
        if (!process.connected) return;
        const reply: Reply = { type: REPLY, id, ready: metrics.ready(), metrics: json };
        process.send?.(reply, undefined, undefined, () => {
          // a primary gone meanwhile: nothing to do
        });
      },
      () => {
        if (process.connected) process.send?.({ type: REPLY, id, ready: false, metrics: [] });
      },
    );
  };
  process.on('message', onMessage);
  return () => process.removeListener('message', onMessage);
}

interface Pending {
  replies: Reply[];
  waiting: Set<Worker>;
  done: () => void;
}

export interface GroupSnapshot {
  /** Workers expected (-workers). */
  expected: number;
  /** Replies received in time. */
  replies: { ready: boolean; metrics: unknown[] }[];
}

/** In the primary: gathers and aggregates the workers' metrics. */
export class ClusterMetrics implements MetricsEndpoints {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly own = new Registry();

  private readonly explained = new Map<number, (r: ExplainReply) => void>();

  constructor(
    /** Workers the group should have (-workers N). */
    private readonly expected: number,
    /** How long a scrape waits for a worker that does not answer. */
    private readonly timeoutMs = 2000,
  ) {
    cluster.on('message', (_worker, msg) => {
      if ((msg as { type?: unknown })?.type !== EXPLAINED) return;
      const { id, status, body } = msg as { id: number } & ExplainReply;
      this.explained.get(id)?.({ status, body });
    });
    cluster.on('message', (worker, msg) => {
      if (!isReply(msg)) return;
      const p = this.pending.get(msg.id);
      if (p === undefined || !p.waiting.has(worker)) return;
      p.waiting.delete(worker);
      p.replies.push(msg);
      if (p.waiting.size === 0) p.done();
    });
    this.own.registerMetric(
      new Collected(
        'hades_workers_expected',
        'Worker processes the group should have (-workers).',
        'gauge',
        () => [{ labels: {}, value: this.expected }],
        'max',
      ).asMetric(),
    );
  }

  /** Asks every connected worker; resolves with the replies that came within the timeout. */
  async gather(): Promise<GroupSnapshot> {
    const id = this.nextId++;
    const workers = Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => w?.isConnected() === true,
    );
    const replies: Reply[] = [];
    if (workers.length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(finish, this.timeoutMs);
        function finish(): void {
          clearTimeout(timer);
          resolve();
        }
        const p: Pending = { replies, waiting: new Set(workers), done: finish };
        this.pending.set(id, p);
        for (const w of workers) {
          try {
            w.send({ type: REQUEST, id });
          } catch {
            p.waiting.delete(w);
          }
        }
        if (p.waiting.size === 0) finish();
      });
      this.pending.delete(id);
    }
    return { expected: this.expected, replies: replies.map((r) => ({ ready: r.ready, metrics: r.metrics })) };
  }

  async metrics(): Promise<{ contentType: string; body: string }> {
    const snap = await this.gather();
    const own = await this.own.getMetricsAsJSON();
    const registry = AggregatorRegistry.aggregate([...snap.replies.map((r) => r.metrics), own]);
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  /** `/explain`: asked of the first connected worker (every worker answers from the same data). */
  explain(params: ExplainQuery): Promise<ExplainReply> {
    const worker = Object.values(cluster.workers ?? {}).find((w) => w?.isConnected() === true);
    if (worker === undefined)
      return Promise.resolve({ status: 503, body: { error: 'no worker is running' } });
    const id = this.nextId++;
    return new Promise((resolve) => {
      const done = (r: ExplainReply): void => {
        clearTimeout(timer);
        this.explained.delete(id);
        resolve(r);
      };
      const timer = setTimeout(
        () => done({ status: 503, body: { error: 'the worker did not answer' } }),
        this.timeoutMs,
      );
      this.explained.set(id, done);
      try {
        worker.send({ type: EXPLAIN, id, params });
      } catch (err) {
        done({ status: 503, body: { error: `the worker could not be asked: ${(err as Error).message}` } });
      }
    });
  }

  async ready(): Promise<{ ready: boolean; why?: string }> {
    const snap = await this.gather();
    const ready = snap.replies.filter((r) => r.ready).length;
    if (snap.replies.length < snap.expected)
      return { ready: false, why: `${snap.replies.length} of ${snap.expected} workers answered` };
    if (ready < snap.expected) return { ready: false, why: `${ready} of ${snap.expected} workers ready` };
    return { ready: true };
  }
}

/** The endpoints of a single process (no -workers). */
export function localEndpoints(metrics: HadesMetrics): MetricsEndpoints {
  return {
    metrics: async () => ({ contentType: metrics.contentType, body: await metrics.text() }),
    ready: async () =>
      metrics.ready() ? { ready: true } : { ready: false, why: 'the catalog has not loaded the store yet' },
    explain: async (params) => metrics.explain(params),
  };
}
