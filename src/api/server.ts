/**
 * The API's HTTP server (node:http): `/hades` (seed-compatible), `/v1` (JSON), `/health` and
 * `/ready` (open). Everything else needs a token; reads need scope `read`, writes `write`.
 * Order per request: rate limit (429) → auth (401/403) → body (413, 400) → validation (400) → write.
 * With `tls` the port speaks HTTPS only (and with `tls.clientCa` needs a client certificate
 * besides the token); the rate limiter's client is the peer, or with `trustedProxies` the
 * X-Forwarded-For client a trusted proxy names (forwarded.ts).
 */

import type http from 'node:http';
import type { HostPort } from '../common/host-port.js';
import { createWebServer, guardHttpServer, type ServerTls } from '../common/http-server.js';
import type { Logger } from '../common/logger.js';
import { canonicalIP } from '../records/ip.js';
import { DEFAULT_TOPOLOGY_PATH } from '../records/topology.js';
import type { ApiCounters } from './api-counters.js';
import { type Authenticator, presentedToken, type RateLimiter, type Scope } from './auth.js';
import type { DnsMetrics } from './dns-metrics.js';
import { ApiError } from './errors.js';
import { TrustedProxies } from './forwarded.js';
import { adminOf, healthView } from './health.js';
import { LegacyApi } from './legacy.js';
import { zoneOf } from './names.js';
import { openApiDocument } from './openapi.js';
import { DEFAULT_MONITOR_PATHS, type MonitorPaths, type ScannersView, scannersView } from './scanners.js';
import type { RecordService } from './service.js';
import { TopologyApi } from './topology.js';
import { loadUiFiles } from './ui/files.js';
import { V1Api } from './v1.js';

/** Largest request body accepted; more is 413. */
export const MAX_BODY = 64 * 1024;

export interface ApiServerOptions {
  service: RecordService;
  domain: string;
  auth: Authenticator;
  limiter: RateLimiter;
  /** /ready: 200 when this resolves true. */
  ready?: () => Promise<boolean>;
  logger?: Logger;
  /** Keys of the health pipeline for /v1/scanners (default: the scanner/schedule programs' defaults). */
  monitor?: MonitorPaths;
  /** The DNS servers' metrics for /v1/dns-metrics (none: `{"configured":false}`). */
  dnsMetrics?: DnsMetrics;
  /** Request, auth-failure and rate-limit counters (hades-kubeapi's -metrics-port). */
  counters?: ApiCounters;
  /** `-topology-path`: the zones of `/v1/topology` (default `/hades/topology/`). */
  topologyPath?: string;
  /** `-api-trusted-proxies`: peers whose X-Forwarded-For names the client (default: none). */
  trustedProxies?: TrustedProxies;
  /** HTTPS (and client certificates) instead of plain HTTP: `startApiServer` only. */
  tls?: ServerTls;
}

export interface ApiServer {
  readonly port: number;
  close(): Promise<void>;
}

type Headers = http.IncomingHttpHeaders;

/**
 * Lingering close, as nginx's: after an answer sent before the request's body was read in full
 * (413, 429, an auth error), the rest of the body is read and thrown away — at most LINGER_BYTES,
 * for at most LINGER_MS — and then the connection is closed (the body read in full: a clean FIN;
 * past a bound: destroyed). Closed at once, the kernel would answer the client's next segments
 * with RST, and a client still writing its body would get EPIPE or ECONNRESET instead of reading
 * the answer. The answer does not say `connection: close`: node:http destroys such a socket as
 * soon as the answer is written, which is the RST this avoids.
 */
export const LINGER_BYTES = 16 * 1024 * 1024;
export const LINGER_MS = 10_000;

function lingerClose(req: http.IncomingMessage, res: http.ServerResponse): void {
  const socket = req.socket;
  let seen = 0;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  req.on('data', (c: Buffer) => {
    seen += c.length;
    if (seen > LINGER_BYTES) {
      clearTimeout(timer);
      socket.destroy();
    }
  });
  req.once('end', () => {
    clearTimeout(timer);
    if (res.writableFinished) socket.end();
    else res.once('finish', () => socket.end());
  });
  req.resume();
}

/** The body as text; 413 (without reading the rest: the answer lingers) over MAX_BODY. */
function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const len = Number(req.headers['content-length'] ?? '0');
    if (len > MAX_BODY) {
      reject(new ApiError(413, `request body of ${len} bytes is larger than ${MAX_BODY}`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > MAX_BODY) {
        failed = true;
        req.removeListener('data', onData);
        req.pause();
        reject(new ApiError(413, `request body is larger than ${MAX_BODY} bytes`));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (e) => {
      if (!failed) reject(e);
    });
  });
}

/** One path segment, percent-decoded; 400 when the escapes are malformed. */
function decodePart(p: string): string {
  try {
    return decodeURIComponent(p);
  } catch {
    throw new ApiError(400, `path segment "${p}" has a malformed %-escape`);
  }
}

/**
 * `If-Match: "<modRevision>"` (the ETag a GET gives) or the bare number accepted before ETags,
 * or undefined when absent; 400 when it is neither. One entity tag: the API's writes guard one
 * key. A weak tag (`W/"…"`) never matches (RFC 9110 §13.1.1 compares strongly): 412 below.
 */
function ifMatchOf(h: Headers): number | undefined {
  const im = h['if-match'];
  if (typeof im !== 'string') return undefined;
  const t = im.trim();
  if (/^W\/"\d+"$/.test(t)) return -1; // never equal to a modRevision: the write answers 412
  if (!/^(\d+|"\d+")$/.test(t))
    throw new ApiError(
      400,
      'header If-Match must be an ETag "<modRevision>" (or the bare number)',
      'If-Match',
    );
  return Number(t.replace(/"/g, ''));
}

/** The strong ETag of a stored key: its modRevision, quoted. */
export function etagOf(modRevision: number): string {
  return `"${modRevision}"`;
}

/**
 * True when `If-None-Match` (a list of ETags, weak ones compared weakly as RFC 9110 §13.1.2 says,
 * or `*`) matches `etag`: a GET then answers 304.
 */
function noneMatch(h: Headers, etag: string): boolean {
  const inm = h['if-none-match'];
  if (typeof inm !== 'string') return false;
  if (inm.trim() === '*') return true;
  return inm.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

function parseJson(text: string, optional: boolean): unknown {
  if (text.trim() === '') {
    if (optional) return undefined;
    throw new ApiError(400, 'request body is empty (want JSON)', '');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(400, `request body is not valid JSON: ${(e as Error).message}`, '');
  }
}

/** What a route answers; `etag` is sent as `ETag` (and compared with `If-None-Match`). */
interface Answer {
  status: number;
  body: string;
  type?: string;
  etag?: string;
}

export function createApiHandler(o: ApiServerOptions): http.RequestListener {
  const zone = zoneOf(o.domain);
  const legacy = new LegacyApi(o.service, zone);
  const v1 = new V1Api(o.service, zone);
  const topology = new TopologyApi(o.service.store, o.topologyPath ?? DEFAULT_TOPOLOGY_PATH);
  const openapi = JSON.stringify(openApiDocument());
  const ui = loadUiFiles();
  const proxies = o.trustedProxies ?? TrustedProxies.NONE;

  const authorize = (h: Headers, need: Scope): void => {
    const tok = presentedToken(h);
    if (tok === undefined) {
      if (o.counters) o.counters.authFailures.missing++;
      throw new ApiError(401, 'no token: send "Authorization: Bearer <token>" or the header "token"');
    }
    const scopes = o.auth.scopesOf(tok);
    if (scopes === undefined) {
      if (o.counters) o.counters.authFailures.rejected++;
      throw new ApiError(401, 'token not accepted');
    }
    if (!scopes.has(need)) {
      if (o.counters) o.counters.authFailures.scope++;
      throw new ApiError(403, `token lacks the "${need}" scope`);
    }
  };

  async function route(req: http.IncomingMessage, url: URL): Promise<Answer> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const json = (status: number, v: unknown): Answer => ({
      status,
      body: `${JSON.stringify(v)}\n`,
      type: 'application/json',
    });
    /** One stored object: 200 with its ETag, or 304 when `If-None-Match` has it. */
    const one = (v: { modRevision: number }): Answer => {
      const etag = etagOf(v.modRevision);
      if (noneMatch(req.headers, etag)) return { status: 304, body: '', etag };
      return { ...json(200, v), etag };
    };
    if (path === '/health') return { status: 200, body: 'OK' };
    if (path === '/ready') {
      const ok = o.ready ? await o.ready().catch(() => false) : true;
      return ok
        ? { status: 200, body: 'OK' }
        : { status: 503, body: 'not ready: the store does not answer\n' };
    }
    if (path === '/v1/openapi.json') return { status: 200, body: openapi, type: 'application/json' };
    // the web UI's static assets need no token: the page asks for one and sends it to /v1
    const file = ui.get(path);
    if (file) return { status: 200, ...file };
    const write = method !== 'GET' && method !== 'HEAD';
    if (path === '/hades' || path === '/hades/') {
      if (!['GET', 'HEAD', 'POST', 'PUT', 'DELETE'].includes(method))
        throw new ApiError(405, `method ${method} not allowed on /hades`);
      authorize(req.headers, write ? 'write' : 'read');
      const h = req.headers as { [k: string]: unknown };
      if (!write) return json(200, await legacy.get(h));
      const body = parseJson(await readBody(req), method === 'DELETE');
      if (method === 'POST') await legacy.post(h, body);
      else if (method === 'PUT') await legacy.put(h, body);
      else await legacy.delete(h, body);
      return { status: 200, body: 'OK' };
    }
    if (path.startsWith('/v1/')) {
      authorize(req.headers, write ? 'write' : 'read');
      const parts = path.slice(4).split('/').map(decodePart);
      if (parts[0] === 'records') {
        if (parts.length === 1) {
          if (method === 'GET') return json(200, await v1.list(url.searchParams));
          if (method === 'POST') return json(201, await v1.create(parseJson(await readBody(req), false)));
        } else if (parts.length === 2 && parts[1] !== '') {
          if (method === 'GET') return json(200, await v1.getName(parts[1]));
          if (method === 'DELETE') return json(200, await v1.remove(parts[1]));
        } else if (parts.length === 3 && parts[2] !== '') {
          if (method === 'GET') return one(await v1.getRecord(parts[1], parts[2]));
          if (method === 'PUT') {
            const ifMatch = ifMatchOf(req.headers);
            return json(
              200,
              await v1.replace(parts[1], parts[2], parseJson(await readBody(req), false), ifMatch),
            );
          }
          if (method === 'DELETE') return json(200, await v1.remove(parts[1], parts[2]));
        } else throw new ApiError(404, `no such resource ${path}`);
        throw new ApiError(405, `method ${method} not allowed on ${path}`);
      }
      if (parts[0] === 'topology') {
        if (parts.length === 1) {
          if (method === 'GET') return json(200, await topology.list(url.searchParams));
        } else if (parts.length === 2) {
          if (method === 'GET') return one(await topology.get(parts[1]));
          if (method === 'PUT') {
            const ifMatch = ifMatchOf(req.headers);
            return json(200, await topology.put(parts[1], parseJson(await readBody(req), false), ifMatch));
          }
          if (method === 'DELETE') return json(200, await topology.remove(parts[1], ifMatchOf(req.headers)));
        } else throw new ApiError(404, `no such resource ${path}`);
        throw new ApiError(405, `method ${method} not allowed on ${path}`);
      }
      if (parts.length === 1 && method === 'GET') {
        if (parts[0] === 'zones') return json(200, zonesOf(o.domain));
        if (parts[0] === 'scanners') {
          const view: ScannersView = await scannersView(o.service.store, o.monitor ?? DEFAULT_MONITOR_PATHS);
          return json(200, view);
        }
        if (parts[0] === 'dns-metrics') {
          if (!o.dnsMetrics) return json(200, { configured: false, servers: [] });
          return json(200, { configured: true, ...(await o.dnsMetrics.view()) });
        }
      }
      if (parts[0] === 'health') {
        if (parts.length === 1 && method === 'GET')
          return json(200, {
            health: (await o.service.listHealth()).map((h) => healthView(h.ip, h.status)),
          });
        if (parts.length === 2) {
          const ip = canonicalIP(parts[1]);
          if (ip === undefined) throw new ApiError(400, `"${parts[1]}" is not an IP address`, 'ip');
          if (method === 'GET') {
            const st = await o.service.health(ip);
            if (!st) throw new ApiError(404, `no health status for ${ip}`);
            return json(200, healthView(ip, st));
          }
          if (method === 'PUT') {
            const admin = adminOf(parseJson(await readBody(req), false));
            const r = await o.service.setAdmin(ip, admin);
            return json(200, healthView(r.ip, r.status));
          }
          throw new ApiError(405, `method ${method} not allowed on ${path}`);
        }
      }
    }
    throw new ApiError(404, `no such resource ${method} ${path}`);
  }

  return (req, res) => {
    const peer = req.socket.remoteAddress ?? '';
    const client = proxies.clientOf(peer, req.headers['x-forwarded-for']);
    const viaProxy = client !== proxies.clientOf(peer, undefined);
    const url = new URL(req.url ?? '/', 'http://api');
    const started = performance.now();
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8', etag?: string): void => {
      if (res.headersSent) return;
      res.statusCode = status;
      if (etag !== undefined) res.setHeader('etag', etag);
      if (status !== 304) res.setHeader('content-type', type);
      res.setHeader('cache-control', 'no-store');
      // an answer before the whole body was read: the rest is read, then the connection closed
      if (!req.complete && status >= 400) lingerClose(req, res);
      else if (status === 413 || status === 429) res.setHeader('connection', 'close');
      res.end(req.method === 'HEAD' || status === 304 ? undefined : body);
      o.counters?.observe(req.method, status, (performance.now() - started) / 1000);
      if (req.method !== 'GET' || status >= 400)
        o.logger?.info(
          {
            method: req.method,
            path: url.pathname,
            status,
            client,
            ...(viaProxy ? { peer } : {}),
            ms: Math.round(performance.now() - started),
          },
          'api: request',
        );
    };
    const open = url.pathname === '/health' || url.pathname === '/ready';
    if (!open) {
      const ok = o.limiter.take(client);
      if (ok !== true) {
        if (o.counters) o.counters.rateLimited++;
        res.setHeader('retry-after', String(ok));
        send(
          429,
          `${JSON.stringify({ error: `too many requests from ${client}; retry in ${ok} s` })}\n`,
          'application/json',
        );
        req.resume();
        return;
      }
    }
    route(req, url).then(
      (r) => send(r.status, r.body, r.type, r.etag),
      (err: unknown) => {
        if (err instanceof ApiError) {
          const v: { error: string; field?: string } = { error: err.message };
          if (err.field !== undefined && err.field !== '') v.field = err.field;
          send(err.status, `${JSON.stringify(v)}\n`, 'application/json');
        } else {
          const code = (err as { code?: string }).code;
          const unavailable = code === 'ESTORE_UNAVAILABLE' || code === 'ESTORE_CLOSED';
          o.logger?.warn({ err: (err as Error).message, path: url.pathname }, 'api: request failed');
          send(
            unavailable ? 503 : 500,
            `${JSON.stringify({ error: unavailable ? unavailableMessage(err) : 'internal error' })}\n`,
            'application/json',
          );
        }
        req.resume();
      },
    );
  };
}

/** The 503's message: etcd's lost quorum said as such (StoreError.noQuorum), else a plain "try again". */
function unavailableMessage(err: unknown): string {
  const noQuorum = (err as { noQuorum?: unknown }).noQuorum;
  if (typeof noQuorum === 'string')
    return `etcd has no quorum: ${noQuorum}; the write was not confirmed; try again later`;
  return 'the store is unavailable; try again';
}

/** GET /v1/zones: the zone the API writes in, and the reverse trees PTR names live under. */
function zonesOf(domain: string): object {
  return {
    zones: [
      { name: domain, kind: 'forward' },
      { name: 'in-addr.arpa.', kind: 'reverse' },
      { name: 'ip6.arpa.', kind: 'reverse' },
    ],
  };
}

/** Listens on `addr` (port 0 picks one), HTTPS only with `o.tls`. Rejects when it cannot bind. */
export function startApiServer(addr: HostPort, o: ApiServerOptions): Promise<ApiServer> {
  const server = createWebServer(o.tls, createApiHandler(o));
  guardHttpServer(server, 30_000, 10_000);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: addr.host, port: addr.port }, () => {
      server.removeListener('error', reject);
      resolve({
        port: (server.address() as { port: number }).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
