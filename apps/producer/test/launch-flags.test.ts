import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newRunId } from '@diffq/contract';
import { buildRunSpec, checkAgainstModel, checkLaunchFlags, type LaunchFlags } from '../src/launch-flags.ts';
import type { DenoiserFacts } from '../src/model-facts.ts';

const base: LaunchFlags = { model: '/models/m', seeds: '0-99', store: 'file://./runs' };
const model: DenoiserFacts = {
  uri: '/models/m',
  id: 'model-abc',
  digest: 'a'.repeat(64),
  imageSize: 32,
  numClasses: null,
  nullLabel: null,
  steps: 1000,
  channels: 3,
  latent: false,
};
const classModel: DenoiserFacts = { ...model, numClasses: 11, nullLabel: 10 };

describe('launch flags', () => {
  it('accepts a plain launch', () => {
    assert.deepEqual(checkLaunchFlags(base), []);
  });

  it('reports every problem at once, each naming its flag', () => {
    const problems = checkLaunchFlags({ ...base, seeds: '5-1', shardSize: 0, format: 'gif', priority: 2 ** 22, sampler: 'heun' });
    assert.equal(problems.length, 5);
    for (const flag of ['--seeds', '--shard-size', '--format', '--priority', '--sampler'])
      assert.ok(
        problems.some((p) => p.startsWith(flag)),
        flag,
      );
  });

  it('draws labels below the null label of a classifier-free model', () => {
    assert.deepEqual(checkAgainstModel({ ...base, labels: '9' }, classModel), []);
    assert.match(checkAgainstModel({ ...base, labels: '10' }, classModel)[0], /from 0 to 9/);
  });

  it('checks steps and respacing against the model’s diffusion steps', () => {
    assert.match(checkAgainstModel({ ...base, steps: 1001 }, model)[0], /accepted: 2 to 1000/);
    assert.deepEqual(checkAgainstModel({ ...base, respacing: 'ddim50' }, model), []);
    assert.match(checkAgainstModel({ ...base, respacing: '2000' }, model)[0], /--respacing/);
  });

  it('builds the manifest: --steps N is respacing "N", a class index is the fixed policy', () => {
    const now = new Date('2025-03-04T05:06:07Z');
    const spec = buildRunSpec({ ...base, steps: 25, labels: '3', guidanceScale: 2 }, classModel, undefined, {
      now,
      codeVersion: 'diffq test',
    });
    assert.deepEqual(spec.sampler, { kind: 'ddpm', respacing: '25', eta: 0, clipDenoised: true });
    assert.deepEqual(spec.labels, { policy: 'fixed', classIndex: 3 });
    assert.deepEqual(spec.guidance, { kind: 'classifier_free', scale: 2 });
    assert.equal(spec.seedCount, 100);
    assert.equal(spec.runId.startsWith('run-20250304-050607-'), true);
  });

  it('generates run ids that are valid and distinct', () => {
    const now = new Date('2025-03-04T05:06:07Z');
    assert.equal(
      newRunId('run', now, () => 0.5),
      'run-20250304-050607-8000',
    );
    assert.notEqual(
      newRunId('run', now),
      newRunId('run', now, () => 0.999),
    );
  });
});
