/**
 * The metrics port: `GET /metrics` (Prometheus text format), `GET /health` (200 while the process
 * runs), `GET /ready` (200 once ready, else 503) and, for hades, `GET /explain` (JSON: why a
 * client gets its answer). HEAD too; anything else 404/405.
 */

import http from 'node:http';
import { guardHttpServer } from '../common/http-server.js';
import type { Logger } from '../common/logger.js';
import type { ExplainQuery, ExplainReply } from './hades-metrics.js';

export interface MetricsEndpoints {
  /** The exposition text and its content type. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Whether /ready says 200; `why` explains a 503. */
  ready(): Promise<{ ready: boolean; why?: string }>;
  /** `GET /explain?name=&type=&client=&ecs=` (hades only; without it /explain is 404). */
  explain?(params: ExplainQuery): Promise<ExplainReply>;
}

export interface MetricsHttpServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Listens on host:port (port 0 picks one). Rejects (holding nothing) when it cannot bind. */
export function startMetricsServer(
  host: string,
  port: number,
  endpoints: MetricsEndpoints,
  log?: Logger,
): Promise<MetricsHttpServer> {
  const server = http.createServer((req, res) => {
    const [url, search] = (req.url ?? '/').split('?', 2);
    const method = req.method ?? 'GET';
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.statusCode = status;
      res.setHeader('content-type', type);
      res.setHeader('cache-control', 'no-store');
      res.end(method === 'HEAD' ? undefined : body);
    };
    const explain = url === '/explain' ? endpoints.explain?.bind(endpoints) : undefined;
    if (url !== '/metrics' && url !== '/health' && url !== '/ready' && explain === undefined) {
      send(404, 'not found: /metrics, /health and /ready live here\n');
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(405, 'method not allowed\n');
      return;
    }
    if (explain !== undefined) {
      const q = new URLSearchParams(search ?? '');
      const params: ExplainQuery = {};
      for (const k of ['name', 'type', 'client', 'ecs'] as const) {
        const v = q.get(k);
        if (v !== null) params[k] = v;
      }
      const json = 'application/json; charset=utf-8';
      explain(params).then(
        (r) => send(r.status, `${JSON.stringify(r.body, null, 2)}\n`, json),
        (err: Error) => send(500, `${JSON.stringify({ error: err.message })}\n`, json),
      );
      return;
    }
    if (url === '/health') {
      send(200, 'OK');
      return;
    }
    if (url === '/ready') {
      endpoints.ready().then(
        (r) => send(r.ready ? 200 : 503, r.ready ? 'OK' : `not ready: ${r.why ?? 'starting'}\n`),
        (err: Error) => send(503, `not ready: ${err.message}\n`),
      );
      return;
    }
    endpoints.metrics().then(
      (m) => send(200, m.body, m.contentType),
      (err: Error) => {
        log?.warn({ err: err.message }, 'metrics: collecting failed');
        send(500, `collecting metrics failed: ${err.message}\n`);
      },
    );
  });
  guardHttpServer(server, 10_000, 5000);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      server.removeListener('error', reject);
      server.on('error', (err) => log?.warn({ err: err.message }, 'metrics: http server error'));
      const bound = (server.address() as { port: number }).port;
      resolve({
        host,
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
