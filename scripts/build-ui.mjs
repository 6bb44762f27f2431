#!/usr/bin/env node
// Builds the web UI (src/api/ui, served at /ui) into dist/src/api/ui, next to the server module
// that reads it (src/api/ui/files.ts): app.ts and topology.ts compiled with the DOM lib
// (src/api/ui/tsconfig.json, kept apart so the server code gets no DOM types), and the page,
// stylesheet and icon copied.
// Run by `npm run build` after the server's tsc.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src', 'api', 'ui');
const out = join(root, 'dist', 'src', 'api', 'ui');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

execFileSync(process.execPath, [tsc, '-p', join(src, 'tsconfig.json')], { stdio: 'inherit' });
mkdirSync(out, { recursive: true });
for (const f of readdirSync(src)) if (/\.(html|css|svg)$/.test(f)) copyFileSync(join(src, f), join(out, f));
