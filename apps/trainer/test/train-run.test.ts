import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readModelDirectory } from '@diffq/diffusion';
import { main } from '@diffq/trainer';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('diffq-train', () => {
  it('writes a loadable model directory, then resumes it to the asked step count', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'diffq-train-'));
    try {
      const first = await run(['--out', dir, '--images', '8', '--steps', '2', '--batch-size', '2', '--log-every', '1', '--threads', '1']);
      assert.equal(first.code, 0, first.err);
      assert.match(first.out, /data-parallel: each minibatch of 2 split between this thread and 1 gradient thread/);
      assert.match(first.out, /step 2 {2}loss \d+\.\d+/);
      const model = await readModelDirectory(dir);
      assert.equal(model.architecture, 'adm-unet');
      assert.equal(model.metadata.step, '2');
      const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
      assert.equal(json.guidance.null_label, 10);
      assert.equal(json.model.num_classes, 11);
      assert.equal(json.diffusion.input_perturbation, 0.1);

      const second = await run([
        '--out',
        dir,
        '--images',
        '8',
        '--steps',
        '3',
        '--batch-size',
        '2',
        '--log-every',
        '1',
        '--resume',
        '--threads',
        '0',
      ]);
      assert.equal(second.code, 0, second.err);
      assert.match(second.out, /resuming .* at step 2/);
      assert.match(second.out, /done: step 3 \(1 this run\)/);
      assert.equal((await readModelDirectory(dir)).metadata.step, '3');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails with exit 1 and says why when --resume finds no checkpoint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'diffq-train-'));
    try {
      const r = await run(['--out', dir, '--images', '8', '--steps', '1', '--resume']);
      assert.equal(r.code, 1);
      assert.match(r.err, /--resume: .* has no model.json/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
