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

  constructor(
    private readonly maxRecords: number,
    private readonly maxEntries: number,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  /** The oldest serial a diff can start from (undefined: nothing kept). */
  get oldest(): number | undefined {
    return this.entries[0]?.from;
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
    if (drop > 0) this.entries = this.entries.slice(drop);
  }

  /**
   * The entries that take a client at `serial` (a full revision) to the newest content, or
   * undefined when the journal does not reach back that far. An empty list: the client has the
   * newest content already.
   */
  since(serial: number): JournalEntry[] | undefined {
    const es = this.entries;
    if (es.length === 0 || serial >= es[es.length - 1].to) return [];
    for (let i = es.length - 1; i >= 0; i--) {
      if (serial >= es[i].to) return es.slice(i + 1);
      if (serial >= es[i].from) return es.slice(i);
    }
    return undefined;
  }
}
