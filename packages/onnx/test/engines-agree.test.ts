import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createProcess,
  type Guidance,
  generate,
  initBackend,
  parseDiffusionConfig,
  runSampler,
  type SamplerSettings,
  SeedNoiseSource,
  type Shape4,
} from '@diffq/diffusion';
import {
  classifierGradient,
  createClassifier,
  parseClassifierConfig,
  parseUNetConfig,
  randomClassifierWeights,
  randomUNetWeights,
} from '@diffq/networks';
import { type EngineChoice, openEngine } from '@diffq/onnx';
import { CLASSIFIER_16, relativeL2, UNET_16 } from '../../../test/fixtures/small-networks.ts';

await initBackend();

const unet = parseUNetConfig({ ...UNET_16, num_classes: 4 });
const unetWeights = randomUNetWeights(unet, 11);
const classifierConfig = parseClassifierConfig({ ...CLASSIFIER_16, out_channels: 4 });
const process = createProcess(parseDiffusionConfig({ steps: 1000, noise_schedule: 'cosine', learn_sigma: true, timestep_respacing: '10' }));
const seeds = [0, 5, 11];
const shape: Shape4 = [seeds.length, 3, 16, 16];
const labels = Int32Array.from([1, 2, 0]);

async function sample(engineChoice: EngineChoice, sampler: SamplerSettings, guidance: Guidance): Promise<Float32Array> {
  const { engine } = await openEngine({ modelConfig: unet, weights: unetWeights, engine: engineChoice });
  try {
    const x0 = await runSampler({ engine, process, noise: new SeedNoiseSource(seeds), shape, labels, guidance }, sampler);
    const data = (await x0.data()) as Float32Array;
    x0.dispose();
    return data;
  } finally {
    engine.dispose();
  }
}

/** 8-bit images [N, H, W, C] of the seeds, as a worker writes them. */
async function images(engineChoice: EngineChoice, sampler: SamplerSettings, guidance: Guidance): Promise<Uint8Array> {
  const { engine } = await openEngine({ modelConfig: unet, weights: unetWeights, engine: engineChoice });
  try {
    return (await generate({ engine, process, noise: new SeedNoiseSource(seeds), shape, labels, guidance, sampler })).images;
  } finally {
    engine.dispose();
  }
}

describe('the onnx and tfjs engines', () => {
  // The engines agree to ~1e-6 before rounding, so a pixel whose value sits on a rounding boundary
  // may land one level apart: that, and no more, is what "the same image whatever the engine" means.
  it('draw 8-bit images of the same seeds that differ by at most one level per pixel', async () => {
    const sampler: SamplerSettings = { kind: 'ddim', eta: 0, clipDenoised: true };
    const guidance: Guidance = { type: 'classifier_free', w: 1.5, nullLabel: 3 };
    const onnx = await images('onnx', sampler, guidance);
    const tfjs = await images('tfjs', sampler, guidance);
    assert.equal(onnx.length, tfjs.length);
    let maxLevels = 0;
    let differing = 0;
    for (let i = 0; i < onnx.length; i++) {
      const d = Math.abs(onnx[i] - tfjs[i]);
      maxLevels = Math.max(maxLevels, d);
      if (d > 0) differing++;
    }
    console.log(`DDIM images: ${differing} of ${onnx.length} pixel values differ between onnx and tfjs, by at most ${maxLevels} level`);
    assert.ok(maxLevels <= 1, `a pixel differs by ${maxLevels} levels`);
    assert.ok(new Set(onnx).size > 16, 'the images should not be flat');
  });

  it('give the same DDPM sample for the same seeds within 1e-4 relative', async () => {
    const sampler: SamplerSettings = { kind: 'ddpm', clipDenoised: true };
    const guidance: Guidance = { type: 'classifier_free', w: 1.5, nullLabel: 3 };
    const onnx = await sample('onnx', sampler, guidance);
    const tfjs = await sample('tfjs', sampler, guidance);
    const rel = relativeL2(onnx, tfjs);
    console.log(`classifier-free DDPM: onnx vs tfjs relative L2 ${rel.toExponential(2)}`);
    assert.ok(rel < 1e-4, `relative L2 difference ${rel}`);
    assert.ok(onnx.some((v) => v !== 0));
  });

  it('give the same classifier-guided DDIM sample (UNet on the engine, classifier gradient on tfjs) within 1e-4 relative', async () => {
    const classifier = createClassifier(classifierConfig, randomClassifierWeights(classifierConfig, 12));
    try {
      const guidance: Guidance = { type: 'classifier', labels, condFn: async (x, t, y) => classifierGradient(classifier, x, t, y, 2) };
      const sampler: SamplerSettings = { kind: 'ddim', eta: 0.5, clipDenoised: false };
      const onnx = await sample('onnx', sampler, guidance);
      const tfjs = await sample('tfjs', sampler, guidance);
      const unguided = await sample('onnx', sampler, { type: 'none' });
      const rel = relativeL2(onnx, tfjs);
      console.log(`classifier-guided DDIM: onnx vs tfjs relative L2 ${rel.toExponential(2)}`);
      assert.ok(rel < 1e-4, `relative L2 difference ${rel}`);
      assert.ok(relativeL2(unguided, onnx) > 1e-3, 'the classifier gradient should move the sample');
    } finally {
      classifier.dispose();
    }
  });
});
