import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildRunSpec, type LaunchFlags } from '../src/launch-flags.ts';
import { type DenoiserFacts, denoiserFacts, isLatentModelJson } from '../src/model-facts.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const MNIST = join(REPO, 'models', 'mnist');

const pixel: DenoiserFacts = {
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
const latent: DenoiserFacts = { ...pixel, imageSize: 32, channels: 4, latent: true };
const flags: LaunchFlags = { model: '/models/m', seeds: '0-9', store: 'file://./runs', sampler: 'dpm++2m', steps: 10 };
const meta = { now: new Date('2026-01-01T00:00:00Z'), codeVersion: 'test' };

describe('the default of --clip-denoised follows the model’s kind', () => {
  it('tells a latent model.json (a decoder, or the DiT architecture) from a pixel one', async () => {
    assert.equal(isLatentModelJson({ format: 'diffq-model/1', architecture: 'dit', model: {} }), true);
    assert.equal(isLatentModelJson({ format: 'diffq-model/1', architecture: 'adm-unet', decoder: { architecture: 'sd-vae' } }), true);
    assert.equal(isLatentModelJson(JSON.parse(await readFile(join(MNIST, 'model.json'), 'utf8'))), false);
    assert.equal(isLatentModelJson(null), false);
  });

  it('the shipped pixel model is not latent', async () => {
    assert.equal((await denoiserFacts(MNIST)).latent, false);
  });

  it('the manifest records the clip: on for a pixel model, off for a latent one, off with --no-clip-denoised', () => {
    assert.equal(buildRunSpec(flags, pixel, undefined, meta).sampler.clipDenoised, true);
    assert.equal(buildRunSpec(flags, latent, undefined, meta).sampler.clipDenoised, false);
    assert.equal(buildRunSpec({ ...flags, clipDenoised: false }, pixel, undefined, meta).sampler.clipDenoised, false);
    assert.equal(
      buildRunSpec({ ...flags, sampler: 'ddim', steps: 50, clipDenoised: false }, pixel, undefined, meta).sampler.clipDenoised,
      false,
    );
    assert.equal(buildRunSpec({ ...flags, sampler: 'ddpm', steps: 50 }, latent, undefined, meta).sampler.clipDenoised, false);
  });
});
