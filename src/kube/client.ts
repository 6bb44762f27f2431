/**
 * A small list+watch client for the Kubernetes API (node:http/https, no dependency).
 *
 * - `KubeClient`: where the API server is and how to authenticate (bearer token, CA file), from
 *   explicit options, a kubeconfig (server + token + CA, basic support) or the in-cluster
 *   service-account files. `getJson(path)` and `watchStream(path, onLine)`.
 * - `ListWatcher`: one resource (e.g. `/api/v1/services`): list (paged with `limit`/`continue`),
 *   then watch from the list's resourceVersion (`allowWatchBookmarks`), resume from the last
 *   resourceVersion after a dropped stream, list again on 410 Gone (HTTP 410 or an ERROR event
 *   with code 410), restart with exponential backoff on any other error. Never stops by itself.
 */

import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { type Logger, NOOP_LOGGER } from '../common/logger.js';

export interface KubeObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: { [k: string]: string };
  annotations?: { [k: string]: string };
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: KubeObjectMeta;
}

export interface KubeClientOptions {
  /** `http(s)://host:port` of the API server (the seed's `kube-master-url`). */
  server: string;
  token?: string;
  /** PEM CA certificate(s) for an https server (content, not a path). */
  ca?: string | Buffer;
  /** Skip server certificate checks (kubeconfig `insecure-skip-tls-verify`). */
  insecure?: boolean;
  /** Per-request timeout for lists (ms). Default 30 s. */
  requestTimeoutMs?: number;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Options from the in-cluster environment (KUBERNETES_SERVICE_HOST/PORT + service-account files), or undefined. */
export function inClusterOptions(
  env = process.env,
  dir = SERVICE_ACCOUNT_DIR,
): KubeClientOptions | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  const h = host.includes(':') ? `[${host}]` : host;
  let token: string | undefined;
  let ca: Buffer | undefined;
  try {
    token = readFileSync(`${dir}/token`, 'utf8').trim();
  } catch {
    // no token file
  }
  try {
    ca = readFileSync(`${dir}/ca.crt`);
  } catch {
    // no CA file
  }
  return { server: `https://${h}:${port}`, token, ca };
}

/**
 * Basic kubeconfig support: the current context's cluster `server`, `certificate-authority(-data)`,
 * `insecure-skip-tls-verify`, and its user's `token` / `tokenFile`. Accepts JSON or the usual
 * simple YAML layout (block mappings and `- name:` lists, no anchors or flow style).
 */
export function kubeconfigOptions(text: string): KubeClientOptions {
  const doc = (text.trimStart().startsWith('{') ? JSON.parse(text) : parseSimpleYaml(text)) as {
    [k: string]: unknown;
  };
  const arr = (k: string) => (Array.isArray(doc[k]) ? (doc[k] as { [k: string]: unknown }[]) : []);
  const named = (list: { [k: string]: unknown }[], name: unknown, field: string) =>
    (list.find((e) => e.name === name)?.[field] ?? (list.length === 1 ? list[0][field] : undefined)) as
      | { [k: string]: unknown }
      | undefined;
  const ctxName = doc['current-context'];
  const ctx = named(arr('contexts'), ctxName, 'context') ?? {};
  const cluster = named(arr('clusters'), ctx.cluster, 'cluster');
  const user = named(arr('users'), ctx.user, 'user') ?? {};
  if (cluster === undefined || typeof cluster.server !== 'string')
    throw new Error('kubeconfig: no cluster server for the current context');
  const out: KubeClientOptions = { server: cluster.server };
  if (typeof cluster['certificate-authority-data'] === 'string')
    out.ca = Buffer.from(cluster['certificate-authority-data'], 'base64');
  else if (typeof cluster['certificate-authority'] === 'string')
    out.ca = readFileSync(cluster['certificate-authority']);
  if (cluster['insecure-skip-tls-verify'] === true || cluster['insecure-skip-tls-verify'] === 'true')
    out.insecure = true;
  if (typeof user.token === 'string') out.token = user.token;
  else if (typeof user.tokenFile === 'string') out.token = readFileSync(user.tokenFile, 'utf8').trim();
  return out;
}

/** The subset of YAML kubeconfig files use: nested block mappings, `- ` sequences, plain/quoted scalars. */
export function parseSimpleYaml(text: string): unknown {
  type Line = { indent: number; text: string };
  const lines: Line[] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*(#.*)?$/.test(raw) || raw.startsWith('---')) continue;
    const indent = raw.length - raw.trimStart().length;
    lines.push({ indent, text: raw.trim() });
  }
  let i = 0;
  const scalar = (s: string): unknown => {
    const t = s.replace(/\s+#.*$/, '').trim();
    if (t === '' || t === '~' || t === 'null') return null;
    if (t === 'true') return true;
    if (t === 'false') return false;
    if (/^-?\d+$/.test(t)) return Number(t);
    if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) {
      if (t.startsWith('"')) return JSON.parse(t);
      return t.slice(1, -1).replace(/''/g, "'");
    }
    if (t === '[]') return [];
    if (t === '{}') return {};
    return t;
  };
  const block = (indent: number): unknown => {
    if (i >= lines.length) return null;
    if (lines[i].text.startsWith('- ') || lines[i].text === '-') {
      const out: unknown[] = [];
      while (i < lines.length && lines[i].indent === indent && lines[i].text.startsWith('-')) {
        const rest = lines[i].text.slice(1).trimStart();
        if (rest === '') {
          i++;
          out.push(i < lines.length && lines[i].indent > indent ? block(lines[i].indent) : null);
        } else if (/^[^"'][^:]*:(\s|$)/.test(rest)) {
          // a mapping starting on the dash line: re-read it as a mapping at the dash's content indent
          lines[i] = { indent: indent + 2, text: rest };
          out.push(block(indent + 2));
        } else {
          out.push(scalar(rest));
          i++;
        }
      }
      return out;
    }
    const obj: { [k: string]: unknown } = {};
    while (i < lines.length && lines[i].indent === indent && !lines[i].text.startsWith('- ')) {
      const m = /^("[^"]*"|'[^']*'|[^:]+):(?:\s+(.*))?$/.exec(lines[i].text);
      if (m === null) throw new Error(`kubeconfig: cannot read line "${lines[i].text}"`);
      const key = String(scalar(m[1]));
      i++;
      if (m[2] !== undefined && m[2].trim() !== '') obj[key] = scalar(m[2]);
      else if (
        i < lines.length &&
        (lines[i].indent > indent || (lines[i].indent === indent && lines[i].text.startsWith('-')))
      )
        obj[key] = block(lines[i].indent);
      else obj[key] = null;
    }
    return obj;
  };
  return block(lines.length > 0 ? lines[0].indent : 0);
}

/** An HTTP status from the API server (`code` 410 = Gone: the resourceVersion is too old). */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

export class KubeClient {
  readonly server: URL;
  private readonly token: string | undefined;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;

  constructor(opts: KubeClientOptions) {
    this.server = new URL(opts.server);
    if (this.server.protocol !== 'http:' && this.server.protocol !== 'https:')
      throw new Error(`kube-master-url: "${opts.server}" is not an http:// or https:// URL`);
    this.token = opts.token;
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.agent =
      this.server.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ca: opts.ca, rejectUnauthorized: !opts.insecure })
        : new http.Agent({ keepAlive: true });
  }

  private request(
    path: string,
    timeoutMs: number | undefined,
  ): Promise<http.IncomingMessage> & { req?: http.ClientRequest } {
    const url = new URL(path, this.server);
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const mod = url.protocol === 'https:' ? https : http;
    let req: http.ClientRequest | undefined;
    const p = new Promise<http.IncomingMessage>((resolve, reject) => {
      req = mod.request(url, { method: 'GET', headers, agent: this.agent }, resolve);
      req.on('error', reject);
      if (timeoutMs !== undefined)
        req.setTimeout(timeoutMs, () => req?.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
      req.end();
    }) as Promise<http.IncomingMessage> & { req?: http.ClientRequest };
    p.req = req;
    return p;
  }

  /** GET a JSON document; a non-2xx status rejects with KubeApiError. */
  async getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
    const p = this.request(path, this.timeoutMs);
    const onAbort = () => p.req?.destroy(new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await p;
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks).toString('utf8');
      if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300)
        throw new KubeApiError(
          res.statusCode ?? 0,
          `GET ${path}: HTTP ${res.statusCode}: ${statusMessage(body)}`,
        );
      return JSON.parse(body) as T;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * GET a watch stream and hand each NDJSON line to `onLine` (parsed). Resolves when the server
   * ends the stream (or `signal` aborts); rejects on a connection error or a non-2xx status.
   */
  async watchStream(path: string, onLine: (ev: unknown) => void, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    const p = this.request(path, undefined);
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      p.req?.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const res = await p;
      if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
        const chunks: Buffer[] = [];
        for await (const c of res) chunks.push(c as Buffer);
        throw new KubeApiError(
          res.statusCode ?? 0,
          `watch ${path}: HTTP ${res.statusCode}: ${statusMessage(Buffer.concat(chunks).toString('utf8'))}`,
        );
      }
      res.setEncoding('utf8');
      let buf = '';
      await new Promise<void>((resolve, reject) => {
        res.on('data', (s: string) => {
          buf += s;
          let nl = buf.indexOf('\n');
          while (nl !== -1) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line !== '') {
              try {
                onLine(JSON.parse(line));
              } catch (err) {
                res.destroy(err as Error);
                return;
              }
            }
            nl = buf.indexOf('\n');
          }
        });
        res.on('end', resolve);
        res.on('error', reject);
        res.on('close', () =>
          res.complete ? resolve() : reject(new Error('watch stream closed before its end')),
        );
      });
    } catch (err) {
      if (aborted) return;
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

function statusMessage(body: string): string {
  try {
    const s = JSON.parse(body) as { message?: unknown };
    if (typeof s.message === 'string') return s.message;
  } catch {
    // not JSON
  }
  return body.slice(0, 200);
}

export interface ListWatchHandler<T extends KubeObject> {
  /** A full listing (start-up or relist after 410): the complete current set. */
  reset(items: T[], resourceVersion: string): void;
  /** One watch event. */
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T): void;
}

export interface ListWatchOptions {
  pageSize?: number;
  /** Asked of the server per watch request (it ends the stream then; we resume). Default 300. */
  watchTimeoutSeconds?: number;
  /** Backoff after an error: first delay and cap (ms). Default 200 ms → 30 s. */
  backoffMs?: number;
  maxBackoffMs?: number;
  logger?: Logger;
}

export type ListWatchState = 'listing' | 'watching' | 'backoff' | 'stopped';

/** List+watch of one resource path, running until `stop()`. */
export class ListWatcher<T extends KubeObject> {
  state: ListWatchState = 'listing';
  /** Counters, for tests, logs and metrics (`byType`: the events by watch event type). */
  readonly stats = {
    lists: 0,
    watches: 0,
    gone: 0,
    errors: 0,
    events: 0,
    bookmarks: 0,
    byType: { ADDED: 0, MODIFIED: 0, DELETED: 0 },
  };
  private rv: string | undefined;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;
  private readonly log: Logger;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly client: KubeClient,
    readonly path: string,
    private readonly handler: ListWatchHandler<T>,
    private readonly opts: ListWatchOptions = {},
  ) {
    this.log = opts.logger ?? NOOP_LOGGER;
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.done;
    this.state = 'stopped';
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
    });
  }

  private async list(): Promise<void> {
    this.state = 'listing';
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    const limit = this.opts.pageSize ?? 500;
    do {
      const q = new URLSearchParams({ limit: String(limit) });
      if (cont) q.set('continue', cont);
      const page = await this.client.getJson<{
        items?: T[];
        metadata?: { resourceVersion?: string; continue?: string };
      }>(`${this.path}?${q}`, this.abort.signal);
      if (this.stopped) return;
      for (const it of page.items ?? []) items.push(it);
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue || undefined;
    } while (cont);
    this.stats.lists++;
    this.rv = rv;
    this.handler.reset(items, rv);
    this.log.debug({ path: this.path, items: items.length, resourceVersion: rv }, 'kube: listed');
  }

  private async watch(): Promise<void> {
    this.state = 'watching';
    const q = new URLSearchParams({
      watch: '1',
      resourceVersion: this.rv ?? '',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(this.opts.watchTimeoutSeconds ?? 300),
    });
    this.stats.watches++;
    let gone: KubeApiError | undefined;
    await this.client.watchStream(
      `${this.path}?${q}`,
      (line) => {
        if (gone || this.stopped) return;
        const ev = line as { type?: string; object?: { [k: string]: unknown } };
        const obj = ev.object;
        if (ev.type === 'ERROR') {
          const code = typeof obj?.code === 'number' ? obj.code : 0;
          gone = new KubeApiError(
            code,
            `watch ${this.path}: ERROR event ${code}: ${String(obj?.message ?? '')}`,
          );
          throw gone; // ends the stream even if the server keeps it open
        }
        const rv = (obj?.metadata as KubeObjectMeta | undefined)?.resourceVersion;
        if (ev.type === 'BOOKMARK') {
          this.stats.bookmarks++;
          if (rv) this.rv = rv;
          return;
        }
        if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED') return;
        if (obj === undefined || typeof obj.metadata !== 'object') return;
        this.stats.events++;
        this.stats.byType[ev.type]++;
        this.handler.event(ev.type, obj as unknown as T);
        if (rv) this.rv = rv;
      },
      this.abort.signal,
    );
    if (gone) throw gone;
  }

  private async run(): Promise<void> {
    const base = this.opts.backoffMs ?? 200;
    const cap = this.opts.maxBackoffMs ?? 30_000;
    let delay = base;
    while (!this.stopped) {
      try {
        if (this.rv === undefined) await this.list();
        if (this.stopped) break;
        const before = this.stats.events + this.stats.bookmarks;
        await this.watch();
        // the stream ended (server timeout or dropped): resume from the last resourceVersion
        if (this.stats.events + this.stats.bookmarks > before) delay = base;
        else {
          // nothing came: do not spin on a server that ends every stream at once
          await this.sleep(delay);
          delay = Math.min(cap, delay * 2);
        }
        this.log.debug({ path: this.path, resourceVersion: this.rv }, 'kube: watch ended, resuming');
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof KubeApiError && err.code === 410) {
          this.stats.gone++;
          this.log.info(
            { path: this.path, resourceVersion: this.rv },
            'kube: resourceVersion gone (410), listing again',
          );
          this.rv = undefined;
          continue;
        }
        this.stats.errors++;
        this.state = 'backoff';
        this.log.warn(
          { path: this.path, err: (err as Error).message, retryInMs: delay },
          'kube: list/watch failed',
        );
        await this.sleep(delay);
        delay = Math.min(cap, delay * 2);
        continue;
      }
      // a successful (possibly empty) watch cycle
      if (this.stopped) break;
    }
  }
}
