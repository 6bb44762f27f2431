#!/usr/bin/env node
// Runs node's test runner over every compiled test file (dist/**/*.test.js), first on the node
// running this script (the machine's, Node 20), then on Node 24 LTS from the cache
// (scripts/node24.mjs installs it there the first time, from the npm registry). Both passes run
// even when the first fails; the exit status is 0 only when both passed.
//   --node=current   only the node running this script (`npm run test:here`)
//   --node=24        only Node 24 (`npm run test:node24`)
// When the node running this is itself 24.x, one pass is all there is.
// Node 20's `node --test` takes no glob patterns, so the files are listed here.
// Other arguments narrow the run to files whose path contains one of them: `npm test -- store catalog`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { ensureNode24, NODE24 } from './node24.mjs';

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...find(path));
    else if (entry.name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const which = args.find((a) => a.startsWith('--node='))?.slice('--node='.length) ?? 'both';
if (!['both', 'current', '24'].includes(which)) {
  console.error(`run-tests: --node=${which}: expected current, 24 or nothing (both)`);
  process.exit(2);
}
const filters = args.filter((a) => !a.startsWith('--node='));
const files = ['dist/src', 'dist/test']
  .flatMap((d) => {
    try {
      return find(d);
    } catch {
      return [];
    }
  })
  // a test whose source was moved or deleted still has its old output in dist/ (tsc never removes
  // outputs): run only what the sources have
  .filter((f) => existsSync(f.replace(/^dist[\\/]/, '').replace(/\.js$/, '.ts')))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/ (did the build run?)');
  process.exit(1);
}

/**
 * One pass of the suite on `node`. Another node than the one running this leads PATH (the bins'
 * `env node` shebangs) and replaces npm's own pointers to node; this node's pass keeps the
 * environment as it is.
 */
function pass(node) {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.error(`run-tests: ${files.length} test files on Node ${version} (${node})`);
  const env = { ...process.env };
  if (node !== process.execPath) {
    env.PATH = [dirname(node), process.env.PATH].filter(Boolean).join(delimiter);
    for (const k of ['NODE', 'npm_node_execpath']) if (env[k] !== undefined) env[k] = node;
  }
  // A test that hangs fails after 5 minutes instead of holding CI to its limit.
  const result = spawnSync(node, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...files], {
    stdio: 'inherit',
    env,
  });
  return { name: `Node ${version}`, ok: result.status === 0, why: `exit ${result.status ?? result.signal}` };
}

const results = [];
const currentIs24 = process.versions.node.split('.')[0] === NODE24.version.split('.')[0];
if (which !== '24' || currentIs24) results.push(pass(process.execPath));
if (which !== 'current' && !currentIs24) {
  let node24;
  try {
    node24 = ensureNode24();
  } catch (err) {
    console.error(`run-tests: Node 24: ${err.message.split('\n')[0]}`);
    results.push({ name: `Node v${NODE24.version}`, ok: false, why: 'not installed' });
  }
  if (node24) results.push(pass(node24));
}
if (results.length > 1)
  console.error(
    `run-tests: ${results.map((r) => `${r.name} ${r.ok ? 'passed' : `FAILED (${r.why})`}`).join(', ')}`,
  );
process.exit(results.every((r) => r.ok) ? 0 : 1);
