import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UsageError } from '@diffq/contract';
import { readModelDirectory } from '@diffq/networks';
import { main, planClassifierTraining } from '@diffq/trainer';

function problems(f: Parameters<typeof planClassifierTraining>[0]): string[] {
  try {
    planClassifierTraining(f);
  } catch (e) {
    assert.ok(e instanceof UsageError);
    return [...e.problems];
  }
  return [];
}

describe('diffq-train classifier flags', () => {
  it('fills in the shipped network and settings', () => {
    const plan = planClassifierTraining({ out: 'models/x' });
    assert.deepEqual(plan.model, {
      image_size: 28,
      in_channels: 1,
      num_classes: 10,
      stage_channels: [16, 32],
      convs_per_stage: 2,
      hidden: 128,
    });
    assert.equal(plan.settings.batchSize, 64);
    assert.equal(plan.images, null);
  });

  it('names the flag, the value and the accepted range of each bad flag, all at once', () => {
    const found = problems({ steps: 0, lr: 2, maxRotation: 60, stageChannels: '16;32', hidden: 1 });
    const expected = [
      /^--out is required/,
      /^--steps is 0; accepted: an integer in \[1, 10000000\]$/,
      /^--lr is 2; accepted: a number in \(0, 1\)/,
      /^--max-rotation is 60; accepted: a number of degrees in \[0, 45\]$/,
      /^--hidden is 1; accepted: an integer in \[2, 4096\]$/,
      /^--stage-channels is "16;32"; accepted: comma-separated channel counts/,
    ];
    assert.equal(found.length, expected.length, found.join('\n'));
    for (const [i, re] of expected.entries()) assert.match(found[i], re);
    assert.match(problems({ out: 'm', stageChannels: '8,8,8,8,8' })[0], /stage_channels/);
  });
});

describe('diffq-train classifier', () => {
  it('trains, and writes the model directory with its config, log and held-out accuracy', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'diffq-classifier-'));
    try {
      const args = [
        'classifier',
        '--out',
        dir,
        '--steps',
        '4',
        '--images',
        '128',
        '--stage-channels',
        '4,8',
        '--hidden',
        '16',
        '--log-every',
        '2',
      ];
      let out = '';
      let err = '';
      const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) });
      assert.equal(code, 0, err);
      assert.match(out, /step 2\/4 {2}loss \d+\.\d{4} {2}acc \d+\.\d\d % {2}lr \S+ {2}\d+\.\d\d steps\/s/);
      assert.match(out, /held-out accuracy \d+\.\d\d % \(\d+ of 2000\) after 4 steps/);
      const directory = await readModelDirectory(dir);
      assert.equal(directory.architecture, 'mnist-classifier');
      const config = JSON.parse(await readFile(join(dir, 'train-config.json'), 'utf8'));
      assert.equal(config.command, `diffq-train ${args.join(' ')}`);
      assert.equal(config.data.images, 128);
      assert.equal(config.settings.steps, 4);
      assert.equal(await readFile(join(dir, 'train.log'), 'utf8'), out);
      const evaluation = JSON.parse(await readFile(join(dir, 'evaluation.json'), 'utf8'));
      assert.equal(evaluation.heldoutCount, 2000);
      assert.equal(evaluation.heldoutAccuracy, evaluation.heldoutCorrect / 2000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
