/**
 * bench/handler: ns per A query through the real DnsHandler (parse, lookup, health, sticky
 * selection, reply) in process, no sockets: the JavaScript part of hades's per-query cost, apart
 * from the kernel's and the socket layer's, at 1,000 and 100,000 names (bench/qps's names and
 * records, from the embedded store). Clients: 256 source addresses in turn (a resolver farm), so
 * sticky's identity cache is exercised as with real traffic, not only its fast path. Prints
 * ns/query; asserts nothing.
 *
 *   npm run build && node dist/bench/handler.js [--names 1000,100000] [--queries 2000000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Catalog } from '../src/catalog/catalog.js';
import { DnsHandler } from '../src/dns/handler.js';
import type { ClientInfo } from '../src/dns/types.js';
import { RRType } from '../src/dns/wire/constants.js';
import { encodeQuery } from '../src/dns/wire/encode.js';
import { ResponseWriter } from '../src/dns/wire/writer.js';
import { openStore } from '../src/store/open.js';
import { loadRecords, PER_NAME, serviceName } from './lib/records.js';

const { values } = parseArgs({
  options: {
    names: { type: 'string', default: '1000,100000' },
    queries: { type: 'string', default: '2000000' },
  },
});
const N = Number(values.queries);

for (const names of values.names.split(',').map(Number)) {
  const dir = await mkdtemp(join(tmpdir(), 'hades-bench-handler-'));
  const store = await openStore({ machines: [], dataDir: dir });
  try {
    await loadRecords(store, names * PER_NAME, 1);
    const catalog = new Catalog({ store });
    await catalog.start();
    const h = new DnsHandler({ catalog, zones: ['hades.local.'], hostname: 'bench', version: 'bench' });
    // 65,536 pre-encoded questions for names drawn at random (as dnsperf's query file)
    const QN = 65536;
    const qs: Buffer[] = [];
    let x = 12345;
    for (let i = 0; i < QN; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      qs.push(encodeQuery({ id: i & 0xffff, name: serviceName(x % names), type: RRType.A, edns: null }));
    }
    const clients: ClientInfo[] = [];
    for (let i = 0; i < 256; i++)
      clients.push({ address: `192.0.2.${i}`, port: 5300, family: 4, transport: 'udp' });
    const w = new ResponseWriter();
    let sink = 0;
    const run = (n: number, clientEvery: number) => {
      for (let i = 0; i < n; i++) {
        const q = qs[i & (QN - 1)];
        sink += h.handle(q, q.length, clients[(i / clientEvery) & 255], w, 512);
      }
    };
    run(500_000, 1);
    for (const [label, every] of [
      ['one client', 1 << 30],
      ['a new client every query', 1],
    ] as const) {
      const t0 = process.hrtime.bigint();
      run(N, every);
      const ns = Number(process.hrtime.bigint() - t0) / N;
      console.log(
        `${String(names).padStart(7)} names, ${label.padEnd(26)} ${ns.toFixed(0).padStart(5)} ns/query`,
      );
    }
    if (sink === 0) console.log('(no answers?)');
    await catalog.stop();
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}
process.exit(0);
