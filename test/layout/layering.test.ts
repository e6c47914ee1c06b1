import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

/**
 * The packages from the bottom up, as docs/design.md's map of the code lists them: a package's
 * source may import only packages before it here, so no import runs back up and there is no cycle.
 */
// biome-ignore format: one row per layer, bottom first
const LAYERS = [
  ['contract', 'metrics', 'codecs', 'datasets'],
  ['storage', 'queue', 'diffusion'],
  ['networks'],
  ['onnx'],
];
const root = new URL('../../', import.meta.url).pathname;
const layerOf = new Map(LAYERS.flatMap((names, i) => names.map((n) => [n, i] as const)));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function importedPackages(dir: string): Set<string> {
  const found = new Set<string>();
  for (const file of sourceFiles(dir)) {
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'@diffq\/([a-z-]+)/g)) found.add(m[1]);
  }
  return found;
}

describe('the package layout', () => {
  const packages = readdirSync(join(root, 'packages'));

  it('places every package in a layer', () => {
    assert.deepEqual(
      packages.filter((p) => !layerOf.has(p)),
      [],
    );
  });

  for (const pkg of packages) {
    it(`lets ${pkg}'s source import only packages below it, and declares them`, () => {
      const imported = importedPackages(join(root, 'packages', pkg, 'src'));
      imported.delete(pkg);
      const manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8'));
      for (const dep of imported) {
        assert.ok(layerOf.has(dep), `${pkg} imports @diffq/${dep}, which is not a package (an app?)`);
        assert.ok((layerOf.get(dep) ?? 99) < (layerOf.get(pkg) ?? 0), `${pkg} imports @diffq/${dep}, which is not below it`);
        assert.ok(manifest.dependencies?.[`@diffq/${dep}`], `${pkg} imports @diffq/${dep} without declaring it`);
      }
    });
  }

  it('is the tree the README layout table describes', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('## Layout'), readme.indexOf('## Performance'));
    const named = new Set([...table.matchAll(/`((?:packages|apps)\/[a-z-]+)`/g)].map((m) => m[1]));
    const tree = [...packages.map((p) => `packages/${p}`), ...readdirSync(join(root, 'apps')).map((a) => `apps/${a}`)];
    assert.deepEqual(
      tree.filter((p) => !named.has(p)),
      [],
      'in the tree, missing from the README',
    );
    assert.deepEqual(
      [...named].filter((p) => !tree.includes(p)),
      [],
      'in the README, missing from the tree',
    );
  });
});
