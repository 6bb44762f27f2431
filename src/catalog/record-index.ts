/**
 * The in-memory record index: a tree of nodes keyed by label from the root down, in key order
 * (`/hades/local/hades/user/cctv1/4af19cb2` → local → hades → user → cctv1 → 4af19cb2).
 * A node holds the records whose key is exactly the node's key; nodes with neither records nor
 * children are pruned, so a node exists exactly when some record lies at or below it.
 *
 * Pure data structure: no I/O, no timers. Query semantics follow CoreDNS's etcd plugin
 * (plugin/etcd/etcd.go `Records`/`loopNodes`, plugin/etcd/msg/path.go `PathWithWildcard`,
 * plugin/etcd/msg/service.go `Group`); see README.md for the details and the deviations.
 */
import { normalizePrefix } from '../records/keys.js';
import { asciiLower } from '../records/names.js';
import type { Record } from '../records/types.js';

/**
 * Generation stamps come from one process-wide sequence, so a stamp is never reused: not when a
 * node is pruned and created again, and not across indexes (a catalog swaps in a new index after
 * a relist). A cached answer is fresh exactly while `generation(name)` returns the same number.
 */
let sequence = 0;

/**
 * One label of the tree: a name with something below it. Kept small; the bulk of a catalog are
 * leaves (a name's records with nothing below them), which get no node of their own: see `leaves`.
 */
export class IndexNode {
  /** Stamp of the last change at or below this node (see `RecordIndex.generation`). */
  gen = 0;
  /** Children by label; undefined while there are none. */
  kids: Map<string, IndexNode> | undefined = undefined;
  /**
   * The records whose key maps to exactly this node: usually one (a key is unique in the store);
   * several only when distinct keys normalise to the same labels (`/a/B` and `/a/b`, `/a/b/`).
   */
  recs: Record | Record[] | undefined = undefined;
  /**
   * Leaf children without a node (and without a Map entry and a label string) of their own:
   * `[record, stamp, record, stamp, …]`, at most LEAF_SLOTS slots, exactly as long as it holds.
   * A leaf's label is the last label of its record's key; a label is either here (its records,
   * each with the label's stamp) or in `kids`, never both. A leaf that gets children of its own
   * becomes a node in `kids`; children beyond LEAF_SLOTS get nodes too.
   */
  leaves: (Record | number)[] | undefined = undefined;
}

/**
 * Leaf records a node keeps inline (two slots each). Lookups of a leaf scan them, so this stays
 * small; names with more records than this, or with more leaf children, spill into `kids`.
 */
const LEAF_RECORDS = 8;
const LEAF_SLOTS = 2 * LEAF_RECORDS;

/** End of a key's last label: its length without trailing slashes. */
function keyLabelEnd(key: string): number {
  let end = key.length;
  while (end > 0 && key.charCodeAt(end - 1) === 47) end--; // '/'
  return end;
}

/**
 * Whether the last label of `key` (ASCII case-insensitively) equals `name[start, end)`, a label
 * in lower case. A key's last label is what `RecordIndex.keyLabels` would give last.
 */
function lastLabelIs(key: string, name: string, start: number, end: number): boolean {
  const kEnd = keyLabelEnd(key);
  const kStart = key.lastIndexOf('/', kEnd - 1) + 1;
  const len = end - start;
  if (kEnd - kStart !== len) return false;
  for (let i = 0; i < len; i++) {
    let c = key.charCodeAt(kStart + i);
    if (c >= 65 && c <= 90) c += 32; // ASCII A-Z → a-z
    if (c !== name.charCodeAt(start + i)) return false;
  }
  return true;
}

/** Index in `leaves` of the first record whose last label is `label`, or -1. */
function findLeaf(leaves: (Record | number)[], label: string): number {
  for (let i = 0; i < leaves.length; i += 2) {
    if (lastLabelIs((leaves[i] as Record).key, label, 0, label.length)) return i;
  }
  return -1;
}

/**
 * `leaves` with `[record, stamp]` appended, or with the entry at `at` left out (`record`
 * undefined), in a new array of exactly the length it needs: array growth (push, spread) would
 * leave spare capacity in every one of them. Undefined when nothing is left.
 */
function leavesWith(
  leaves: (Record | number)[] | undefined,
  record: Record | undefined,
  stamp: number,
  at = -1,
): (Record | number)[] | undefined {
  const n = leaves === undefined ? 0 : leaves.length;
  const len = record === undefined ? n - 2 : n + 2;
  if (len === 0) return undefined;
  const out = new Array<Record | number>(len);
  let w = 0;
  for (let i = 0; i < n; i += 2) {
    if (i === at) continue;
    out[w++] = leaves![i];
    out[w++] = leaves![i + 1];
  }
  if (record !== undefined) {
    out[w++] = record;
    out[w] = stamp;
  }
  return out;
}

/** Gives every leaf entry with `label` the stamp `stamp`. */
function stampLeaves(leaves: (Record | number)[], label: string, stamp: number): void {
  for (let i = 0; i < leaves.length; i += 2) {
    if (lastLabelIs((leaves[i] as Record).key, label, 0, label.length)) leaves[i + 1] = stamp;
  }
}

const DOT = 46; // '.'

/** True when name[start, end) is a query wildcard label: `*` or `any` (CoreDNS PathWithWildcard). */
function isWildcard(name: string, start: number, end: number): boolean {
  const len = end - start;
  if (len === 1) return name.charCodeAt(start) === 42; // '*'
  if (len === 3) return name.startsWith('any', start);
  return false;
}

/** End of the labels of a name: its length without the trailing dot. */
function nameEnd(n: string): number {
  return n.length > 0 && n.charCodeAt(n.length - 1) === DOT ? n.length - 1 : n.length;
}

/** Reused stacks for set/remove: no allocation per change beyond the key's labels. */
const pathNodes: IndexNode[] = [];

export class RecordIndex {
  /** The record prefix, normalised without a trailing slash (`/hades`; `/` stays `/`). */
  readonly prefix: string;
  private readonly keyStart: string;
  private readonly root = new IndexNode();
  private count = 0;

  // Per-lookup state, kept on the instance so the walk allocates nothing (lookups are synchronous).
  private out: Record[] = [];
  private depth = 0;
  private minDepth = 0;
  private group: string | undefined = undefined;
  private groupConflict = false;
  private readonly visitSubtree = (child: IndexNode): void => {
    this.depth++;
    this.pushSubtree(child);
    this.depth--;
  };

  constructor(prefix = '/hades') {
    const p = normalizePrefix(prefix);
    this.prefix = p;
    this.keyStart = p === '/' ? '/' : `${p}/`;
    this.root.gen = ++sequence;
  }

  /** Number of records held. */
  get size(): number {
    return this.count;
  }

  /**
   * The root's generation: changes on every change anywhere in this index (every set and remove
   * stamps the root), and differs between indexes. Equal means no lookup answer has changed.
   */
  get rootGeneration(): number {
    return this.root.gen;
  }

  /** True when `key` is the prefix or lies under it (only such keys can be set). */
  covers(key: string): boolean {
    return key === this.prefix || key.startsWith(this.keyStart);
  }

  /**
   * Labels of a key, root first, ASCII lower case, empty labels dropped (as `keyToName` does;
   * the prefix itself is the root). Undefined when the key is not under the prefix.
   */
  keyLabels(key: string): string[] | undefined {
    if (key === this.prefix) return [];
    if (!key.startsWith(this.keyStart)) return undefined;
    const parts = key.slice(this.keyStart.length).split('/');
    let n = 0;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (p !== '') parts[n++] = asciiLower(p);
    }
    parts.length = n;
    return parts;
  }

  /** Adds or replaces the record with `record.key`. Returns true when the key was new. */
  set(record: Record): boolean {
    const labels = this.keyLabels(record.key);
    if (labels === undefined) {
      throw new RangeError(`key "${record.key}" is not under the index prefix "${this.prefix}"`);
    }
    const stamp = ++sequence;
    let node = this.root;
    node.gen = stamp;
    const last = labels.length - 1;
    for (let i = 0; i < last; i++) node = this.child(node, labels[i], stamp);
    if (last >= 0) {
      const label = labels[last];
      const kid = node.kids?.get(label);
      if (kid !== undefined) {
        kid.gen = stamp;
        node = kid;
      } else {
        const leaves = node.leaves;
        if (leaves !== undefined && findLeaf(leaves, label) >= 0)
          return this.setLeaf(node, label, record, stamp);
        if (leaves === undefined || leaves.length < LEAF_SLOTS) {
          node.leaves = leavesWith(leaves, record, stamp);
          this.count++;
          return true;
        }
        node = this.child(node, label, stamp); // no room for another leaf: a node of its own
      }
    }
    const cur = node.recs;
    if (cur === undefined) {
      node.recs = record;
    } else if (Array.isArray(cur)) {
      for (let i = 0; i < cur.length; i++) {
        if (cur[i].key === record.key) {
          cur[i] = record;
          return false;
        }
      }
      cur.push(record);
    } else if (cur.key === record.key) {
      node.recs = record;
      return false;
    } else {
      node.recs = [cur, record];
    }
    this.count++;
    return true;
  }

  /**
   * The child node `label` of `node`, stamped: the existing one, one made from the leaf records
   * with that label (they are getting children), or a new one.
   */
  private child(node: IndexNode, label: string, stamp: number): IndexNode {
    let kids = node.kids;
    let child = kids?.get(label);
    if (child === undefined) {
      child = new IndexNode();
      // Leaf records with this label are getting children: they move into the new node.
      let at = node.leaves === undefined ? -1 : findLeaf(node.leaves, label);
      while (at >= 0) {
        const r = node.leaves![at] as Record;
        const cur = child.recs;
        child.recs = cur === undefined ? r : Array.isArray(cur) ? [...cur, r] : [cur, r];
        node.leaves = leavesWith(node.leaves, undefined, 0, at);
        at = node.leaves === undefined ? -1 : findLeaf(node.leaves, label);
      }
      if (kids === undefined) {
        kids = new Map();
        node.kids = kids;
      }
      kids.set(label, child);
    }
    child.gen = stamp;
    return child;
  }

  /** Sets `record` among `node`'s leaves with `label` (some exist); returns true when new. */
  private setLeaf(node: IndexNode, label: string, record: Record, stamp: number): boolean {
    const leaves = node.leaves!;
    stampLeaves(leaves, label, stamp);
    for (let i = 0; i < leaves.length; i += 2) {
      if ((leaves[i] as Record).key === record.key) {
        leaves[i] = record;
        return false;
      }
    }
    // Several keys with one label (case variants): they stay together, room or not.
    node.leaves = leavesWith(leaves, record, stamp);
    this.count++;
    return true;
  }

  /** Removes the record stored at `key`, pruning nodes left empty. Returns true when it was there. */
  remove(key: string): boolean {
    const labels = this.keyLabels(key);
    if (labels === undefined) return false;
    pathNodes.length = 0;
    let node = this.root;
    pathNodes.push(node);
    const last = labels.length - 1;
    for (let i = 0; i < last; i++) {
      const child = node.kids?.get(labels[i]);
      if (child === undefined) return false;
      node = child;
      pathNodes.push(node);
    }
    // pathNodes[i] is the node of labels[0, i); the parent of the removed key's node or leaf is `node`.
    let removed = false;
    let prunedFrom = pathNodes.length; // nodes from here down may have become empty
    const label = last >= 0 ? labels[last] : '';
    const kid = last >= 0 ? node.kids?.get(label) : this.root;
    if (kid !== undefined) {
      const cur = kid.recs;
      if (Array.isArray(cur)) {
        const at = cur.findIndex((r) => r.key === key);
        if (at >= 0) {
          cur.splice(at, 1);
          kid.recs = cur.length === 1 ? cur[0] : cur;
          removed = true;
        }
      } else if (cur !== undefined && cur.key === key) {
        kid.recs = undefined;
        removed = true;
      }
      if (removed && kid !== this.root) {
        pathNodes.push(kid);
        prunedFrom = pathNodes.length;
      }
    } else if (node.leaves !== undefined) {
      const leaves = node.leaves;
      for (let i = 0; i < leaves.length; i += 2) {
        if ((leaves[i] as Record).key === key) {
          node.leaves = leavesWith(leaves, undefined, 0, i);
          removed = true;
          break;
        }
      }
    }
    if (!removed) {
      pathNodes.length = 0;
      return false;
    }
    this.count--;
    const stamp = ++sequence;
    for (let i = 0; i < pathNodes.length; i++) pathNodes[i].gen = stamp;
    if (kid === undefined && node.leaves !== undefined) stampLeaves(node.leaves, label, stamp);
    // Prune from the deepest node up: a node with no records and no children is gone.
    for (let i = prunedFrom - 1; i > 0; i--) {
      const n = pathNodes[i];
      if (n.recs !== undefined || n.kids !== undefined || n.leaves !== undefined) break;
      const parent = pathNodes[i - 1];
      const kids = parent.kids!;
      kids.delete(labels[i - 1]);
      if (kids.size === 0) parent.kids = undefined;
    }
    pathNodes.length = 0;
    return true;
  }

  /** The record stored at exactly `key`, if any. */
  get(key: string): Record | undefined {
    const labels = this.keyLabels(key);
    if (labels === undefined) return undefined;
    let node: IndexNode | undefined = this.root;
    const last = labels.length - 1;
    for (let i = 0; i < last && node !== undefined; i++) node = node.kids?.get(labels[i]);
    if (node === undefined) return undefined;
    if (last >= 0) {
      const kid: IndexNode | undefined = node.kids?.get(labels[last]);
      if (kid === undefined) {
        const leaves = node.leaves;
        if (leaves !== undefined) {
          for (let i = 0; i < leaves.length; i += 2)
            if ((leaves[i] as Record).key === key) return leaves[i] as Record;
        }
        return undefined;
      }
      node = kid;
    }
    const cur = node.recs;
    if (cur === undefined) return undefined;
    if (Array.isArray(cur)) return cur.find((r) => r.key === key);
    return cur.key === key ? cur : undefined;
  }

  /** Calls `fn` for every record (depth first, unspecified order among siblings). */
  forEach(fn: (record: Record) => void): void {
    const walk = (node: IndexNode): void => {
      const cur = node.recs;
      if (cur !== undefined) {
        if (Array.isArray(cur)) for (const r of cur) fn(r);
        else fn(cur);
      }
      node.kids?.forEach(walk);
      const leaves = node.leaves;
      if (leaves !== undefined) for (let i = 0; i < leaves.length; i += 2) fn(leaves[i] as Record);
    };
    walk(this.root);
  }

  /**
   * The records for a query name (presentation form, any case, with or without the trailing dot):
   * every record at and below the name's node; a `*` or `any` label in the name matches any one
   * label at that position; then the group rule (see README). Clears `out`, fills it, returns the
   * count. Order is depth first; callers that need an order sort. Allocates nothing but the
   * label substrings of the walk (and an iterator per wildcard position).
   */
  lookup(name: string, out: Record[]): number {
    return this.run(name, out, false);
  }

  /**
   * Like `lookup` but only the records stored at exactly the name's node (no subtree, no group
   * rule): CoreDNS's `exact` lookups (SRV/MX target completion).
   */
  lookupExact(name: string, out: Record[]): number {
    return this.run(name, out, true);
  }

  /**
   * Whether the name exists: its node exists, i.e. some record lies at or below it (an empty
   * non-terminal exists). With wildcard labels: whether any node matches. Decides NXDOMAIN
   * (false) versus NODATA (true, but no record of the asked type).
   */
  has(name: string): boolean {
    const n = asciiLower(name);
    return this.hasFrom(this.root, n, nameEnd(n));
  }

  /**
   * The generation of a name: the stamp of the deepest existing node on the name's path, stopping
   * before the first wildcard label. It changes whenever a record at or below that node changes
   * (so whenever the answer to `lookup(name)`, `lookupExact(name)` or `has(name)` may have
   * changed), and never on changes outside that node's subtree. Stamps are unique process-wide
   * and only grow, so an equal number means "nothing changed".
   */
  generation(name: string): number {
    const n = asciiLower(name);
    let end = nameEnd(n);
    let node = this.root;
    while (end > 0) {
      const start = n.lastIndexOf('.', end - 1) + 1;
      if (isWildcard(n, start, end)) break;
      const label = n.slice(start, end);
      const child = node.kids?.get(label);
      if (child === undefined) {
        // A leaf (no node of its own, nothing below it): the stamp of its records.
        const leaves = node.leaves;
        const at = leaves === undefined ? -1 : findLeaf(leaves, label);
        return at < 0 ? node.gen : (leaves![at + 1] as number);
      }
      node = child;
      end = start - 1;
    }
    return node.gen;
  }

  /**
   * The node of a concrete name (no wildcards), for callers that keep node refs; undefined when
   * the name does not exist or is a leaf (a name with records and nothing below it, which has no
   * node of its own: its generation is still `generation(name)`).
   */
  node(name: string): IndexNode | undefined {
    const n = asciiLower(name);
    let end = nameEnd(n);
    let node: IndexNode | undefined = this.root;
    while (end > 0 && node !== undefined) {
      const start = n.lastIndexOf('.', end - 1) + 1;
      node = node.kids?.get(n.slice(start, end));
      end = start - 1;
    }
    return node;
  }

  // -------------------------------------------------------------------------------------------

  private run(name: string, out: Record[], exact: boolean): number {
    out.length = 0;
    const n = asciiLower(name);
    this.out = out;
    this.depth = 0;
    this.minDepth = Number.MAX_SAFE_INTEGER;
    this.group = undefined;
    this.groupConflict = false;
    this.match(this.root, n, nameEnd(n), exact);
    this.out = EMPTY;
    if (!exact && this.group !== undefined && !this.groupConflict) {
      // CoreDNS msg.Group: the shortest keys agree on a group: keep that group and the ungrouped.
      const g = this.group;
      let w = 0;
      for (let r = 0; r < out.length; r++) {
        const rec = out[r];
        if (rec.group === undefined || rec.group === '' || rec.group === g) out[w++] = rec;
      }
      out.length = w;
    }
    return out.length;
  }

  /**
   * Walks name[0, end) right to left from `node`; at the end collects the node (or its subtree).
   * Leaves have nothing below them, so they only ever match the name's first (leftmost) label.
   */
  private match(node: IndexNode, name: string, end: number, exact: boolean): void {
    while (end > 0) {
      const start = name.lastIndexOf('.', end - 1) + 1;
      const kids = node.kids;
      const leaves = start === 0 ? node.leaves : undefined;
      if (isWildcard(name, start, end)) {
        const depth = this.depth;
        if (kids !== undefined) {
          for (const child of kids.values()) {
            this.depth = depth + 1;
            this.match(child, name, start - 1, exact);
          }
        }
        this.depth = depth + 1;
        if (leaves !== undefined) for (let i = 0; i < leaves.length; i += 2) this.take(leaves[i] as Record);
        this.depth = depth;
        return;
      }
      const child = kids?.get(name.slice(start, end));
      if (child === undefined) {
        if (leaves !== undefined) {
          this.depth++;
          for (let i = 0; i < leaves.length; i += 2) {
            const r = leaves[i] as Record;
            if (lastLabelIs(r.key, name, start, end)) this.take(r);
          }
          this.depth--;
        }
        return;
      }
      node = child;
      this.depth++;
      end = start - 1;
    }
    if (exact) this.pushOwn(node);
    else this.pushSubtree(node);
  }

  private hasFrom(node: IndexNode, name: string, end: number): boolean {
    while (end > 0) {
      const start = name.lastIndexOf('.', end - 1) + 1;
      const kids = node.kids;
      const leaves = start === 0 ? node.leaves : undefined;
      if (isWildcard(name, start, end)) {
        if (leaves !== undefined) return true;
        if (kids !== undefined)
          for (const child of kids.values()) if (this.hasFrom(child, name, start - 1)) return true;
        return false;
      }
      const child = kids?.get(name.slice(start, end));
      if (child === undefined) {
        if (leaves !== undefined) {
          for (let i = 0; i < leaves.length; i += 2) {
            if (lastLabelIs((leaves[i] as Record).key, name, start, end)) return true;
          }
        }
        return false;
      }
      node = child;
      end = start - 1;
    }
    return true;
  }

  private pushSubtree(node: IndexNode): void {
    this.pushOwn(node);
    node.kids?.forEach(this.visitSubtree);
    const leaves = node.leaves;
    if (leaves !== undefined) {
      this.depth++;
      for (let i = 0; i < leaves.length; i += 2) this.take(leaves[i] as Record);
      this.depth--;
    }
  }

  private pushOwn(node: IndexNode): void {
    const cur = node.recs;
    if (cur === undefined) return;
    if (Array.isArray(cur)) for (let i = 0; i < cur.length; i++) this.take(cur[i]);
    else this.take(cur);
  }

  private take(rec: Record): void {
    this.out.push(rec);
    const d = this.depth;
    if (d > this.minDepth) return;
    if (d < this.minDepth) {
      this.minDepth = d;
      this.group = undefined;
      this.groupConflict = false;
    }
    const g = rec.group;
    if (g === undefined || g === '') return;
    if (this.group === undefined) this.group = g;
    else if (this.group !== g) this.groupConflict = true;
  }
}

const EMPTY: Record[] = [];

/** Takes a fresh stamp from the process-wide sequence (the health overlay uses it too). */
export function nextStamp(): number {
  return ++sequence;
}
