import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProgress } from '../src/progress-bar.ts';

const base = { step: 1140, steps: 3000, firstStep: 0, loss: 0.0412, stepsPerSecond: 1.9, elapsedMs: 600_000, budgetMs: null };

describe('the training progress bar', () => {
  it('shows the share of steps done, the step, the loss, the speed and the time left', () => {
    assert.equal(formatProgress(base), '[#########---------------]  38% step 1140/3000  loss 0.0412  1.90 steps/s  left 16m19s');
  });

  it('counts a resumed run from where it resumed', () => {
    assert.match(formatProgress({ ...base, firstStep: 1000, step: 2000 }), /^\[############------------\] {2}50% step 2000\/3000/);
  });

  it('follows the time budget when it ends the run first, and says so in the time left', () => {
    const bar = formatProgress({ ...base, budgetMs: 800_000 });
    assert.match(bar, /^\[##################------\] {2}75% /);
    assert.match(bar, /left 3m20s$/);
  });

  it('shows a dash before the first loss window', () => {
    assert.match(formatProgress({ ...base, loss: null }), /loss - /);
  });
});
