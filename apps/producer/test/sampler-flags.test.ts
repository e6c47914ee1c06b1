import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRunSpec, SAMPLER_KINDS } from '@diffq/contract';
import { checkSamplerAgainstModel, checkSamplerFlags, samplerSpec } from '../src/sampler-flags.ts';

const PIXEL = {};
/** What model-facts gives a latent model: its decoder and latent shape (only its presence matters here). */
const LATENT = { latent: {} };

describe('sampler flags', () => {
  it('accepts each sampler with its own flags', () => {
    assert.deepEqual(checkSamplerFlags({ sampler: 'ddim', steps: 50, eta: 0.5 }), []);
    assert.deepEqual(checkSamplerFlags({ sampler: 'dpm++2m', steps: 10, skipType: 'logSNR', dynamicThreshold: 0.995 }), []);
    assert.deepEqual(checkSamplerFlags({ sampler: 'unipc', steps: 10, unipcVariant: 'bh1', unipcOrder: 3, denoiseToZero: true }), []);
  });

  it('names the flag, the value and the accepted range', () => {
    assert.deepEqual(checkSamplerFlags({ sampler: 'dpm++2m', skipType: 'karras' }), [
      '--skip-type "karras": accepted: time_uniform, logSNR, time_quadratic',
    ]);
    assert.match(checkSamplerFlags({ sampler: 'unipc', unipcOrder: 4 })[0], /^--unipc-order is 4; accepted: 1, 2 or 3$/);
    assert.match(checkSamplerFlags({ sampler: 'unipc', unipcVariant: 'bh3' })[0], /^--unipc-variant "bh3": accepted: bh1, bh2$/);
    assert.match(checkSamplerFlags({ sampler: 'dpm++3m', steps: 2 })[0], /^--steps is 2; accepted: an integer ≥ 3 for dpm\+\+3m/);
    assert.match(checkSamplerFlags({ sampler: 'unipc', unipcOrder: 3, steps: 2 })[0], /≥ 3 for unipc/);
    assert.match(
      checkSamplerFlags({ sampler: 'dpm++2m', dynamicThreshold: 1.5 })[0],
      /^--dynamic-threshold is 1.5; accepted: a quantile in \(0, 1\]/,
    );
    assert.match(checkSamplerFlags({ sampler: 'dpm++2m', dynamicThresholdMax: 2 })[0], /--dynamic-threshold-max needs --dynamic-threshold/);
  });

  it('refuses a flag given to a sampler it does not apply to', () => {
    assert.match(checkSamplerFlags({ sampler: 'ddim', skipType: 'logSNR' })[0], /^--skip-type applies to the ODE solvers only/);
    assert.match(checkSamplerFlags({ sampler: 'ddpm', denoiseToZero: true })[0], /^--denoise-to-zero applies to the ODE solvers only/);
    assert.deepEqual(checkSamplerFlags({ sampler: 'ddpm', denoiseToZero: false }), []);
    assert.match(checkSamplerFlags({ sampler: 'dpm++2m', respacing: '50' })[0], /^--respacing "50" applies to ddpm and ddim/);
    assert.match(checkSamplerFlags({ sampler: 'unipc', eta: 0 })[0], /^--eta 0 applies to --sampler ddim only/);
    assert.match(checkSamplerFlags({ sampler: 'dpm++3m', unipcVariant: 'bh1' })[0], /^--unipc-variant applies to --sampler unipc only/);
  });

  it('checks solver steps against the model’s diffusion steps', () => {
    assert.match(checkSamplerAgainstModel({ sampler: 'dpm++3m', steps: 2000 }, 1000)[0], /^--steps is 2000; accepted: 3 to 1000/);
    assert.deepEqual(checkSamplerAgainstModel({ sampler: 'unipc', steps: 10 }, 1000), []);
  });

  it('writes every solver default into the manifest, which parses back unchanged', () => {
    const dpm = samplerSpec({ sampler: 'dpm++2m', steps: 10 }, PIXEL);
    assert.deepEqual(dpm, { kind: 'dpm++2m', clipDenoised: true, steps: 10, skipType: 'time_uniform', denoiseToZero: false });
    const unipc = samplerSpec({ sampler: 'unipc', dynamicThreshold: 0.995 }, PIXEL);
    assert.deepEqual(unipc, {
      kind: 'unipc',
      clipDenoised: true,
      steps: 20,
      skipType: 'time_uniform',
      denoiseToZero: false,
      dynamicThreshold: { ratio: 0.995, maxValue: 1 },
      variant: 'bh2',
      order: 2,
    });
    const spec = parseRunSpec({
      runId: 'run-1',
      model: { uri: '/m', id: 'm', digest: 'a'.repeat(64) },
      sampler: unipc,
      seeds: '0-9',
      seedCount: 10,
      createdAt: '2026-01-01T00:00:00.000Z',
      codeVersion: 'test',
    });
    assert.deepEqual(spec.sampler, unipc);
    assert.deepEqual(samplerSpec({ sampler: 'ddim', steps: 25 }, PIXEL), { kind: 'ddim', respacing: '25', eta: 0, clipDenoised: true });
  });

  it('clips x̂₀ by default for a pixel model and not for a latent one, with every sampler', () => {
    for (const sampler of SAMPLER_KINDS) {
      assert.equal(samplerSpec({ sampler }, PIXEL).clipDenoised, true, `${sampler}, pixel model`);
      assert.equal(samplerSpec({ sampler }, LATENT).clipDenoised, false, `${sampler}, latent model`);
      assert.equal(samplerSpec({ sampler, clipDenoised: false }, PIXEL).clipDenoised, false, `${sampler} --no-clip-denoised`);
      assert.equal(samplerSpec({ sampler, clipDenoised: true }, LATENT).clipDenoised, true, `${sampler} --clip-denoised`);
      assert.deepEqual(checkSamplerFlags({ sampler, clipDenoised: false }), [], `${sampler} takes --no-clip-denoised`);
    }
  });

  it('composes the clip with dynamic thresholding in the manifest', () => {
    const both = samplerSpec({ sampler: 'dpm++2m', steps: 10, dynamicThreshold: 0.995, clipDenoised: true }, PIXEL);
    assert.deepEqual(checkSamplerFlags({ sampler: 'dpm++2m', steps: 10, dynamicThreshold: 0.995, clipDenoised: true }), []);
    assert.equal(both.clipDenoised, true);
    assert.deepEqual('dynamicThreshold' in both && both.dynamicThreshold, { ratio: 0.995, maxValue: 1 });
  });
});
