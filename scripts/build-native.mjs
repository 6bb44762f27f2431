#!/usr/bin/env node
// Builds native/udp_batch.c into build/udp_batch.node (the DNS server's batched UDP socket,
// native/README.md). Run by `npm ci`/`npm install` (the "install" script) and by `npm run build`.
// A plain C compile against Node's own N-API headers: no node-gyp, so nothing is downloaded.
// When it cannot be built (no C compiler, no headers, not Linux) it says so and exits 0: hades
// then uses node:dgram (slower; `hades -udp-batch=false` is the same path). The test
// test/dns/udp-batch.test.ts fails on Linux when the addon is missing, so CI notices.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'native', 'udp_batch.c');
// --out=FILE: build there instead, always (test/dns/udp-batch.test.ts builds with the node running
// the tests, to see the C file compile against each Node's headers)
const outArg = process.argv.find((a) => a.startsWith('--out='))?.slice('--out='.length);
const out = outArg ? resolve(outArg) : join(root, 'build', 'udp_batch.node');

function headers() {
  const candidates = [
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    join(dirname(dirname(process.execPath)), 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((d) => d && existsSync(join(d, 'node_api.h')) && existsSync(join(d, 'uv.h')));
}

function skip(why) {
  console.warn(`hades: native UDP batching not built (${why}); hades will use node:dgram (slower)`);
  process.exit(0);
}

if (process.platform !== 'linux') skip(`platform ${process.platform}`);
if (
  !outArg &&
  existsSync(out) &&
  statSync(out).mtimeMs >= statSync(src).mtimeMs &&
  !process.argv.includes('--force')
)
  process.exit(0);
const inc = headers();
if (inc === undefined) skip("Node's headers (node_api.h, uv.h) not found; set npm_config_nodedir");
const cc = process.env.CC || 'cc';
mkdirSync(dirname(out), { recursive: true });
try {
  execFileSync(
    cc,
    [
      '-O2',
      '-Wall',
      '-Wextra',
      '-Wno-unused-parameter',
      '-fPIC',
      '-shared',
      `-I${inc}`,
      '-DNODE_GYP_MODULE_NAME=udp_batch',
      '-o',
      out,
      src,
    ],
    { stdio: 'inherit' },
  );
} catch (err) {
  skip(`${cc} failed: ${err.message}`);
}
