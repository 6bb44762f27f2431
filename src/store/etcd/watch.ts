/**
 * One Store watch on etcd: its own gRPC watch stream, re-created after any failure from the
 * revision after the last one delivered, so events are never repeated or skipped.
 *
 * The delivery path is synchronous: one etcd WatchResponse (never split across revisions) becomes
 * at most one `handler.events()` call, with no promise per event.
 */

import type { IDuplexStream, IWatchRequest, IWatchResponse, WatchClient } from 'etcd3';
import type { Logger } from '../../common/logger.js';
import type { Watch, WatchEvent, WatchHandler } from '../types.js';
import { toKeyValue } from './codec.js';

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;

/** Ends a gRPC stream without counting it as a host failure (etcd3 only does that while writable). */
export function quietCancel(stream: {
  end(): void;
  cancel(): void;
  on(ev: 'error', fn: (e: Error) => void): unknown;
}) {
  stream.on('error', () => {});
  try {
    stream.end();
  } catch {
    // already ended
  }
  try {
    stream.cancel();
  } catch {
    // already cancelled
  }
}

export class EtcdWatch implements Watch {
  /** Revision of the last event delivered (fromRevision - 1 before the first). */
  private last: number;
  private closed = false;
  private generation = 0;
  private stream: WatchStream | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private up = false;
  private failures = 0;

  constructor(
    private readonly client: WatchClient,
    private readonly prefix: string,
    private readonly range: { key: Buffer; range_end: Buffer },
    fromRevision: number,
    private readonly handler: WatchHandler,
    private readonly logger: Logger | undefined,
    private readonly onEnd: (w: EtcdWatch) => void,
    /** A TLS handshake failure as one line naming the file at fault (the log says that instead). */
    private readonly explainTls: (err: unknown) => string | undefined = () => undefined,
  ) {
    this.last = fromRevision - 1;
    this.connect();
  }

  private connect(): void {
    this.timer = undefined;
    if (this.closed) return;
    const gen = ++this.generation;
    this.client.watch().then(
      (stream) => {
        if (this.closed || gen !== this.generation) {
          quietCancel(stream);
          return;
        }
        this.stream = stream;
        stream.on('data', (res: IWatchResponse) => this.onResponse(gen, res));
        stream.on('error', (err: Error) => this.onBroken(gen, err));
        stream.on('end', () => this.onBroken(gen, new Error('etcd closed the watch stream')));
        stream.write({
          create_request: {
            key: this.range.key,
            range_end: this.range.range_end,
            start_revision: this.last + 1,
            progress_notify: true,
          },
        });
      },
      (err: Error) => this.onBroken(gen, err),
    );
  }

  private onResponse(gen: number, res: IWatchResponse): void {
    if (gen !== this.generation || this.closed) return;
    if (res.created) {
      this.retryMs = RETRY_MIN_MS;
      if (!this.up) {
        this.up = true;
        if (this.failures > 0) {
          this.logger?.warn({ prefix: this.prefix, fromRevision: this.last + 1 }, 'etcd watch resumed');
        }
        this.failures = 0;
        this.notifyStatus('connected');
      }
    }
    const compactRevision = Number(res.compact_revision);
    if (compactRevision > 0) {
      this.finish();
      try {
        this.handler.compacted(compactRevision);
      } catch (err) {
        this.logger?.warn({ err, prefix: this.prefix }, 'watch handler threw in compacted()');
      }
      return;
    }
    if (res.canceled) {
      this.onBroken(gen, new Error(`etcd cancelled the watch: ${res.cancel_reason || 'no reason given'}`));
      return;
    }
    const evs = res.events;
    if (evs.length === 0) return;
    const after = this.last;
    let out: WatchEvent[] | undefined;
    let maxRev = after;
    for (const ev of evs) {
      const kv = ev.kv;
      const rev = Number(kv.mod_revision);
      if (rev <= after) continue; // already delivered before a reconnect
      if (rev > maxRev) maxRev = rev;
      const e: WatchEvent =
        ev.type === 'Delete'
          ? { type: 'delete', key: kv.key.toString('utf8'), modRevision: rev }
          : { type: 'put', kv: toKeyValue(kv) };
      if (out === undefined) out = [e];
      else out.push(e);
    }
    if (out === undefined) return;
    this.last = maxRev;
    try {
      this.handler.events(out);
    } catch (err) {
      this.logger?.warn({ err, prefix: this.prefix }, 'watch handler threw in events()');
    }
  }

  private onBroken(gen: number, err: Error): void {
    if (gen !== this.generation || this.closed) return;
    this.generation++;
    if (this.stream) quietCancel(this.stream);
    this.stream = undefined;
    this.failures++;
    if (this.up || this.failures === 1) {
      this.up = false;
      this.notifyStatus('disconnected', err);
    }
    if (this.failures === 1 || this.failures % 20 === 0) {
      this.logger?.warn(
        {
          err: this.explainTls(err) ?? err.message,
          prefix: this.prefix,
          fromRevision: this.last + 1,
          failures: this.failures,
        },
        'etcd watch interrupted; resuming',
      );
    }
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private notifyStatus(state: 'connected' | 'disconnected', err?: Error): void {
    try {
      this.handler.status?.(state, err);
    } catch (e) {
      this.logger?.warn({ err: e, prefix: this.prefix }, 'watch handler threw in status()');
    }
  }

  /** Stops for good: no handler call after this returns. */
  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stream) quietCancel(this.stream);
    this.stream = undefined;
    this.onEnd(this);
  }

  close(): Promise<void> {
    this.finish();
    return Promise.resolve();
  }
}
