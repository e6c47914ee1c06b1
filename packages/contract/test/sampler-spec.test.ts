import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeSampler, InvalidPayload, parseRunSpec, type RunSpecInput } from '../src/index.ts';

const valid: RunSpecInput = {
  runId: 'run-1',
  model: { uri: '/m', id: 'm', digest: 'a'.repeat(64) },
  sampler: { kind: 'ddim' },
  seeds: '0-9',
  seedCount: 10,
  createdAt: '2026-01-01T00:00:00.000Z',
  codeVersion: 'test',
};

function problems(sampler: unknown): string[] {
  try {
    parseRunSpec({ ...valid, sampler });
  } catch (error) {
    if (error instanceof InvalidPayload) return [...error.problems];
    throw error;
  }
  assert.fail('parseRunSpec should have thrown');
}

describe('the run spec’s sampler', () => {
  it('parses a manifest written before the ODE solvers existed', () => {
    assert.deepEqual(parseRunSpec({ ...valid, sampler: { kind: 'ddpm', respacing: '250', eta: 0, clipDenoised: true } }).sampler, {
      kind: 'ddpm',
      respacing: '250',
      eta: 0,
      clipDenoised: true,
    });
  });

  it('fills the solver defaults of the official ADM example, x̂₀ unclipped as a manifest without the field ran', () => {
    assert.deepEqual(parseRunSpec({ ...valid, sampler: { kind: 'dpm++3m', steps: 10 } }).sampler, {
      kind: 'dpm++3m',
      steps: 10,
      skipType: 'time_uniform',
      denoiseToZero: false,
      clipDenoised: false,
    });
    assert.deepEqual(parseRunSpec({ ...valid, sampler: { kind: 'unipc', steps: 10 } }).sampler, {
      kind: 'unipc',
      steps: 10,
      skipType: 'time_uniform',
      denoiseToZero: false,
      clipDenoised: false,
      variant: 'bh2',
      order: 2,
    });
  });

  it('names the field and the accepted range', () => {
    assert.match(problems({ kind: 'dpm++2m' })[0], /^sampler\.steps /);
    assert.match(problems({ kind: 'dpm++3m', steps: 2 })[0], /^sampler\.steps must be at least 3, the order of dpm\+\+3m/);
    assert.match(problems({ kind: 'unipc', steps: 10, variant: 'bh3' })[0], /^sampler\.variant /);
    assert.match(problems({ kind: 'ddpm', eta: 0.5 })[0], /^sampler\.eta must be 0 for the ddpm sampler/);
    assert.match(problems({ kind: 'dpm++2m', steps: 10, respacing: '10' })[0], /respacing/);
    assert.match(
      problems({ kind: 'dpm++2m', steps: 10, dynamicThreshold: { ratio: 0, maxValue: 1 } })[0],
      /^sampler\.dynamicThreshold\.ratio must be a number in \(0, 1\]/,
    );
    assert.match(problems({ kind: 'heun' })[0], /^sampler\.kind /);
    assert.match(problems({ kind: 'dpm++2m', steps: 10, clipDenoised: 'yes' })[0], /^sampler\.clipDenoised /);
  });

  it('keeps clipping and thresholding together on a solver', () => {
    const both = parseRunSpec({
      ...valid,
      sampler: { kind: 'dpm++2m', steps: 10, clipDenoised: true, dynamicThreshold: { ratio: 0.995, maxValue: 1 } },
    });
    assert.equal(both.sampler.clipDenoised, true);
    assert.deepEqual('dynamicThreshold' in both.sampler && both.sampler.dynamicThreshold, { ratio: 0.995, maxValue: 1 });
  });

  it('describes itself in one line for diffq report', () => {
    assert.equal(describeSampler(parseRunSpec(valid).sampler), 'ddim, all steps, eta 0, x̂₀ clipped');
    const unipc = parseRunSpec({ ...valid, sampler: { kind: 'unipc', steps: 10, skipType: 'logSNR', denoiseToZero: true } }).sampler;
    assert.equal(describeSampler(unipc), 'unipc, 10 steps, logSNR, bh2 order 2, denoise to zero, x̂₀ not clipped');
    const clipped = parseRunSpec({ ...valid, sampler: { kind: 'dpm++2m', steps: 10, clipDenoised: true } }).sampler;
    assert.equal(describeSampler(clipped), 'dpm++2m, 10 steps, time_uniform, x̂₀ clipped');
  });
});
