/**
 * The web UI served at `/ui` (issue 8): one HTML page, two ES modules (app.ts and the topology
 * panel it imports, topology.ts), one stylesheet and an icon, no framework and no CDN. `npm run build` (scripts/build-ui.mjs) puts them in dist next
 * to this module; the API server reads them once, when its handler is made.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface UiFile {
  body: string;
  type: string;
}

/** The built file each served path answers with, and its content type. */
const SERVED: [paths: string[], file: string, type: string][] = [
  [['/ui', '/ui/', '/ui/index.html'], 'index.html', 'text/html; charset=utf-8'],
  [['/ui/app.js'], 'app.js', 'text/javascript; charset=utf-8'],
  [['/ui/topology.js'], 'topology.js', 'text/javascript; charset=utf-8'],
  [['/ui/app.css'], 'app.css', 'text/css; charset=utf-8'],
  [['/ui/favicon.svg'], 'favicon.svg', 'image/svg+xml'],
];

/** Served path → file. Throws when a file is missing (the UI was not built: `npm run build`). */
export function loadUiFiles(): Map<string, UiFile> {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const out = new Map<string, UiFile>();
  for (const [paths, file, type] of SERVED) {
    let body: string;
    try {
      body = readFileSync(path.join(dir, file), 'utf8');
    } catch (e) {
      throw new Error(`the web UI's ${file} is not in ${dir} (run npm run build): ${(e as Error).message}`);
    }
    for (const p of paths) out.set(p, { body, type });
  }
  return out;
}
