import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { mnistDigits } from '@diffq/datasets';
import { readModelDirectory } from '@diffq/networks';
import { main } from '@diffq/trainer';
import { unetTrainingDigits } from '../src/train-run.ts';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe('the UNet training digits', () => {
  it('are by default the 8,000 outside the held-out reference, so FID against it is not recall', async () => {
    const [train, heldout] = await Promise.all([unetTrainingDigits('train'), mnistDigits('heldout')]);
    assert.equal(train.count, 8000);
    const seen = new Set<string>();
    for (let i = 0; i < train.count; i++) seen.add(Buffer.from(train.pixels.subarray(i * 784, (i + 1) * 784)).toString('base64'));
    let overlap = 0;
    for (let i = 0; i < heldout.count; i++)
      overlap += seen.has(Buffer.from(heldout.images.subarray(i * 784, (i + 1) * 784)).toString('base64')) ? 1 : 0;
    assert.equal(overlap, 0);
    assert.equal((await unetTrainingDigits('all')).count, 10000);
  });
});

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
      assert.equal(model.metadata.split, 'train', 'a fresh run learns the training split only');
      // A hand-added section (the shipped model names its feature network there) must survive retraining.
      const evaluation = { features: '../mnist-classifier', reference: '../mnist-classifier/heldout-stats.npz' };
      await writeFile(join(dir, 'model.json'), JSON.stringify({ ...json, evaluation }));

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
      assert.deepEqual(JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')).evaluation, evaluation);

      // The log and the config ship with the model and cover both runs.
      const log = await readFile(join(dir, 'train.log'), 'utf8');
      assert.match(log, /training 8 digits \(train split\)[\s\S]*step 2 {2}loss[\s\S]*resuming .* at step 2[\s\S]*step 3 {2}loss/);
      const config = JSON.parse(await readFile(join(dir, 'train-config.json'), 'utf8'));
      assert.equal(config.runs.length, 2);
      assert.match(config.runs[0].command, /^diffq-train --out .* --steps 2 /);
      assert.equal(config.runs[0].model.num_channels, 32);
      assert.equal(config.runs[1].resume, true);
      assert.equal(config.runs[1].settings.batchSize, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown --split, naming the accepted ones, before writing anything', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'diffq-train-')), 'model');
    try {
      const r = await run(['--out', dir, '--split', 'heldout', '--steps', '1']);
      assert.equal(r.code, 2);
      assert.match(r.err, /--split is "heldout"; accepted: train, all/);
      await assert.rejects(readFile(join(dir, 'train.log')), /ENOENT/);
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
