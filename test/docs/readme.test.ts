/**
 * The front door: README.md stays short (≤ 200 lines: the tables live in docs/), and every relative
 * link in README.md, docs/*.md and bench/README.md leads somewhere: the file exists and, with a
 * `#anchor` into a Markdown file, that file has a heading with that slug (GitHub's rules). The
 * README's flag names all exist in docs/reference.md, and the pages it promises are linked.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// dist/test/docs/ → the repository root.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (rel: string) => readFileSync(path.join(ROOT, rel), 'utf8');

/** The Markdown outside fenced code blocks (``` or ~~~), line by line; fenced lines become ''. */
export function proseLines(md: string): string[] {
  let fence: string | undefined;
  return md.split('\n').map((line) => {
    const m = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence !== undefined) {
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && line.trim() === m[1]) fence = undefined;
      return '';
    }
    if (m) {
      fence = m[1];
      return '';
    }
    return line;
  });
}

/** GitHub's heading slug (github-slugger): lower case, punctuation dropped, spaces → '-'. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/`/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor a Markdown file's headings make, with GitHub's -1, -2 … for repeats. */
export function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of proseLines(md)) {
    const m = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The targets of inline links and images outside code: `[text](target)`, `![alt](target "title")`. */
export function linkTargets(md: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(md)) {
    const noCode = line.replace(/`[^`]*`/g, '');
    for (const m of noCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]);
  }
  return targets;
}

/** What is wrong with one page's relative links, as `target: why` lines. */
function brokenLinks(rel: string, md = read(rel)): string[] {
  const problems: string[] = [];
  for (const target of linkTargets(md)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const hash = target.indexOf('#');
    const file = hash === -1 ? target : target.slice(0, hash);
    const anchor = hash === -1 ? '' : decodeURIComponent(target.slice(hash + 1));
    const abs = file === '' ? path.join(ROOT, rel) : path.resolve(path.dirname(path.join(ROOT, rel)), file);
    if (!abs.startsWith(ROOT)) {
      problems.push(`${target}: outside the repository`);
      continue;
    }
    if (!existsSync(abs)) {
      problems.push(`${target}: no such file`);
      continue;
    }
    if (anchor === '') continue;
    if (!abs.endsWith('.md') || statSync(abs).isDirectory()) {
      problems.push(`${target}: an anchor into a file that is not Markdown`);
      continue;
    }
    if (!anchors(readFileSync(abs, 'utf8')).has(anchor)) problems.push(`${target}: no heading #${anchor}`);
  }
  return problems;
}

const pages = [
  'README.md',
  'bench/README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

describe('README.md', () => {
  const readme = read('README.md');

  it('has at most 200 lines', () => {
    const lines = readme.endsWith('\n') ? readme.slice(0, -1).split('\n') : readme.split('\n');
    assert.ok(lines.length <= 200, `README.md has ${lines.length} lines; move detail into docs/`);
  });

  it('has no Status section (what is done is in docs/ROADMAP.md)', () => {
    assert.ok(!anchors(readme).has('status'));
  });

  it('links the pages that hold what it promises', () => {
    const targets = new Set(linkTargets(readme));
    for (const t of [
      'docs/reference.md',
      'docs/metrics.md',
      'docs/api.md',
      'docs/ui.md',
      'docs/comparison.md',
      'docs/comparison.md#hades-101',
      'docs/dns.md#answer-selection',
      'docs/data-model.md#records-by-example',
      'bench/README.md',
    ])
      assert.ok(targets.has(t), `README.md links ${t}`);
  });

  it('names only flags that docs/reference.md documents', () => {
    const reference = read('docs/reference.md');
    const flags = new Set<string>();
    for (const line of readme.split('\n')) {
      // a flag in code: `-select`, or after a program name in a command line
      for (const m of line.matchAll(/(?:^|[\s`(])(-[a-z][\w.-]*[a-z0-9])(?=[\s`=),.;:]|$)/g)) flags.add(m[1]);
    }
    // options of other programs in the tour (dig, curl, nslookup) and npm's
    const foreign = new Set(['-port', '-flag']);
    const named = [...flags].filter((f) => !foreign.has(f));
    assert.ok(named.length >= 5, `too few flags found in README.md: ${named.join(' ')}`);
    const missing = named.filter((f) => !reference.includes(`\`${f}\``));
    assert.deepEqual(missing, [], 'flags named in README.md but not in docs/reference.md');
  });

  it('tells the reader that dig’s .local warning is harmless, once', () => {
    const n = readme.split('reserved for Multicast DNS').length - 1;
    assert.equal(n, 1);
    assert.match(readme, /harmless/);
  });
});

describe('relative links resolve', () => {
  for (const rel of pages) it(rel, () => assert.deepEqual(brokenLinks(rel), [], `${rel}: broken links`));
});

describe('the link checker itself', () => {
  it('makes GitHub slugs', () => {
    assert.equal(slug('Cache (`cache.ts`)'), 'cache-cachets');
    assert.equal(slug("The catalog's states"), 'the-catalogs-states');
    assert.equal(
      slug('Answers (CoreDNS plugin/etcd → plugin/backend_lookup.go, SkyDNS)'),
      'answers-coredns-pluginetcd--pluginbackend_lookupgo-skydns',
    );
    assert.equal(slug('How hades is started: node’s flags'), 'how-hades-is-started-nodes-flags');
    assert.equal(slug('Hades 1.0.1'), 'hades-101');
    assert.equal(
      slug('What the web UI reads: zones, scanners, DNS metrics'),
      'what-the-web-ui-reads-zones-scanners-dns-metrics',
    );
  });

  it('numbers repeated headings and ignores code blocks', () => {
    const md = '# A\n## Setup\n```sh\n# not a heading\n```\n## Setup\n';
    assert.deepEqual([...anchors(md)], ['a', 'setup', 'setup-1']);
  });

  it('finds link targets outside code only', () => {
    const md = 'see [x](a.md#b) and ![img](p.png "t")\n`[no](c.md)`\n```\n[no](d.md)\n```\n';
    assert.deepEqual(linkTargets(md), ['a.md#b', 'p.png']);
  });

  it('reports a missing file, a missing heading, and nothing for good links', () => {
    const md =
      '[ok](#errors) [ok](reference.md#hades-apicmd) [ok](../src/dns/README.md) [web](https://example.com/x#y)\n' +
      '[bad](#no-such-heading) [bad](reference.md#nope) [bad](nope.md) [bad](ui-down.png#x)\n';
    assert.deepEqual(brokenLinks('docs/api.md', md), [
      '#no-such-heading: no heading #no-such-heading',
      'reference.md#nope: no heading #nope',
      'nope.md: no such file',
      'ui-down.png#x: an anchor into a file that is not Markdown',
    ]);
  });
});
