/**
 * Snapshots (hades `-snapshot <file>`): the catalog's records, health states and zones in a local
 * file, so a hades started while the store is unreachable answers from the last state it saw
 * (marked stale) instead of nothing. Written atomically (a temporary file in the same directory,
 * fsync, rename, fsync of the directory: a reader sees the old file or the new one, never half
 * of one), at most every `intervalMs`, only after a change.
 *
 * Format (JSON, one object): `{"format":"hades-snapshot/1","prefix":"/hades","revision":N,
 * "written":"<ISO 8601>","records":[[key,value,modRevision],…],"health":[[ip,"UP"|"DOWN",
 * drained],…],"topology":[[zone,[cidr,…]],…]}`. Values are re-serialised from the parsed
 * records (`serializeRecordValue`): what hades answers from, not the store's bytes.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type Logger, NOOP_LOGGER } from '../common/logger.js';
import { serializeRecordValue, toRecord } from '../records/record.js';
import { type TopologyValue, topologyFromObject } from '../records/topology.js';
import type { HealthState } from '../records/types.js';
import type { Catalog } from './catalog.js';
import { HealthOverlay } from './health-overlay.js';
import { RecordIndex } from './record-index.js';

export const SNAPSHOT_FORMAT = 'hades-snapshot/1';

/** A snapshot read back: fresh structures, ready for Catalog.installSnapshot. */
export interface Snapshot {
  readonly revision: number;
  /** When it was written (ms since the epoch). */
  readonly written: number;
  readonly index: RecordIndex;
  readonly overlay: HealthOverlay;
  readonly zones: Map<string, TopologyValue>;
}

/** A snapshot file that cannot be used: its message says why (one line). */
export class SnapshotError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SnapshotError';
  }
}

/** The snapshot text of what `catalog` serves now. */
export function snapshotText(catalog: Catalog): string {
  const records: [string, string, number][] = [];
  catalog.index.forEach((r) => {
    records.push([r.key, serializeRecordValue(r), r.modRevision]);
  });
  const health: [string, HealthState, boolean][] = [];
  catalog.overlay.forEach((state, ip, drained) => {
    health.push([ip, state, drained]);
  });
  const topology: [string, string[]][] = [];
  for (const [zone, v] of catalog.topologyZones) topology.push([zone, v.cidrs.map((c) => c.text)]);
  return JSON.stringify({
    format: SNAPSHOT_FORMAT,
    prefix: catalog.prefix,
    revision: catalog.revision,
    written: new Date().toISOString(),
    records,
    health,
    topology,
  });
}

/** Writes `text` to `file` atomically (temporary file, fsync, rename, fsync of the directory). */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  // the rename itself is durable once the directory is
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } catch {
    // some filesystems refuse fsync on a directory: the rename is still atomic
  } finally {
    await d.close();
  }
}

/**
 * Reads a snapshot written for record prefix `prefix` into fresh structures. Throws
 * SnapshotError (missing, unreadable, not a snapshot, another prefix). Entries that do not parse
 * are skipped (a snapshot holds only what the catalog held, so there are none unless edited).
 */
export async function readSnapshot(file: string, prefix: string): Promise<Snapshot> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SnapshotError(
      code === 'ENOENT' ? `${file}: no such file` : `${file}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  let doc: {
    format?: unknown;
    prefix?: unknown;
    revision?: unknown;
    written?: unknown;
    records?: unknown;
    health?: unknown;
    topology?: unknown;
  };
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new SnapshotError(`${file}: not JSON (${(err as Error).message})`);
  }
  if (doc === null || typeof doc !== 'object' || doc.format !== SNAPSHOT_FORMAT)
    throw new SnapshotError(`${file}: not a hades snapshot (format ${SNAPSHOT_FORMAT})`);
  if (doc.prefix !== prefix)
    throw new SnapshotError(`${file}: written for prefix ${String(doc.prefix)}, not ${prefix}`);
  const revision = Number(doc.revision);
  const written = Date.parse(String(doc.written));
  if (!Number.isSafeInteger(revision) || revision < 0 || Number.isNaN(written))
    throw new SnapshotError(`${file}: bad revision or written time`);
  if (!Array.isArray(doc.records) || !Array.isArray(doc.health) || !Array.isArray(doc.topology))
    throw new SnapshotError(`${file}: records, health or topology missing`);
  const index = new RecordIndex(prefix);
  for (const e of doc.records) {
    if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'string') continue;
    try {
      index.set(toRecord({ key: e[0], value: e[1], modRevision: Number(e[2]) || 0 }, prefix));
    } catch {
      // not a record of this prefix: skipped
    }
  }
  const overlay = new HealthOverlay();
  for (const e of doc.health)
    if (Array.isArray(e) && typeof e[0] === 'string' && (e[1] === 'UP' || e[1] === 'DOWN'))
      overlay.set(e[0], e[1], e[2] === true);
  const zones = new Map<string, TopologyValue>();
  for (const e of doc.topology) {
    if (!Array.isArray(e) || typeof e[0] !== 'string') continue;
    try {
      zones.set(e[0], topologyFromObject({ cidrs: e[1] }));
    } catch {
      // skipped, as the catalog skips a bad zone
    }
  }
  return { revision, written, index, overlay, zones };
}

export interface SnapshotWriterOptions {
  catalog: Catalog;
  file: string;
  /** At most one write per this many ms (default 5000). */
  intervalMs?: number;
  logger?: Logger;
}

/**
 * Keeps `file` the snapshot of `catalog`: after a change (or the first list), at most once per
 * interval, never while the catalog still serves a snapshot (nothing new to write). A failed
 * write is logged once per cause and retried at the next tick.
 */
export class SnapshotWriter {
  private readonly catalog: Catalog;
  private readonly file: string;
  private readonly log: Logger;
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private dirty = true;
  private writing: Promise<void> | undefined;
  private lastError = '';
  /** Snapshots written. */
  writes = 0;

  constructor(o: SnapshotWriterOptions) {
    this.catalog = o.catalog;
    this.file = o.file;
    this.log = o.logger ?? NOOP_LOGGER;
    this.unsubscribe = this.catalog.onChange(() => {
      this.dirty = true;
    });
    this.timer = setInterval(() => void this.flush(), o.intervalMs ?? 5000);
    this.timer.unref();
  }

  /** Writes now if there is something new (and waits for a write in progress). */
  async flush(): Promise<void> {
    if (this.writing) return this.writing;
    if (!this.dirty || !this.catalog.ready || this.catalog.stale) return;
    this.dirty = false;
    this.writing = (async () => {
      try {
        await writeFileAtomic(this.file, snapshotText(this.catalog));
        this.writes++;
        if (this.lastError !== '') this.log.info({ file: this.file }, 'snapshot written again');
        this.lastError = '';
      } catch (err) {
        this.dirty = true;
        const msg = (err as Error).message;
        if (msg !== this.lastError) this.log.warn({ file: this.file, err: msg }, 'snapshot write failed');
        this.lastError = msg;
      } finally {
        this.writing = undefined;
      }
    })();
    return this.writing;
  }

  /** Stops the timer after a last write of what changed. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe();
    await this.flush();
  }
}
