import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';

/**
 * The documentation stays true to the tree: every repository path it cites exists, and every link
 * to a heading of a page lands on a heading that exists.
 */
const REPO = resolve(import.meta.dirname, '..', '..');
/** The README and the pages about the system as a whole; the topic pages join once their figures are committed. */
const PAGES = [
  'README.md',
  ...['design', 'operations', 'models', 'metrics', 'deployment', 'training', 'testing', 'benchmarks', 'latent-models'].map(
    (p) => `docs/${p}.md`,
  ),
];
const CITED = /`((?:packages|apps|test|bench|infra|models|docs)\/[\w./-]*[\w/])`/g;

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- ]/gu, '')
    .replace(/ /g, '-');
}

function headings(page: string): Set<string> {
  return new Set([...readFileSync(join(REPO, page), 'utf8').matchAll(/^#+ (.*)$/gm)].map((m) => anchor(m[1])));
}

describe('the documentation', () => {
  for (const page of PAGES) {
    it(`${page} cites only paths that exist`, () => {
      const text = readFileSync(join(REPO, page), 'utf8');
      const missing = [...text.matchAll(CITED)].map((m) => m[1]).filter((p) => !p.includes('<') && !existsSync(join(REPO, p)));
      assert.deepEqual(missing, [], `${page} cites paths that are not in the repository`);
    });

    it(`${page} links to headings that exist`, () => {
      const text = readFileSync(join(REPO, page), 'utf8');
      const broken: string[] = [];
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [path, hash] = target.split('#');
        const file = path === '' ? page : join(dirname(page), path);
        if (hash === undefined || !existsSync(join(REPO, file))) continue;
        if (!headings(file).has(hash)) broken.push(target);
      }
      assert.deepEqual(broken, [], `${page} links to headings that do not exist`);
    });
  }
});
