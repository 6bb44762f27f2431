/**
 * What keeps the `hades` process small (figures in bench/README.md, memory): the node flags it is started with, and one compacting GC after the
 * catalog's first list.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * The node flags `hades` runs with, wherever it is started: the bin's shebang
 * (src/bin/hades.ts), the Dockerfile's ENTRYPOINT, deploy/systemd/hades.service, `npm start`
 * (test/deploy checks each of them against this list), and the tests and benchmarks that spawn
 * hades (test/dns/hades-proc.ts).
 *
 * --max-semi-space-size=2: V8's young generation grows to 2 × 16 MB while the first list's
 * objects survive scavenges, and a quiet DNS server never gives V8's memory reducer a reason to
 * shrink it back; 2 MB semi-spaces keep it at 4 MB. The young generation is sized when the heap
 * is set up, so this cannot be set at run time (v8.setFlagsFromString has no effect). The hot
 * path allocates nothing per query, so smaller semi-spaces cost no throughput.
 */
export const HADES_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];

/**
 * One full, compacting GC, run once between the catalog's first full list and listening.
 *
 * The list leaves its garbage in the old generation (etcd's response messages, every value's JSON
 * string, gRPC's receive buffers, which only a full GC releases), and a DNS server at rest
 * allocates next to nothing, so no full GC would come for a long time: RSS at ready would carry
 * all of it. A plain full GC frees the objects but leaves the old generation's pages half empty
 * (the list's garbage and the catalog's records are interleaved on them); compacting every page
 * (V8's --compact-on-every-full-gc, on for this one GC) returns those pages too. About 20 MB at
 * 100k records beyond a plain GC, for about 0.1 s of start-up (bench/README.md, memory).
 *
 * Without --expose-gc on the command line, `gc` comes from a new context created while that flag
 * is briefly on. Returns the milliseconds it took, or undefined when this node offers no `gc`
 * (then nothing is collected: hades still works, with a larger RSS).
 */
export function collectStartupGarbage(): number | undefined {
  const t0 = performance.now();
  let gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== 'function') {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      return undefined;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
    if (typeof gc !== 'function') return undefined;
  }
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
  return performance.now() - t0;
}
