import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifierGradient,
  createClassifier,
  createProcess,
  type Guidance,
  initBackend,
  parseClassifierConfig,
  parseDiffusionConfig,
  parseUNetConfig,
  randomClassifierWeights,
  randomUNetWeights,
  runSampler,
  type SamplerSettings,
  SeedNoiseSource,
  type Shape4,
} from '@diffq/diffusion';
import { type EngineChoice, openEngine } from '@diffq/onnx';
import { CLASSIFIER_16, relativeL2, UNET_16 } from '../../diffusion/test/fixtures.ts';

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

describe('the onnx and tfjs engines', () => {
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
