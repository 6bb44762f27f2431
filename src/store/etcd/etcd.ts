/**
 * The etcd v3 Store backend, on etcd3@1.1.2's raw gRPC clients.
 *
 * - Several endpoints; a failing endpoint is skipped for a while when another one works.
 * - Reads are retried across endpoints; writes only when the request certainly never left
 *   (connection refused), so a write is never applied twice. Otherwise ESTORE_UNAVAILABLE.
 * - Watches have their own streams (see watch.ts) and resume after the last delivered revision.
 * - Leases use the plain grant / keep-alive-once / revoke RPCs: no hidden background renewals.
 */

import { Etcd3, EtcdLeaseInvalidError, type ICompare, type IRequestOp } from 'etcd3';
import type { Logger } from '../../common/logger.js';
import {
  type Compare,
  type KeyValue,
  type LeaseId,
  type ListPagesOptions,
  type ListResult,
  type Op,
  type PageHandler,
  type QuorumStatus,
  type Store,
  StoreError,
  type Txn,
  type TxnResult,
  type Watch,
  type WatchHandler,
} from '../types.js';
import {
  checkKey,
  checkLease,
  checkPageSize,
  checkPrefix,
  checkRevision,
  keyAfter,
  prefixRange,
  toKeyValue,
} from './codec.js';
import { HostHealth, neverSent, passThroughPolicy, toStoreError } from './errors.js';
import {
  describeTlsFailure,
  type EtcdTlsCredentials,
  type EtcdTlsFiles,
  loadEtcdTls,
  SEED_TLS_NAMES,
  tlsFailureIsFinal,
  tlsName,
} from './tls.js';
import { EtcdWatch, quietCancel } from './watch.js';

export type { EtcdTlsFiles } from './tls.js';

export interface EtcdStoreOptions {
  /** 'http://host:port', 'https://host:port', or 'host:port' (https when `tls` is given). */
  endpoints: string[];
  /** TLS files; used for https endpoints. */
  tls?: EtcdTlsFiles;
  /** How long openEtcdStore waits for a first answer from any endpoint (default 5000 ms). */
  dialTimeoutMs?: number;
  /** Deadline of each request (default 10000 ms). */
  requestTimeoutMs?: number;
  /**
   * A write not answered within this long (default 1000 ms) makes the store ask every endpoint
   * for its status, and again each such interval: when no reachable member sees a leader (no
   * quorum), the write fails at once with ESTORE_UNAVAILABLE, `noQuorum` set, instead of waiting
   * out `requestTimeoutMs`.
   */
  quorumCheckMs?: number;
  logger?: Logger;
}

/**
 * TLS files from the seed's environment variables: ETCD_CACERT (CA), ETCD_TLSKEY (client key),
 * ETCD_TLSPEM (client certificate). Undefined when none is set.
 */
export function tlsFromEnv(env: NodeJS.ProcessEnv = process.env): EtcdTlsFiles | undefined {
  const tls: EtcdTlsFiles = {};
  if (env.ETCD_CACERT) tls.ca = env.ETCD_CACERT;
  if (env.ETCD_TLSKEY) tls.key = env.ETCD_TLSKEY;
  if (env.ETCD_TLSPEM) tls.cert = env.ETCD_TLSPEM;
  return Object.keys(tls).length > 0 ? { ...tls, names: { ...SEED_TLS_NAMES } } : undefined;
}

/**
 * Keys per request when the caller leaves it to us: at least MIN_PAGE, and at least 1/PAGES of
 * the listing once the first answer says how many keys there are. etcd (3.4) walks the whole
 * rest of the range for every request (to count it), so a fixed page size makes a listing
 * quadratic: 1M keys in 5000-key pages took 50 s; in 16 pages it is linear.
 */
const MIN_PAGE = 5000;
/** A write shares the status call of another write started at most this long before it. */
const STATUS_REUSE_MS = 500;
const PAGES = 16;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function normalizeEndpoints(endpoints: string[], tls: boolean): string[] {
  if (!Array.isArray(endpoints) || endpoints.length === 0) {
    throw new StoreError('ESTORE_INVALID', 'etcd: no endpoints given');
  }
  const out = endpoints.map((raw) => {
    const e = String(raw).trim().replace(/\/+$/, '');
    if (e === '') throw new StoreError('ESTORE_INVALID', 'etcd: empty endpoint');
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(e) ? e : `${tls ? 'https' : 'http'}://${e}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw new StoreError('ESTORE_INVALID', `etcd: bad endpoint ${JSON.stringify(raw)}`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname.length > 1 || !url.port) {
      throw new StoreError(
        'ESTORE_INVALID',
        `etcd: bad endpoint ${JSON.stringify(raw)}: want http(s)://host:port`,
      );
    }
    return `${url.protocol}//${url.host}`;
  });
  const secure = out.filter((e) => e.startsWith('https:')).length;
  if (secure !== 0 && secure !== out.length) {
    throw new StoreError('ESTORE_INVALID', `etcd: endpoints mix http and https: ${out.join(', ')}`);
  }
  return out;
}

export class EtcdStore implements Store {
  readonly kind = 'etcd' as const;
  private closed = false;
  private readonly watches = new Set<EtcdWatch>();
  private readonly maxAttempts: number;
  /** One client per endpoint for status calls (the pool's picks are random); made on first use. */
  private statusClients: Etcd3[] | undefined;
  private lastStatus: { at: number; p: Promise<QuorumStatus & { term: number }> } | undefined;

  /** Use openEtcdStore(). */
  constructor(
    private readonly client: Etcd3,
    readonly endpoints: string[],
    private readonly logger: Logger | undefined,
    private readonly requestTimeoutMs: number,
    private readonly quorumCheckMs: number = 1000,
    private readonly newClient: (endpoint: string) => Etcd3 = () => client,
    /** A TLS handshake failure as one line naming the file at fault; undefined for other errors. */
    private readonly explainTls: (err: unknown) => string | undefined = () => undefined,
  ) {
    this.maxAttempts = Math.max(3, endpoints.length * 2 + 1);
  }

  /**
   * Asks every endpoint for its status (1 s deadline each; a member answers without quorum).
   * ok when some member that answers sees a leader.
   */
  async quorum(): Promise<QuorumStatus> {
    const { ok, detail } = await this.status();
    return { ok, detail };
  }

  /** quorum() and the highest raft term seen (0 when nobody answers). */
  private async status(): Promise<QuorumStatus & { term: number }> {
    if (this.closed) return { ok: false, detail: 'the etcd store is closed', term: 0 };
    this.statusClients ??= this.endpoints.map((e) => this.newClient(e));
    const answers = await Promise.all(
      this.statusClients.map((c) =>
        c.maintenance.status({ deadline: Date.now() + 1000 }).then(
          (s) => s,
          () => undefined,
        ),
      ),
    );
    const up = answers.filter((a) => a !== undefined);
    const n = this.endpoints.length;
    const term = Math.max(0, ...up.map((a) => Number(a.raftTerm ?? 0)));
    const seen = up.map((a) => String(a.leader ?? '0')).find((l) => l !== '0' && l !== '');
    if (up.length === 0) return { ok: false, detail: `none of ${n} members answers`, term };
    if (seen === undefined)
      return { ok: false, detail: `${up.length} of ${n} members answer, none sees a leader`, term };
    const leader = BigInt(seen).toString(16);
    return { ok: true, detail: `${up.length} of ${n} members answer, leader ${leader}`, term };
  }

  /** The status as of a write's start: a call at most STATUS_REUSE_MS old is shared. */
  private recentStatus(): Promise<QuorumStatus & { term: number }> {
    const now = Date.now();
    if (this.lastStatus === undefined || now - this.lastStatus.at > STATUS_REUSE_MS) {
      const p = this.status();
      this.lastStatus = { at: now, p };
    }
    return this.lastStatus.p;
  }

  /**
   * A write: `rpc` raced against a check of the cluster every quorumCheckMs while unanswered.
   * - No reachable member sees a leader (no quorum): fail now (ESTORE_UNAVAILABLE, `noQuorum`)
   *   rather than after requestTimeoutMs.
   * - A new leader was elected since the write started (the raft term grew): a proposal
   *   forwarded to the dead leader is lost and etcd would only say so after its own request
   *   timeout (5 s + 2 election timeouts); fail now, outcome unknown, and let the caller retry
   *   against the new leader.
   * A failed write is also explained by the check (no quorum).
   */
  private async write<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.guarded(what, true, fn);
  }

  /**
   * `rpc` under the watchdog `write` describes; for a read (`mutating` false) only the quorum
   * rule applies (a linearizable read needs a leader too, and would wait out requestTimeoutMs).
   */
  private async guarded<T>(what: string, mutating: boolean, fn: () => Promise<T>): Promise<T> {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const noQuorum = (q: QuorumStatus, cause?: unknown): StoreError =>
      new StoreError(
        'ESTORE_UNAVAILABLE',
        `${what}: etcd has no quorum: ${q.detail}; the write was not confirmed`,
        {
          cause,
          noQuorum: q.detail,
        },
      );
    const before = mutating ? this.recentStatus() : Promise.resolve({ ok: true, detail: '', term: 0 });
    before.catch(() => {});
    const watchdog = new Promise<never>((_, reject) => {
      const check = async (): Promise<void> => {
        if (settled) return;
        const [b, q] = await Promise.all([before, this.status()]);
        if (settled) return;
        if (!q.ok && q.term > 0) {
          reject(noQuorum(q));
          return;
        }
        if (q.ok && b.term > 0 && q.term > b.term) {
          reject(
            new StoreError(
              'ESTORE_UNAVAILABLE',
              `${what}: etcd elected a new leader (raft term ${b.term} → ${q.term}) while the write was pending; its outcome is unknown`,
            ),
          );
          return;
        }
        timer = setTimeout(check, this.quorumCheckMs);
      };
      timer = setTimeout(check, this.quorumCheckMs);
    });
    watchdog.catch(() => {});
    const attempt = this.retrying(what, mutating, fn);
    attempt.catch(() => {});
    try {
      return await Promise.race([attempt, watchdog]);
    } catch (err) {
      if (
        err instanceof StoreError &&
        err.code === 'ESTORE_UNAVAILABLE' &&
        err.noQuorum === undefined &&
        !this.closed
      ) {
        const q = await this.status();
        if (!q.ok && q.term > 0) throw noQuorum(q, err);
      }
      throw err;
    } finally {
      settled = true;
      clearTimeout(timer);
    }
  }

  private closedError(what: string): StoreError {
    return new StoreError('ESTORE_CLOSED', `${what}: the etcd store is closed`);
  }

  /**
   * Runs one RPC (`retrying`) under the quorum watchdog (`guarded`).
   */
  private rpc<T>(what: string, mutating: boolean, fn: () => Promise<T>): Promise<T> {
    return this.guarded(what, mutating, fn);
  }

  /**
   * Runs one RPC, retrying across endpoints while etcd is unreachable. `mutating` calls are only
   * retried when the request certainly never reached etcd.
   */
  private async retrying<T>(what: string, mutating: boolean, fn: () => Promise<T>): Promise<T> {
    let delay = 20;
    const giveUpAt = Date.now() + this.requestTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw this.closedError(what);
      try {
        return await fn();
      } catch (err) {
        if (this.closed) throw this.closedError(what);
        const tls = this.explainTls(err);
        const se = tls
          ? new StoreError('ESTORE_UNAVAILABLE', `${what}: ${tls}`, { cause: err })
          : toStoreError(err, what);
        const retry =
          se.code === 'ESTORE_UNAVAILABLE' &&
          attempt < this.maxAttempts &&
          Date.now() + delay < giveUpAt &&
          (!mutating || neverSent(err));
        if (!retry) throw se;
        await sleep(delay);
        delay = Math.min(delay * 2, 250);
      }
    }
  }

  async get(key: string): Promise<KeyValue | undefined> {
    if (this.closed) throw this.closedError('get');
    const k = checkKey(key, 'get');
    const res = await this.rpc('get', false, () => this.client.kv.range({ key: k }));
    return res.kvs.length > 0 ? toKeyValue(res.kvs[0]) : undefined;
  }

  async list(prefix: string): Promise<ListResult> {
    if (this.closed) throw this.closedError('list');
    const range = prefixRange(checkPrefix(prefix, 'list'));
    // Paged at one pinned revision; if that revision is compacted away mid-way, start over.
    for (let attempt = 1; ; attempt++) {
      const kvs: KeyValue[] = [];
      try {
        const revision = await this.pages('list', range, undefined, (page) => {
          for (const kv of page) kvs.push(kv);
        });
        return { revision, kvs };
      } catch (err) {
        if (!(err instanceof StoreError) || err.code !== 'ESTORE_COMPACTED' || attempt >= 5) throw err;
      }
    }
  }

  async listPages(prefix: string, onPage: PageHandler, opts?: ListPagesOptions): Promise<number> {
    if (this.closed) throw this.closedError('listPages');
    const range = prefixRange(checkPrefix(prefix, 'listPages'));
    if (typeof onPage !== 'function')
      throw new StoreError('ESTORE_INVALID', 'listPages: onPage must be a function');
    const pageSize = opts?.pageSize === undefined ? undefined : checkPageSize(opts.pageSize, 'listPages');
    return this.pages('listPages', range, pageSize, onPage);
  }

  /**
   * Reads a range page by page at one pinned revision (the first page's), handing each page to
   * `onPage` as soon as it is decoded; the next request goes out while `onPage` runs. Returns the
   * revision. ESTORE_COMPACTED when the pinned revision is compacted away before the last page.
   * `requested` undefined: MIN_PAGE, then 1/PAGES of the listing (see MIN_PAGE).
   */
  private async pages(
    what: string,
    range: { key: Buffer; range_end: Buffer },
    requested: number | undefined,
    onPage: PageHandler,
  ): Promise<number> {
    let page = await this.page(what, range.key, range.range_end, requested ?? MIN_PAGE, 0);
    const revision = page.revision;
    const pageSize = requested ?? Math.max(MIN_PAGE, Math.ceil(page.count / PAGES));
    for (;;) {
      // Ask for the next page before handing this one over: etcd's latency overlaps the caller's work.
      const next =
        page.next === undefined ? undefined : this.page(what, page.next, range.range_end, pageSize, revision);
      // Nobody awaits `next` if onPage throws: keep its rejection from being unhandled.
      next?.catch(() => {});
      if (page.kvs.length > 0) await onPage(page.kvs, revision);
      if (next === undefined) return revision;
      page = await next;
    }
  }

  /**
   * One page: decoded KeyValues, the response's revision, how many keys the rest of the range
   * holds (this page's included), and where the next page starts.
   */
  private async page(
    what: string,
    key: Buffer,
    rangeEnd: Buffer,
    limit: number,
    revision: number,
  ): Promise<{ kvs: KeyValue[]; revision: number; count: number; next: Buffer | undefined }> {
    if (this.closed) throw this.closedError(what);
    const res = await this.rpc(what, false, () =>
      this.client.kv.range({ key, range_end: rangeEnd, limit, ...(revision > 0 ? { revision } : {}) }),
    );
    const raw = res.kvs;
    const kvs = new Array<KeyValue>(raw.length);
    for (let i = 0; i < raw.length; i++) kvs[i] = toKeyValue(raw[i]);
    const next = res.more && raw.length > 0 ? keyAfter(raw[raw.length - 1].key) : undefined;
    return {
      kvs,
      revision: revision > 0 ? revision : Number(res.header.revision),
      count: Number(res.count),
      next,
    };
  }

  async put(key: string, value: string, opts?: { lease?: LeaseId }): Promise<number> {
    if (this.closed) throw this.closedError('put');
    const req = {
      key: checkKey(key, 'put'),
      value: Buffer.from(String(value), 'utf8'),
      ...(opts?.lease !== undefined ? { lease: checkLease(opts.lease, 'put') } : {}),
    };
    const res = await this.write('put', () => this.client.kv.put(req));
    return Number(res.header.revision);
  }

  async delete(key: string): Promise<number> {
    if (this.closed) throw this.closedError('delete');
    const k = checkKey(key, 'delete');
    const res = await this.write('delete', () => this.client.kv.deleteRange({ key: k }));
    return Number(res.deleted);
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (this.closed) throw this.closedError('deletePrefix');
    const range = prefixRange(checkPrefix(prefix, 'deletePrefix'));
    const res = await this.write('deletePrefix', () => this.client.kv.deleteRange(range));
    return Number(res.deleted);
  }

  async txn(txn: Txn): Promise<TxnResult> {
    if (this.closed) throw this.closedError('txn');
    if (!txn || !Array.isArray(txn.compare) || !Array.isArray(txn.success)) {
      throw new StoreError('ESTORE_INVALID', 'txn: compare and success must be arrays');
    }
    const compare = txn.compare.map(toCompare);
    const success = txn.success.map(toRequestOp);
    const failure = (txn.failure ?? []).map(toRequestOp);
    const writes = success.length + failure.length > 0;
    const call = () => this.client.kv.txn({ compare, success, failure });
    const res = await (writes ? this.write('txn', call) : this.rpc('txn', false, call));
    return { succeeded: res.succeeded, revision: Number(res.header.revision) };
  }

  watch(prefix: string, fromRevision: number, handler: WatchHandler): Watch {
    if (this.closed) throw this.closedError('watch');
    const range = prefixRange(checkPrefix(prefix, 'watch'));
    checkRevision(fromRevision, 'watch');
    const w = new EtcdWatch(
      this.client.watchClient,
      prefix,
      range,
      fromRevision,
      handler,
      this.logger,
      (x) => this.watches.delete(x),
      this.explainTls,
    );
    this.watches.add(w);
    return w;
  }

  async grantLease(ttlSeconds: number): Promise<LeaseId> {
    if (this.closed) throw this.closedError('grantLease');
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new StoreError(
        'ESTORE_INVALID',
        `grantLease: TTL ${ttlSeconds} is not a whole number of seconds >= 1`,
      );
    }
    // Retrying a grant at worst leaves an unused lease behind, which expires by itself.
    const res = await this.rpc('grantLease', false, () =>
      this.client.leaseClient.leaseGrant({ TTL: ttlSeconds }),
    );
    if (res.error) throw new StoreError('ESTORE_UNAVAILABLE', `grantLease: ${res.error}`);
    return res.ID;
  }

  async keepAliveLease(id: LeaseId): Promise<number> {
    if (this.closed) throw this.closedError('keepAliveLease');
    const lease = checkLease(id, 'keepAliveLease');
    return this.rpc('keepAliveLease', false, async () => {
      const stream = await this.client.leaseClient.leaseKeepAlive();
      return new Promise<number>((resolve, reject) => {
        let done = false;
        const finish = (f: () => void): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          quietCancel(stream);
          f();
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error('keep-alive timed out (deadline exceeded)'))),
          this.requestTimeoutMs,
        );
        stream.on('data', (res) => {
          if (res.ID === lease) finish(() => resolve(Math.max(0, Number(res.TTL))));
        });
        stream.on('error', (err) => finish(() => reject(err)));
        stream.on('end', () => finish(() => reject(new Error('keep-alive stream ended without an answer'))));
        stream.write({ ID: lease });
      });
    });
  }

  async revokeLease(id: LeaseId): Promise<void> {
    if (this.closed) throw this.closedError('revokeLease');
    const lease = checkLease(id, 'revokeLease');
    try {
      await this.rpc('revokeLease', false, () => this.client.leaseClient.leaseRevoke({ ID: lease }));
    } catch (err) {
      if (err instanceof StoreError && err.cause instanceof EtcdLeaseInvalidError) return;
      throw err;
    }
  }

  async compact(revision: number): Promise<void> {
    if (this.closed) throw this.closedError('compact');
    checkRevision(revision, 'compact');
    try {
      await this.rpc('compact', false, () => this.client.kv.compact({ revision }));
    } catch (err) {
      // Already compacted at or past `revision`: nothing left to do.
      if (err instanceof StoreError && err.code === 'ESTORE_COMPACTED') return;
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.watches]) await w.close();
    this.client.close();
    for (const c of this.statusClients ?? []) if (c !== this.client) c.close();
  }
}

function toCompare(c: Compare): ICompare {
  const key = checkKey(c?.key, 'txn compare');
  switch (c.op) {
    case 'exists':
      return { key, target: 'Create', result: 'Greater', create_revision: 0 };
    case 'absent':
      return { key, target: 'Create', result: 'Equal', create_revision: 0 };
    case 'value':
      return { key, target: 'Value', result: 'Equal', value: Buffer.from(String(c.value), 'utf8') };
    case 'modRevision':
      if (!Number.isSafeInteger(c.modRevision) || c.modRevision < 0) {
        throw new StoreError('ESTORE_INVALID', `txn compare: bad modRevision ${c.modRevision}`);
      }
      return { key, target: 'Mod', result: 'Equal', mod_revision: c.modRevision };
    default:
      throw new StoreError(
        'ESTORE_INVALID',
        `txn compare: unknown op ${JSON.stringify((c as { op: unknown }).op)}`,
      );
  }
}

function toRequestOp(op: Op): IRequestOp {
  switch (op?.op) {
    case 'put':
      return {
        request_put: {
          key: checkKey(op.key, 'txn put'),
          value: Buffer.from(String(op.value), 'utf8'),
          ...(op.lease !== undefined ? { lease: checkLease(op.lease, 'txn put') } : {}),
        },
      };
    case 'delete':
      return { request_delete_range: { key: checkKey(op.key, 'txn delete') } };
    case 'deletePrefix':
      return { request_delete_range: prefixRange(checkPrefix(op.prefix, 'txn deletePrefix')) };
    default:
      throw new StoreError(
        'ESTORE_INVALID',
        `txn: unknown op ${JSON.stringify((op as { op: unknown })?.op)}`,
      );
  }
}

/**
 * Opens a Store on etcd. Rejects with ESTORE_UNAVAILABLE if no endpoint answers within
 * `dialTimeoutMs` (a wrong address or TLS setup fails here, loudly); after that the store
 * reconnects by itself.
 */
export async function openEtcdStore(opts: EtcdStoreOptions): Promise<EtcdStore> {
  const tlsFiles = opts.tls && (opts.tls.ca || opts.tls.key || opts.tls.cert) ? opts.tls : undefined;
  const endpoints = normalizeEndpoints(opts.endpoints, tlsFiles !== undefined);
  const secure = endpoints[0].startsWith('https:');
  if ((tlsFiles?.key === undefined) !== (tlsFiles?.cert === undefined)) {
    const has = tlsFiles?.key === undefined ? 'cert' : 'key';
    throw new StoreError(
      'ESTORE_INVALID',
      `etcd TLS: ${tlsName(opts.tls, has)} ${tlsFiles?.[has]} needs ${tlsName(opts.tls, has === 'key' ? 'cert' : 'key')} too (client key and certificate go together)`,
    );
  }
  let creds: EtcdTlsCredentials | undefined;
  let credentials: { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer } | undefined;
  if (tlsFiles && secure) {
    // Read and checked on every open: a renewed file is picked up by the next attempt.
    creds = await loadEtcdTls(tlsFiles);
    credentials = {
      // grpc-js uses the system roots when no CA is given.
      rootCertificate: creds.rootCertificate as Buffer,
      privateKey: creds.privateKey,
      certChain: creds.certChain,
    };
  } else if (tlsFiles) {
    opts.logger?.warn({ endpoints }, 'etcd TLS files given but every endpoint is http://; TLS files ignored');
  }
  const explainTls = secure
    ? (err: unknown) => describeTlsFailure(err, endpoints, opts.tls, creds)
    : () => undefined;

  const dialTimeoutMs = opts.dialTimeoutMs ?? 5000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
  const health = new HostHealth(endpoints);
  const statusClient = (endpoint: string): Etcd3 =>
    new Etcd3({
      hosts: [endpoint],
      ...(credentials ? { credentials } : {}),
      dialTimeout: 1000,
      faultHandling: { host: () => passThroughPolicy, global: passThroughPolicy },
      grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000 },
    });
  const client = new Etcd3({
    hosts: endpoints,
    ...(credentials ? { credentials } : {}),
    dialTimeout: dialTimeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + requestTimeoutMs }),
    faultHandling: { host: (h) => health.policyFor(h), global: passThroughPolicy },
    grpcOptions: {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
    },
  });
  // once running, a cut handshake is the network far more often than a plain etcd: gRPC's words
  const store = new EtcdStore(
    client,
    endpoints,
    opts.logger,
    requestTimeoutMs,
    opts.quorumCheckMs ?? 1000,
    statusClient,
    (err) => (tlsFailureIsFinal(err) ? explainTls(err) : undefined),
  );

  // First contact: any endpoint answering a cheap read within dialTimeoutMs.
  const deadline = Date.now() + dialTimeoutMs;
  let lastErr: unknown;
  // the last attempt may end on its deadline: keep what a cut handshake said before
  let lastTls: string | undefined;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    const left = deadline - Date.now();
    try {
      await client.kv.range(
        { key: Buffer.from([0]), count_only: true },
        { deadline: Date.now() + Math.max(left, 1) },
      );
      return store;
    } catch (err) {
      lastErr = err;
      // A refused handshake does not get better by waiting: say so now (the caller retries).
      const tls = explainTls(err);
      lastTls = tls ?? lastTls;
      if (tls && tlsFailureIsFinal(err)) {
        client.close();
        throw new StoreError('ESTORE_UNAVAILABLE', tls, { cause: err });
      }
    }
    if (Date.now() + delay >= deadline) break;
    await sleep(delay);
  }
  client.close();
  const reason = lastErr instanceof Error ? lastErr.message : String(lastErr);
  throw new StoreError(
    'ESTORE_UNAVAILABLE',
    lastTls ?? `etcd: no endpoint of ${endpoints.join(', ')} answered within ${dialTimeoutMs} ms: ${reason}`,
    { cause: lastErr },
  );
}
