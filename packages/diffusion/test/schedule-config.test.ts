import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDiffusionConfig } from '../src/schedule/diffusion-config.ts';

describe('model.json diffusion config', () => {
  it("resolves create_gaussian_diffusion's defaults", () => {
    const c = parseDiffusionConfig({});
    assert.deepEqual(
      { steps: c.steps, schedule: c.noiseSchedule, respacing: c.timestepRespacing, gamma: c.inputPerturbation },
      { steps: 1000, schedule: 'linear', respacing: '', gamma: 0 },
    );
    assert.deepEqual([c.modelMeanType, c.modelVarType, c.lossType], ['EPSILON', 'FIXED_LARGE', 'MSE']);
  });

  it('derives the mean, variance and loss types as the reference does', () => {
    const types = (raw: object) => {
      const c = parseDiffusionConfig(raw);
      return [c.modelMeanType, c.modelVarType, c.lossType];
    };
    assert.deepEqual(types({ learn_sigma: true, sigma_small: true }), ['EPSILON', 'LEARNED_RANGE', 'MSE']);
    assert.deepEqual(types({ sigma_small: true, predict_xstart: true }), ['START_X', 'FIXED_SMALL', 'MSE']);
    assert.deepEqual(types({ rescale_learned_sigmas: true }), ['EPSILON', 'FIXED_LARGE', 'RESCALED_MSE']);
    assert.deepEqual(types({ use_kl: true, rescale_learned_sigmas: true }), ['EPSILON', 'FIXED_LARGE', 'RESCALED_KL']);
  });

  it('names the field and the accepted values for an unknown noise schedule', () => {
    assert.throws(
      () => parseDiffusionConfig({ noise_schedule: 'sigmoid' }),
      /Invalid diffusion: noise_schedule must be one of "linear", "cosine" \(got "sigmoid"\)/,
    );
  });

  it('names the field of a wrongly typed flag', () => {
    assert.throws(() => parseDiffusionConfig({ learn_sigma: 'yes' }), /Invalid diffusion: learn_sigma must be a boolean \(got "yes"\)/);
    assert.throws(() => parseDiffusionConfig({ steps: 10.5 }), /Invalid diffusion: steps must be an integer \(got 10\.5\)/);
  });

  it("rejects unknown fields such as the reference's misspelt input_pertub", () => {
    assert.throws(() => parseDiffusionConfig({ input_pertub: 0.1 }), /input_pertub/);
  });

  it('checks timestep_respacing against the step count, naming the field', () => {
    assert.throws(
      () => parseDiffusionConfig({ steps: 30, timestep_respacing: 'ddim20' }),
      /^Error: diffusion\.timestep_respacing "ddim20"/,
    );
    assert.throws(() => parseDiffusionConfig({ timestep_respacing: 250 }), /Invalid diffusion: timestep_respacing must be a string/);
  });

  it('uses the caller-given root in error paths', () => {
    assert.throws(
      () => parseDiffusionConfig({ steps: 0 }, 'models/cifar/model.json diffusion'),
      /Invalid models\/cifar\/model\.json diffusion: steps must be at least 1 \(got 0\)/,
    );
  });
});
