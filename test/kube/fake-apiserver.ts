/**
 * A fake Kubernetes API server for tests (node:http on 127.0.0.1). It speaks the real list/watch
 * wire protocol for Services (`/api/v1/services`) and EndpointSlices
 * (`/apis/discovery.k8s.io/v1/endpointslices`) with real object JSON:
 *
 * - list: `{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"N"},"items":[...]}`,
 *   paginated with `limit`/`continue` (one snapshot across pages);
 * - watch (`?watch=1&resourceVersion=N&allowWatchBookmarks=true`): chunked newline-delimited
 *   `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}`, every event after N, then
 *   live ones; a resourceVersion older than the compacted history gets an ERROR event with a
 *   410 Status (as the real server does), or HTTP 410 with `goneAsHttp`;
 * - `dropStreams()` cuts every open watch, `bookmark()` sends a BOOKMARK, `compact()` forgets
 *   history, `restart()` closes the server (every connection) and listens again on the same port;
 * - a bearer `token` (or one of several), when set, is required (401 otherwise); `authorizations`
 *   keeps every Authorization header seen, `unauthorized` counts the 401s;
 * - with `tls` it speaks HTTPS only; with `tls.ca` it requires a client certificate signed by
 *   that CA (the TLS handshake fails without one) and `clientNames` keeps each request's
 *   certificate CN.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

type Kind = 'Service' | 'EndpointSlice';

interface Res {
  kind: Kind;
  apiVersion: string;
  listKind: string;
  path: string;
}

const RESOURCES: Res[] = [
  { kind: 'Service', apiVersion: 'v1', listKind: 'ServiceList', path: '/api/v1/services' },
  {
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    listKind: 'EndpointSliceList',
    path: '/apis/discovery.k8s.io/v1/endpointslices',
  },
];

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes object JSON
export type Obj = { [k: string]: any };

interface HistoryEvent {
  rv: number;
  kind: Kind;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

interface Watcher {
  kind: Kind;
  res: http.ServerResponse;
}

export interface FakeTls {
  cert: Buffer;
  key: Buffer;
  /** Require a client certificate signed by this CA. */
  ca?: Buffer;
}

export class FakeApiServer {
  port = 0;
  /** The bearer token(s) accepted; undefined: no token needed. */
  token: string | string[] | undefined;
  /** Authorization headers seen, in order ('' for none). */
  readonly authorizations: string[] = [];
  /** Client certificate CNs seen, one per request ('' for none). */
  readonly clientNames: string[] = [];
  /** 401 answers sent. */
  unauthorized = 0;
  /** Answer a too-old watch with HTTP 410 instead of an ERROR event. */
  goneAsHttp = false;
  /** After a 410 ERROR event, keep the stream open (the client must end it itself). */
  keepOpenAfterError = false;
  /** Requests seen, e.g. `GET /api/v1/services?limit=500`. */
  readonly requests: string[] = [];
  private rv = 100;
  private minRv = 0;
  private readonly objects = new Map<string, Obj>(); // kind/ns/name → object
  private readonly history: HistoryEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private server: http.Server | undefined;
  private snapshots = new Map<string, Obj[]>();

  constructor(readonly tls?: FakeTls) {}

  async start(port = 0): Promise<void> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res);
    const server = this.tls
      ? https.createServer(
          {
            cert: this.tls.cert,
            key: this.tls.key,
            ...(this.tls.ca ? { ca: this.tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
          },
          handler,
        )
      : http.createServer(handler);
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  /** Closes the server and every connection (watch streams end mid-stream). */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Close and listen again on the same port (state kept, as an API server backed by etcd). */
  async restart(): Promise<void> {
    await this.close();
    await this.start(this.port);
  }

  /** Cut every open watch stream (the client must resume from its last resourceVersion). */
  dropStreams(): number {
    const n = this.watchers.size;
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    return n;
  }

  /** Forget history up to now: a watch from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.minRv = this.rv;
    this.history.length = 0;
  }

  /** Send a BOOKMARK with the current resourceVersion to every watcher. */
  bookmark(): void {
    for (const w of this.watchers) {
      const r = RESOURCES.find((x) => x.kind === w.kind)!;
      this.write(w, {
        type: 'BOOKMARK',
        object: { kind: r.kind, apiVersion: r.apiVersion, metadata: { resourceVersion: String(this.rv) } },
      });
    }
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /** Create or replace an object (ADDED or MODIFIED). */
  apply(kind: Kind, obj: Obj): Obj {
    const r = RESOURCES.find((x) => x.kind === kind)!;
    const ns = obj.metadata.namespace ?? 'default';
    const key = `${kind}/${ns}/${obj.metadata.name}`;
    const prev = this.objects.get(key);
    this.rv++;
    const full: Obj = {
      ...obj,
      apiVersion: r.apiVersion,
      kind: r.kind,
      metadata: {
        ...obj.metadata,
        namespace: ns,
        uid: prev?.metadata.uid ?? randomUUID(),
        resourceVersion: String(this.rv),
        creationTimestamp:
          prev?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    };
    this.objects.set(key, full);
    this.emit({ rv: this.rv, kind, type: prev ? 'MODIFIED' : 'ADDED', object: full });
    return full;
  }

  remove(kind: Kind, namespace: string, name: string): void {
    const key = `${kind}/${namespace}/${name}`;
    const prev = this.objects.get(key);
    if (!prev) return;
    this.objects.delete(key);
    this.rv++;
    const obj = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(this.rv) } };
    this.emit({ rv: this.rv, kind, type: 'DELETED', object: obj });
  }

  private emit(ev: HistoryEvent): void {
    this.history.push(ev);
    for (const w of this.watchers)
      if (w.kind === ev.kind) this.write(w, { type: ev.type, object: ev.object });
  }

  private write(w: Watcher, ev: Obj): void {
    if (!w.res.destroyed) w.res.write(`${JSON.stringify(ev)}\n`);
  }

  private status(res: http.ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message,
        reason,
        code,
      }),
    );
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? '/', 'http://x');
    const r = RESOURCES.find((x) => x.path === url.pathname);
    const authz = req.headers.authorization ?? '';
    this.authorizations.push(authz);
    if (this.tls) {
      const peer = (req.socket as TLSSocket).getPeerCertificate?.();
      this.clientNames.push(String(peer?.subject?.CN ?? ''));
    }
    const tokens = this.token === undefined ? undefined : ([] as string[]).concat(this.token);
    if (tokens !== undefined && !tokens.some((t) => authz === `Bearer ${t}`)) {
      this.unauthorized++;
      this.status(res, 401, 'Unauthorized', 'Unauthorized');
      return;
    }
    if (req.method !== 'GET' || r === undefined) {
      this.status(res, 404, 'NotFound', `the server could not find the requested resource`);
      return;
    }
    const q = url.searchParams;
    if (q.get('watch') === '1' || q.get('watch') === 'true') this.watch(r, q, res);
    else this.list(r, q, res);
  }

  private list(r: Res, q: URLSearchParams, res: http.ServerResponse): void {
    const limit = Number(q.get('limit') ?? '0');
    const cont = q.get('continue');
    let items: Obj[];
    let rv: number;
    let offset = 0;
    if (cont) {
      const [snap, off] = Buffer.from(cont, 'base64').toString().split(':');
      const s = this.snapshots.get(snap);
      if (!s) {
        this.status(res, 410, 'Expired', 'The provided continue parameter is too old');
        return;
      }
      items = s;
      rv = Number(snap.split('/')[1]);
      offset = Number(off);
    } else {
      items = [...this.objects.entries()]
        .filter(([k]) => k.startsWith(`${r.kind}/`))
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([, o]) => o);
      rv = this.rv;
    }
    const page = limit > 0 ? items.slice(offset, offset + limit) : items.slice(offset);
    const next = offset + page.length;
    const metadata: Obj = { resourceVersion: String(rv) };
    if (next < items.length) {
      const snap = `${r.kind}/${rv}/${randomUUID()}`;
      this.snapshots.set(snap, items);
      metadata.continue = Buffer.from(`${snap}:${next}`).toString('base64');
      metadata.remainingItemCount = items.length - next;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: r.listKind, apiVersion: r.apiVersion, metadata, items: page }));
  }

  private watch(r: Res, q: URLSearchParams, res: http.ServerResponse): void {
    const from = Number(q.get('resourceVersion') || String(this.rv));
    if (from < this.minRv) {
      const message = `too old resource version: ${from} (${this.minRv})`;
      if (this.goneAsHttp) {
        this.status(res, 410, 'Expired', message);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.write(
        `${JSON.stringify({
          type: 'ERROR',
          object: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message,
            reason: 'Expired',
            code: 410,
          },
        })}\n`,
      );
      if (this.keepOpenAfterError) {
        const w: Watcher = { kind: r.kind, res };
        this.watchers.add(w);
        res.on('close', () => this.watchers.delete(w));
        return;
      }
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const w: Watcher = { kind: r.kind, res };
    for (const ev of this.history)
      if (ev.kind === r.kind && ev.rv > from) this.write(w, { type: ev.type, object: ev.object });
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }
}

// ---- object builders ------------------------------------------------------------------------

export interface SvcInput {
  name: string;
  namespace?: string;
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  externalIPs?: string[];
  externalName?: string;
  ports?: { name?: string; port: number; protocol?: string; targetPort?: number }[];
  lbIngress?: string[];
  annotations?: { [k: string]: string };
}

export function service(s: SvcInput): Obj {
  const type = s.type ?? (s.externalName ? 'ExternalName' : 'ClusterIP');
  const spec: Obj = { type, sessionAffinity: 'None' };
  if (type !== 'ExternalName') {
    spec.clusterIP = s.clusterIP ?? s.clusterIPs?.[0];
    spec.clusterIPs = s.clusterIPs ?? (s.clusterIP ? [s.clusterIP] : undefined);
    spec.ipFamilies = (spec.clusterIPs ?? [])
      .filter((x: string) => x !== 'None')
      .map((x: string) => (x.includes(':') ? 'IPv6' : 'IPv4'));
    spec.ipFamilyPolicy = (spec.clusterIPs ?? []).length > 1 ? 'RequireDualStack' : 'SingleStack';
    spec.internalTrafficPolicy = 'Cluster';
  } else spec.externalName = s.externalName;
  if (s.externalIPs) spec.externalIPs = s.externalIPs;
  spec.ports = (s.ports ?? []).map((p) => ({
    ...(p.name ? { name: p.name } : {}),
    protocol: p.protocol ?? 'TCP',
    port: p.port,
    targetPort: p.targetPort ?? p.port,
  }));
  spec.selector = { app: s.name };
  return {
    metadata: {
      name: s.name,
      namespace: s.namespace ?? 'default',
      labels: { app: s.name },
      ...(s.annotations ? { annotations: s.annotations } : {}),
    },
    spec,
    status: {
      loadBalancer: s.lbIngress ? { ingress: s.lbIngress.map((ip) => ({ ip, ipMode: 'VIP' })) } : {},
    },
  };
}

export interface EndpointInput {
  ip: string;
  hostname?: string;
  ready?: boolean;
  /** `endpoints[].zone` (the node's `topology.kubernetes.io/zone`); absent when not given. */
  zone?: string;
}

export function endpointSlice(
  svc: string,
  endpoints: EndpointInput[],
  opts: {
    namespace?: string;
    name?: string;
    ports?: { name?: string; port: number; protocol?: string }[];
    ipv6?: boolean;
  } = {},
): Obj {
  return {
    metadata: {
      name: opts.name ?? `${svc}-${opts.ipv6 ? 'v6' : 'abcde'}`,
      namespace: opts.namespace ?? 'default',
      generateName: `${svc}-`,
      labels: {
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        'kubernetes.io/service-name': svc,
      },
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          name: svc,
          uid: randomUUID(),
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    addressType: opts.ipv6 ? 'IPv6' : 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: false },
      ...(e.hostname ? { hostname: e.hostname } : {}),
      targetRef: {
        kind: 'Pod',
        namespace: opts.namespace ?? 'default',
        name: `${svc}-pod-${e.ip}`,
        uid: randomUUID(),
      },
      nodeName: 'node-1',
      ...(e.zone !== undefined ? { zone: e.zone } : {}),
    })),
    ports: (opts.ports ?? []).map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      port: p.port,
      protocol: p.protocol ?? 'TCP',
    })),
  };
}
