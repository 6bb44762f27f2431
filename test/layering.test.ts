/**
 * The layering the folders' READMEs state holds: every import in src/ is one its folder's
 * `**May import:**` line allows (test/lib/layering.ts). Also the checker itself, on a small tree
 * with known violations.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkLayering, importsOf, parseRule } from './lib/layering.js';

// dist/test/layering.test.js → the repository's src/
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

describe('layering', () => {
  it('every folder of src/ states its rule in its README', () => {
    const { rules } = checkLayering(SRC);
    const folders = readdirSync(SRC).filter((n) => statSync(path.join(SRC, n)).isDirectory());
    const stated = new Set(rules.map((r) => r.folder));
    assert.deepEqual(
      folders.filter((f) => !stated.has(f)),
      [],
      'a src/ folder without a **May import:** line in its README',
    );
  });

  it('every import in src/ is one its folder may make', () => {
    const { violations, files } = checkLayering(SRC);
    assert.ok(files > 100, `checked ${files} files`);
    assert.deepEqual(
      violations.map(
        (v) => `${v.file} imports ${v.specifier}${v.typeOnly ? ' (type)' : ''}: not allowed in ${v.rule}/`,
      ),
      [],
    );
  });

  it('the checker finds what breaks a rule, and only that', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hades-layering-'));
    try {
      const put = (p: string, text: string): void => {
        mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
        writeFileSync(path.join(dir, p), text);
      };
      put('low/README.md', '# low\n\n**May import:** nothing of ours.\n');
      put('low/a.ts', "import { x } from './b.js';\nexport const a = x;\n");
      put('low/b.ts', "import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n");
      put('low/bad.ts', "import { y } from '../high/y.js';\nexport const z = y;\n");
      put('high/README.md', '**May import:** `low`, `mid/types.ts` (types only), `pino`.\n');
      put(
        'high/y.ts',
        "import { a } from '../low/a.js';\nimport type { T } from '../mid/types.js';\nexport const y = a;\n",
      );
      put('high/dyn.ts', "export const m = () => import('../mid/types.js');\n");
      put('high/pkg.ts', "import pino from 'pino';\nimport ts from 'typescript';\nexport { pino, ts };\n");
      put('high/y.test.ts', "import '../../test/anything.js';\n");
      put('high/sub/deep.ts', "export * from '../../mid/other.js';\n");
      put('mid/types.ts', 'export type T = number;\n');
      put('mid/other.ts', 'export const o = 1;\n');
      const { violations } = checkLayering(dir);
      assert.deepEqual(violations.map((v) => `${v.file} → ${v.target}`).sort(), [
        'high/dyn.ts → mid/types.ts', // a value import of a types-only entry
        'high/pkg.ts → typescript', // a package not listed
        'high/sub/deep.ts → mid/other.ts', // a sub-folder follows the rule above it
        'low/bad.ts → high/y.ts', // upwards
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads rules and imports as written', () => {
    assert.deepEqual(
      parseRule('x', 'text\n**May import:** `records`, `store/types.ts`, `catalog` (types only).\n'),
      {
        folder: 'x',
        allowed: [
          { target: 'records', typesOnly: false },
          { target: 'store/types.ts', typesOnly: false },
          { target: 'catalog', typesOnly: true },
        ],
      },
    );
    assert.equal(parseRule('x', 'no rule here'), undefined);
    assert.deepEqual(
      importsOf(
        'f.ts',
        [
          "import { a, type B } from './a.js';",
          "import type { C } from './c.js';",
          "import { type D } from './d.js';",
          "export * from './e.js';",
          "const f = await import('./f.js');",
          "let g: import('./g.js').G;",
        ].join('\n'),
      ),
      [
        { specifier: './a.js', typeOnly: false },
        { specifier: './c.js', typeOnly: true },
        { specifier: './d.js', typeOnly: true },
        { specifier: './e.js', typeOnly: false },
        { specifier: './f.js', typeOnly: false },
        { specifier: './g.js', typeOnly: true },
      ],
    );
  });
});
