/**
 * Test helper: a second process on the same embedded data dir (spawned by embedded.test.ts).
 *
 *   node embedded-child.js writer <dir> <count> <prefix>   puts <prefix>1..<count>, one write each
 *   node embedded-child.js cas <dir> <count> <key>         <count> compare-and-swap increments of <key>
 *   node embedded-child.js lease <dir> <ttl> <key>         grants a lease, puts <key> on it, keeps it
 *                                                           alive until killed
 *   node embedded-child.js bulk <dir> <size> <prefix>      writes txns of <size> puts
 *                                                           (<prefix><i>/<j>) until killed
 *
 * Prints `ready ...` when it has started working and `done ...` when finished, one line each.
 */

import { openEmbeddedStore } from './embedded.js';

const [mode, dir, arg, name] = process.argv.slice(2);
if (!mode || !dir || !arg || !name) {
  process.stderr.write('usage: embedded-child.js writer|cas|lease <dir> <n> <key>\n');
  process.exit(2);
}
const n = Number(arg);
const store = await openEmbeddedStore({ dir });

if (mode === 'writer') {
  process.stdout.write('ready\n');
  let rev = 0;
  for (let i = 1; i <= n; i++) {
    rev = await store.put(name + i, String(i));
    // Let the event loop turn now and then, so writes interleave with the reader's.
    if (i % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  process.stdout.write(`done ${rev}\n`);
  await store.close();
} else if (mode === 'cas') {
  process.stdout.write('ready\n');
  let retries = 0;
  for (let i = 0; i < n; i++) {
    for (;;) {
      const cur = await store.get(name);
      const next = String(Number(cur?.value ?? '0') + 1);
      const r = await store.txn({
        compare: [{ key: name, op: 'modRevision', modRevision: cur?.modRevision ?? 0 }],
        success: [{ op: 'put', key: name, value: next }],
      });
      if (r.succeeded) break;
      retries++;
    }
    if (i % 5 === 0) await new Promise((r) => setImmediate(r));
  }
  process.stdout.write(`done ${retries}\n`);
  await store.close();
} else if (mode === 'lease') {
  const lease = await store.grantLease(n);
  const rev = await store.put(name, 'alive', { lease });
  setInterval(() => {
    store.keepAliveLease(lease).catch(() => {});
  }, 200);
  process.stdout.write(`ready ${lease} ${rev}\n`);
} else if (mode === 'bulk') {
  const value = 'v'.repeat(1000);
  for (let i = 1; ; i++) {
    const success = Array.from({ length: n }, (_, j) => ({
      op: 'put' as const,
      key: `${name}${i}/${j}`,
      value,
    }));
    await store.txn({ compare: [], success });
    if (i === 1) process.stdout.write('ready\n');
  }
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
