import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeRandomModel } from '../../../test/fixtures/random-model.ts';
import { runDiffq } from '../../../test/fixtures/run-diffq.ts';

describe('diffq bench-model', () => {
  let dir: string;
  let model: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-bench-model-'));
    model = await writeRandomModel(join(dir, 'model'), { numClasses: 4 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [engine, provider] of [
    ['onnx', 'cpu'],
    ['tfjs', 'wasm'],
  ] as const) {
    it(`times ${engine} forward passes and says which engine and ${engine === 'onnx' ? 'provider' : 'backend'} ran them`, async () => {
      const run = await runDiffq(['bench-model', '--model', model, '--batch', '3', '--engine', engine, '--repeat', '5', '--json']);
      assert.equal(run.code, 0, run.err);
      const r = JSON.parse(run.out);
      assert.equal(r.model, model);
      assert.equal(r.engine, engine);
      assert.equal(r.provider, provider);
      assert.equal(r.batch, 3);
      assert.equal(r.timesMs.length, 5, 'one time per repeat, warm-up passes excluded');
      assert.ok(r.timesMs.every((ms: number) => ms > 0));
      assert.equal(r.medianMs, [...r.timesMs].sort((a: number, b: number) => a - b)[2], 'the median of the timed passes');
      assert.match(r.why, new RegExp(`^${engine}`));
    });
  }

  it('prints the median, the engine and the provider as one line of text without --json', async () => {
    const run = await runDiffq(['bench-model', '--model', model, '--batch', '2', '--engine', 'onnx', '--repeat', '1']);
    assert.equal(run.code, 0, run.err);
    assert.match(run.out, /: \d+\.\d ms per forward of batch 2 \(median of 1 after warm-up\) on onnx \(cpu\)\n/);
  });

  const bad: { name: string; args: () => string[]; says: RegExp }[] = [
    { name: 'a zero batch', args: () => ['--model', model, '--batch', '0'], says: /--batch is 0; accepted: an integer ≥ 1/ },
    { name: 'a fractional repeat', args: () => ['--model', model, '--repeat', '2.5'], says: /--repeat is 2.5; accepted: an integer ≥ 1/ },
    {
      name: 'an unknown engine',
      args: () => ['--model', model, '--engine', 'fast'],
      says: /Argument: engine, Given: "fast", Choices: "auto", "onnx", "tfjs"/,
    },
    { name: 'no model', args: () => ['--batch', '2'], says: /Missing required argument: model/ },
    { name: 'a directory without a model', args: () => ['--model', dir], says: /--model .*: no model.json there/ },
    { name: 'a misspelt flag', args: () => ['--model', model, '--repeats', '3'], says: /Unknown argument: repeats/ },
  ];
  for (const { name, args, says } of bad) {
    it(`rejects ${name}, naming the flag, with exit code 2`, async () => {
      const run = await runDiffq(['bench-model', ...args()]);
      assert.equal(run.code, 2, run.err);
      assert.match(run.err, says);
      assert.equal(run.out, '');
    });
  }
});
