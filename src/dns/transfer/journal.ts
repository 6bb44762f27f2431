/**
 * The recent changes of one zone, for IXFR (RFC 1995): each entry takes the zone from the serial
 * `from` to the serial `to` (store revisions, before mod 2^32) by deleting and adding records,
 * given as flat `[name, key, name, key, …]` arrays (render.ts keys). Between two entries nothing
 * in the zone changed, so a client at any serial from an entry's `from` up to its `to` (excluded)
 * holds that entry's starting content. Bounded: the oldest entries go first once the entries
 * hold more than `maxRecords` records or `maxEntries` entries.
 */
export interface JournalEntry {
  readonly from: number;
  readonly to: number;
  readonly deleted: readonly string[];
  readonly added: readonly string[];
}

export class Journal {
  private entries: JournalEntry[] = [];
  private records = 0;
  /** The oldest serial whose content the journal can be replayed from. */
  private base = Number.POSITIVE_INFINITY;

  constructor(
    private readonly maxRecords: number,
    private readonly maxEntries: number,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  /** The oldest serial a diff can start from (undefined: none yet). */
  get oldest(): number | undefined {
    return Number.isFinite(this.base) ? this.base : undefined;
  }

  /** The zone's content is known from `serial` on (the views' build): a diff may start there. */
  start(serial: number): void {
    this.entries = [];
    this.records = 0;
    this.base = serial;
  }

  add(e: JournalEntry): void {
    this.entries.push(e);
    this.records += (e.deleted.length + e.added.length) / 2;
    let drop = 0;
    while (
      drop < this.entries.length - 1 &&
      (this.records > this.maxRecords || this.entries.length - drop > this.maxEntries)
    ) {
      const d = this.entries[drop++];
      this.records -= (d.deleted.length + d.added.length) / 2;
    }
    if (drop > 0) {
      this.base = this.entries[drop - 1].to;
      this.entries = this.entries.slice(drop);
    }
    if (!Number.isFinite(this.base)) this.base = e.from;
  }

  /**
   * The entries that take a client at `serial` (a full revision) to the newest content, or
   * undefined when the journal does not reach back that far. An empty list: the client has the
   * newest content already.
   */
  since(serial: number): JournalEntry[] | undefined {
    if (serial < this.base) return undefined;
    const es = this.entries;
    for (let i = es.length - 1; i >= 0; i--) {
      if (serial >= es[i].to) return es.slice(i + 1);
      if (serial >= es[i].from) return es.slice(i);
    }
    // from the base up to the first entry nothing changed
    return es.slice();
  }
}
