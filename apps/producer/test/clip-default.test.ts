import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeRandomLatentModel } from '../../../test/fixtures/random-latent-model.ts';
import { buildRunSpec, type LaunchFlags } from '../src/launch-flags.ts';
import { type DenoiserFacts, denoiserFacts } from '../src/model-facts.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const MNIST = join(REPO, 'models', 'mnist');
const flags: LaunchFlags = { model: '/models/m', seeds: '0-9', store: 'file://./runs', sampler: 'dpm++2m', steps: 10 };
const meta = { now: new Date('2026-01-01T00:00:00Z'), codeVersion: 'test' };

describe('the default of --clip-denoised follows the model’s kind', () => {
  let dir: string;
  let pixel: DenoiserFacts;
  let latent: DenoiserFacts;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-clip-default-'));
    const written = await writeRandomLatentModel(dir);
    pixel = await denoiserFacts(MNIST);
    latent = await denoiserFacts(written.model);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the shipped model as a pixel model and a DiT with its decoder as a latent one', () => {
    assert.equal(pixel.latent, undefined);
    assert.notEqual(latent.latent, undefined);
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
    assert.equal(
      buildRunSpec({ ...flags, sampler: 'ddim', steps: 50, clipDenoised: true }, latent, undefined, meta).sampler.clipDenoised,
      true,
    );
  });
});
