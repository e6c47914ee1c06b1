import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '@diffq/contract';
import { main, planTraining } from '@diffq/trainer';

function problems(f: Parameters<typeof planTraining>[0]): string[] {
  try {
    planTraining(f);
  } catch (e) {
    assert.ok(e instanceof UsageError);
    return [...e.problems];
  }
  return [];
}

describe('diffq-train flags', () => {
  it('accepts a plain run and fills in the defaults', () => {
    const plan = planTraining({ out: 'models/x', minutes: 2 });
    assert.equal(plan.budgetMs, 120_000);
    assert.equal(plan.settings.batchSize, 16);
    assert.equal(plan.model.num_classes, 11);
  });

  it('names the flag, the value and the accepted range of each bad flag, all at once', () => {
    const found = problems({
      out: 'm',
      steps: 0,
      batchSize: 2.5,
      lr: 2,
      minutes: -1,
      emaRate: 1,
      classDropout: 1.5,
      numChannels: 48,
      threads: -1,
    });
    const expected = [
      /^--steps is 0; accepted: an integer in \[1, 1000000000\]$/,
      /^--batch-size is 2.5; accepted: an integer in \[1, 1024\]$/,
      /^--lr is 2; accepted: a number in \(0, 1\)/,
      /^--minutes is -1; accepted: a number of minutes in \(0, 10080\]$/,
      /^--ema-rate is 1; accepted: a number in \[0, 1\)/,
      /^--class-dropout is 1.5; accepted: a probability in \[0, 1\]$/,
      /^--num-channels is 48; accepted: a multiple of 32 in \[32, 512\]$/,
      /^--threads is -1; accepted: an integer in \[0, 63\]/,
    ];
    assert.equal(found.length, expected.length, found.join('\n'));
    for (const [i, re] of expected.entries()) assert.match(found[i], re);
  });

  it('requires --out', () => {
    assert.match(problems({ steps: 3 })[0], /^--out is required/);
  });

  it('rejects architecture and seed flags with --resume: the checkpoint fixes them', () => {
    assert.match(
      problems({ out: 'm', resume: true, numChannels: 64, seed: 3 })[0],
      /^--seed, --num-channels cannot be given with --resume/,
    );
  });

  it('rejects an unknown noise schedule and a malformed channel list', () => {
    const found = problems({ out: 'm', noiseSchedule: 'sqrt', channelMult: '1,x' });
    assert.ok(found.some((p) => /^--channel-mult is "1,x"; accepted: comma-separated positive integers/.test(p)));
    assert.ok(found.some((p) => /^--noise-schedule is "sqrt"; accepted: linear, cosine$/.test(p)));
  });

  it('exits 2 with the message on the command line, before loading any data', async () => {
    let err = '';
    const code = await main(['--out', 'x', '--batch-size', '0'], { out: () => {}, err: (t) => (err += t) });
    assert.equal(code, 2);
    assert.match(err, /--batch-size is 0; accepted: an integer in \[1, 1024\]/);
  });

  it('exits 2 on an unknown flag', async () => {
    let err = '';
    const code = await main(['--out', 'x', '--bogus', '1'], { out: () => {}, err: (t) => (err += t) });
    assert.equal(code, 2);
    assert.match(err, /bogus/);
  });
});
