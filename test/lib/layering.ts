/**
 * The import rules of src/, read from the folders' READMEs, and the imports that break them.
 *
 * A folder's README states its rule in one line:
 *
 *   **May import:** `records`, `store/types.ts`, `catalog` (types only), `common`, `pino`.
 *
 * Each backticked entry is a path under src/ (a folder: anything in it; a file: that file), or an
 * npm package; `(types only)` after an entry allows `import type` of it and nothing else. `node:`
 * built-ins are always allowed, and so is anything inside the README's own folder. A folder
 * without such a line follows the nearest README above it that has one. Test files
 * (`*.test.ts`) are not checked: they may reach into test/ helpers and fixtures.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface Allowed {
  /** A path under src/ ('records', 'store/types.ts') or a package name. */
  target: string;
  typesOnly: boolean;
}

export interface Rule {
  /** The folder under src/ the README sits in ('dns', 'dns/wire'). */
  folder: string;
  allowed: Allowed[];
}

export interface Violation {
  /** The importing file, under src/. */
  file: string;
  /** The import as written. */
  specifier: string;
  /** What it resolves to: a path under src/, or a package name. */
  target: string;
  typeOnly: boolean;
  /** The folder whose rule it breaks. */
  rule: string;
}

const RULE_LINE = /^\*\*May import:\*\*(.*)$/m;
const ENTRY = /`([^`]+)`(\s*\(types only\))?/g;

/** The rule a README states, or undefined when it states none. */
export function parseRule(folder: string, readme: string): Rule | undefined {
  const m = RULE_LINE.exec(readme);
  if (m === null) return undefined;
  const allowed: Allowed[] = [];
  for (const e of m[1].matchAll(ENTRY))
    allowed.push({ target: e[1].replace(/\/$/, ''), typesOnly: e[2] !== undefined });
  return { folder, allowed };
}

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
}

/** Every import in a TypeScript source: its specifier and whether it is type-only. */
export function importsOf(fileName: string, text: string): { specifier: string; typeOnly: boolean }[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const out: { specifier: string; typeOnly: boolean }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      const typeOnly =
        c !== undefined &&
        (c.isTypeOnly ||
          (c.name === undefined &&
            c.namedBindings !== undefined &&
            ts.isNamedImports(c.namedBindings) &&
            c.namedBindings.elements.length > 0 &&
            c.namedBindings.elements.every((e) => e.isTypeOnly)));
      out.push({ specifier: node.moduleSpecifier.text, typeOnly });
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      out.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length === 1 &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      out.push({ specifier: node.arguments[0].text, typeOnly: false });
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      out.push({ specifier: node.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The package name of a bare specifier (`@scope/name/sub` → `@scope/name`). */
function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function covers(entry: string, target: string): boolean {
  return target === entry || target.startsWith(`${entry}/`);
}

/** Checks every non-test .ts file under `srcDir` against the rules of the READMEs there. */
export function checkLayering(srcDir: string): { rules: Rule[]; violations: Violation[]; files: number } {
  const all: string[] = [];
  walk(srcDir, all);
  const rules = new Map<string, Rule>();
  for (const f of all) {
    if (path.basename(f) !== 'README.md') continue;
    const folder = path.relative(srcDir, path.dirname(f)).split(path.sep).join('/');
    const r = parseRule(folder, readFileSync(f, 'utf8'));
    if (r !== undefined) rules.set(folder, r);
  }
  const ruleFor = (file: string): Rule | undefined => {
    let dir = path.posix.dirname(file);
    for (;;) {
      const r = rules.get(dir === '.' ? '' : dir);
      if (r !== undefined) return r;
      if (dir === '.' || dir === '') return undefined;
      dir = path.posix.dirname(dir);
    }
  };
  const violations: Violation[] = [];
  let files = 0;
  for (const abs of all) {
    if (!abs.endsWith('.ts') || abs.endsWith('.test.ts') || abs.endsWith('.d.ts')) continue;
    const file = path.relative(srcDir, abs).split(path.sep).join('/');
    const rule = ruleFor(file);
    if (rule === undefined) continue;
    files++;
    for (const { specifier, typeOnly } of importsOf(abs, readFileSync(abs, 'utf8'))) {
      if (specifier.startsWith('node:')) continue;
      let target: string;
      if (specifier.startsWith('.')) {
        const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
        target = resolved.replace(/\.js$/, '.ts');
        if (rule.folder === '' || covers(rule.folder, target)) continue;
      } else target = packageOf(specifier);
      const ok = rule.allowed.some((a) => covers(a.target, target) && (!a.typesOnly || typeOnly));
      if (!ok) violations.push({ file, specifier, target, typeOnly, rule: rule.folder });
    }
  }
  return { rules: [...rules.values()], violations, files };
}
