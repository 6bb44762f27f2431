/**
 * A small list+watch client for the Kubernetes API (node:http/https).
 *
 * - `KubeClient`: `getJson(path)` and `watchStream(path, onLine)` against the server of a
 *   `RequestAuth` (auth.ts: KubeConfig), asking it for headers and agent (TLS material) before
 *   every request; a 401 refreshes the credentials and the request is made once more.
 * - `ListWatcher`: one resource (e.g. `/api/v1/services`): list (paged with `limit`/`continue`),
 *   then watch from the list's resourceVersion (`allowWatchBookmarks`), resume from the last
 *   resourceVersion after a dropped stream, list again on 410 Gone (HTTP 410 or an ERROR event
 *   with code 410), restart with exponential backoff on any other error. Never stops by itself.
 */

import http from 'node:http';
import https from 'node:https';
import { type Logger, NOOP_LOGGER } from '../common/logger.js';
import type { RequestAuth } from './auth.js';

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

export interface KubeClientOptions {
  /** Per-request timeout for lists (ms). Default 30 s. */
  requestTimeoutMs?: number;
}

export class KubeClient {
  readonly server: URL;
  private readonly timeoutMs: number;
  private readonly open = new Set<http.ClientRequest>();

  /** `auth` gives each request its headers and agent (src/kube/auth.ts's KubeAuth). */
  constructor(
    private readonly auth: RequestAuth,
    opts: KubeClientOptions = {},
  ) {
    this.server = auth.server;
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
  }

  /**
   * One GET; `signal` aborting destroys it. A 401 makes the credentials refresh (token files read
   * again, the exec plugin run again) and the request is made once more.
   */
  private async request(
    path: string,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<http.IncomingMessage> {
    for (let attempt = 0; ; attempt++) {
      const { res, generation } = await this.requestOnce(path, timeoutMs, signal);
      if (res.statusCode !== 401 || attempt > 0) return res;
      res.resume();
      this.auth.refresh(generation);
    }
  }

  private async requestOnce(
    path: string,
    timeoutMs: number | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ res: http.IncomingMessage; generation: number }> {
    const url = new URL(path, this.server);
    const ro = await this.auth.requestOptions();
    if (signal?.aborted) throw new Error('aborted');
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json', ...ro.headers };
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        { method: 'GET', headers, agent: ro.agent, ...(ro.auth ? { auth: ro.auth } : {}) },
        (res) => resolve({ res, generation: ro.generation }),
      );
      this.open.add(req);
      const onAbort = () => req.destroy(new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('close', () => {
        this.open.delete(req);
        signal?.removeEventListener('abort', onAbort);
      });
      req.on('error', reject);
      if (timeoutMs !== undefined)
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`request timed out after ${timeoutMs} ms`)));
      req.end();
    });
  }

  /** GET a JSON document; a non-2xx status rejects with KubeApiError. */
  async getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
    const res = await this.request(path, this.timeoutMs, signal);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300)
      throw new KubeApiError(
        res.statusCode ?? 0,
        `GET ${path}: HTTP ${res.statusCode}: ${statusMessage(body)}`,
      );
    return JSON.parse(body) as T;
  }

  /**
   * GET a watch stream and hand each NDJSON line to `onLine` (parsed). Resolves when the server
   * ends the stream (or `signal` aborts); rejects on a connection error or a non-2xx status.
   */
  async watchStream(path: string, onLine: (ev: unknown) => void, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    try {
      const res = await this.request(path, undefined, signal);
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
      if (signal?.aborted) return;
      throw err;
    }
  }

  /** Destroys the requests still open. */
  close(): void {
    for (const req of this.open) req.destroy();
    this.open.clear();
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
