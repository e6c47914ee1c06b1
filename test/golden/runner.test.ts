import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readSafetensors, type TensorToWrite, writeSafetensors } from '@diffq/networks';

const GOLDEN = join(import.meta.dirname, 'cases');
const dir = mkdtempSync(join(tmpdir(), 'diffq-golden-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function runGolden(caseDir: string): { status: number | null; lines: string[] } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'run.ts'), caseDir], { encoding: 'utf8' });
  return { status: run.status, lines: run.stdout.trim().split('\n') };
}

describe('the golden runner', () => {
  it('passes a reference case and ends with the N passed, M failed line', () => {
    const cases = join(dir, 'one-pass');
    mkdirSync(cases);
    cpSync(join(GOLDEN, 'schedule_linear_1000_r25'), join(cases, 'schedule_linear_1000_r25'), { recursive: true });
    const { status, lines } = runGolden(cases);
    assert.equal(status, 0);
    assert.match(lines.at(-2) ?? '', /^PASS schedule_linear_1000_r25 schedule worst \d/);
    assert.equal(lines.at(-1), '1 passed, 0 failed');
  });

  it('fails a case whose reference output is moved by 1 %, and exits non-zero', () => {
    const cases = join(dir, 'tampered');
    const target = join(cases, 'schedule_linear_1000_r25');
    mkdirSync(cases);
    cpSync(join(GOLDEN, 'schedule_linear_1000_r25'), target, { recursive: true });
    const file = join(target, 'tensors.safetensors');
    const { tensors } = readSafetensors(new Uint8Array(readFileSync(file)));
    const moved: Record<string, TensorToWrite> = {};
    for (const [name, t] of tensors) {
      const data = t.data as Float64Array | BigInt64Array;
      moved[name] = { shape: t.shape, data: name === 'alphas_cumprod' ? (data as Float64Array).map((v) => v * 1.01) : data };
    }
    writeFileSync(file, writeSafetensors(moved));
    const { status, lines } = runGolden(cases);
    assert.notEqual(status, 0);
    assert.match(lines.at(-2) ?? '', /^FAIL schedule_linear_1000_r25 schedule worst \d+\.\d+ of tolerance \(alphas_cumprod: /);
    assert.equal(lines.at(-1), '0 passed, 1 failed');
  });

  it('counts a case of an unknown kind as a FAIL that says so, never a skip', () => {
    const cases = join(dir, 'unknown-kind');
    const target = join(cases, 'mystery');
    mkdirSync(target, { recursive: true });
    writeFileSync(
      join(target, 'case.json'),
      JSON.stringify({ kind: 'mystery_kind', name: 'mystery', tolerance: { rel_l2: 1e-4 }, inputs: [], outputs: ['x'] }),
    );
    writeFileSync(join(target, 'tensors.safetensors'), writeSafetensors({ x: { shape: [1], data: new Float32Array([1]) } }));
    const { status, lines } = runGolden(cases);
    assert.notEqual(status, 0);
    assert.match(lines.at(-2) ?? '', /^FAIL mystery mystery_kind not implemented: kind mystery_kind has no runner/);
    assert.equal(lines.at(-1), '0 passed, 1 failed');
  });
  it('fails a run that executes no case: an empty folder, or an --only that matches nothing', () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const none = runGolden(empty);
    assert.notEqual(none.status, 0);
    assert.equal(none.lines.at(-1), '0 passed, 1 failed');

    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'run.ts'), GOLDEN, '--only', 'no-case-has-this-name'],
      {
        encoding: 'utf8',
      },
    );
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /no case in .* matches --only "no-case-has-this-name"/);
  });

  it('is pointed at the vendored cases by default, never outside the repository', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'run.ts'), '--only', 'schedule_linear_1000_r25'],
      {
        encoding: 'utf8',
        cwd: join(import.meta.dirname, '..', '..'),
      },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /golden: .*test\/golden\/cases/);
  });
});
