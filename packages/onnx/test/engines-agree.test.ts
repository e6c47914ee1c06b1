import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  classifierGradient,
  classifierParameterShapes,
  createClassifier,
  createProcess,
  type Guidance,
  initBackend,
  parseClassifierConfig,
  parseDiffusionConfig,
  parseUNetConfig,
  randomStateDict,
  runSampler,
  type SamplerSettings,
  SeedNoiseSource,
  type Shape4,
  unetParameterShapes,
} from '@diffq/diffusion';
import { type EngineChoice, openEngine } from '@diffq/onnx';

await initBackend();

const unet = parseUNetConfig({
  image_size: 16,
  num_channels: 32,
  num_res_blocks: 1,
  channel_mult: '1,2',
  attention_resolutions: '8',
  num_head_channels: 32,
  use_scale_shift_norm: true,
  resblock_updown: true,
  use_new_attention_order: true,
  learn_sigma: true,
  class_cond: true,
  num_classes: 4,
});
const unetWeights = randomStateDict(unetParameterShapes(unet), 11);
const classifierConfig = parseClassifierConfig({
  image_size: 16,
  classifier_width: 32,
  classifier_depth: 1,
  classifier_attention_resolutions: '8',
  classifier_use_scale_shift_norm: true,
  classifier_resblock_updown: true,
  classifier_pool: 'attention',
  channel_mult: '1,2',
  out_channels: 4,
  num_head_channels: 32,
});
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

function relativeL2(out: Float32Array, ref: Float32Array): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < ref.length; i++) {
    diff += (out[i] - ref[i]) ** 2;
    norm += ref[i] ** 2;
  }
  return Math.sqrt(diff / norm);
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
    const classifier = createClassifier(classifierConfig, randomStateDict(classifierParameterShapes(classifierConfig), 12));
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
