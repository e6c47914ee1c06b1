import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UsageError } from '@diffq/contract';
import { writeRandomLatentModel } from '../../../test/fixtures/random-latent-model.ts';
import { writeRandomModel } from '../../../test/fixtures/random-model.ts';
import { planLaunch } from '../src/launch.ts';
import type { LaunchFlags } from '../src/launch-flags.ts';

async function refusal(flags: LaunchFlags): Promise<string[]> {
  try {
    await planLaunch(flags);
  } catch (error) {
    assert.ok(error instanceof UsageError, String(error));
    return [...error.problems];
  }
  assert.fail('planLaunch should have refused');
}

describe('diffq launch of a latent model', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'diffq-latent-launch-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("pins the decoder's digest, guides DiT's 3 channels and does not clip x̂_0 by default", async () => {
    const { model } = await writeRandomLatentModel(join(dir, 'ok'));
    const { spec } = await planLaunch({ model, seeds: '0-9', store: 'file://./runs', guidanceScale: 0.5, sampler: 'ddim', steps: 5 });
    assert.match(spec.model.decoder?.digest ?? '', /^[0-9a-f]{64}$/);
    assert.equal(spec.model.decoder?.uri, join(dir, 'ok', 'decoder'));
    assert.deepEqual(spec.guidance, { kind: 'classifier_free', scale: 0.5, guidedChannels: 3 });
    assert.ok(spec.sampler.kind === 'ddim' && spec.sampler.clipDenoised === false);
    const { spec: all } = await planLaunch({ model, seeds: '0-9', store: 'file://./runs', guidanceScale: 0.5, guidedChannels: 'all' });
    assert.deepEqual(all.guidance, { kind: 'classifier_free', scale: 0.5, guidedChannels: 'all' });
  });

  it('refuses a malformed decoder directory, naming model.json decoder', async () => {
    const { model, decoder } = await writeRandomLatentModel(join(dir, 'malformed'));
    unlinkSync(join(decoder, 'config.json'));
    const problems = await refusal({ model, seeds: '0-9', store: 'file://./runs' });
    assert.equal(problems.length, 1);
    assert.match(problems[0], /model\.json decoder "\.\.\/decoder": decoder directory .* has no config\.json/);
  });

  it("refuses a decoder whose latent channels are not the DiT's, naming both fields", async () => {
    const { model } = await writeRandomLatentModel(join(dir, 'mismatch'), { decoderLatentChannels: 8 });
    const problems = await refusal({ model, seeds: '0-9', store: 'file://./runs' });
    assert.match(
      problems[0],
      /model\.json decoder "\.\.\/decoder" decodes latents of 8 channels .* the DiT samples 4 \(model\.json model\.in_channels\)/,
    );
  });

  it('refuses --guided-channels on a pixel model, naming the flag', async () => {
    const model = await writeRandomModel(join(dir, 'pixel'), { numClasses: 3, attentionResolutions: '' });
    const problems = await refusal({ model, seeds: '0-9', store: 'file://./runs', guidanceScale: 1, guidedChannels: '3' });
    assert.equal(problems.length, 1);
    assert.match(problems[0], /^--guided-channels 3: applies to latent models .* pixel model \(architecture "adm-unet"\)/);
  });
});
