import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const REPO = join(import.meta.dirname, '..', '..', '..');

/** Runs `body` (an ES module's text, with the repository's imports) in a Node that exits normally; returns what it printed. */
function inChildProcess(body: string): string {
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', body], { cwd: REPO, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout.trim();
}

describe('graphs built outside a cache', () => {
  it('leave no directory behind once the process exits', () => {
    const dirs = inChildProcess(`
      import { writeFileSync } from 'node:fs';
      import { join } from 'node:path';
      import { temporaryGraphDirectory } from './packages/onnx/src/temporary-graph-directory.ts';
      const a = temporaryGraphDirectory('diffq-test-graph-');
      const b = temporaryGraphDirectory('diffq-test-graph-');
      writeFileSync(join(a, 'g.onnx'), 'x');
      console.log(JSON.stringify([a, b]));
    `);
    const [a, b] = JSON.parse(dirs) as string[];
    assert.notEqual(a, b);
    assert.equal(existsSync(a), false);
    assert.equal(existsSync(b), false);
  });

  it('include a DiT written with external data when no path is given (DiT-XL/2 in a read-only model directory)', () => {
    const path = inChildProcess(`
      import { existsSync } from 'node:fs';
      import { parseDiTConfig, randomDiTWeights } from '@diffq/networks';
      import { buildDiTOnnx } from '@diffq/onnx';
      import { DIT_8 } from './test/fixtures/small-networks.ts';
      const config = parseDiTConfig(DIT_8);
      const path = buildDiTOnnx(config, randomDiTWeights(config, 0), { externalDataThreshold: 1000 });
      if (typeof path !== 'string' || !existsSync(path + '.data')) throw new Error('expected a graph with external data, got ' + typeof path);
      console.log(path);
    `);
    assert.match(path, /diffq-dit-/);
    assert.equal(existsSync(join(path, '..')), false);
  });
});
