/** Kind `sample_loop`: a whole DDPM / DDIM loop on the case's UNet with injected noise and guidance. */
import {
  createProcess,
  type Guidance,
  InjectedNoise,
  parseDiffusionConfig,
  runSampler,
  type SamplerSettings,
  type Shape4,
} from '@diffq/diffusion';
import { classifierGradient, createClassifier, parseClassifierConfig } from '@diffq/networks';
import type { KindRunner } from '../case.ts';
import { caseEngine } from './case-engine.ts';
import { indices } from './case-tensors.ts';
import { checkDerived } from './diffusion-derived.ts';

interface LoopSampler {
  loop: 'p_sample_loop' | 'ddim_sample_loop';
  eta: number | null;
  clip_denoised: boolean;
  shape: Shape4;
  guidance:
    | { type: 'none' }
    | { type: 'classifier_free'; w: number; null_label: number }
    | { type: 'classifier'; classifier_scale: number; model_receives_y: boolean };
}

export const run: KindRunner = async (c, ctx) => {
  const config = parseDiffusionConfig(c.json.diffusion);
  const process = createProcess(config);
  checkDerived(c, config, process);
  const s = c.json.sampler as unknown as LoopSampler;
  const sampler: SamplerSettings =
    s.loop === 'p_sample_loop'
      ? { kind: 'ddpm', clipDenoised: s.clip_denoised }
      : { kind: 'ddim', eta: s.eta ?? 0, clipDenoised: s.clip_denoised };
  const y = c.json.inputs.includes('y') ? Int32Array.from(indices(c, 'y')) : undefined;
  const classifier =
    s.guidance.type === 'classifier'
      ? createClassifier(parseClassifierConfig(c.json.classifier, 'classifier'), c.weights('classifier'))
      : undefined;
  let guidance: Guidance = { type: 'none' };
  if (s.guidance.type === 'classifier_free') guidance = { type: 'classifier_free', w: s.guidance.w, nullLabel: s.guidance.null_label };
  if (s.guidance.type === 'classifier' && classifier) {
    if (!y) throw new Error(`case ${c.json.name}: classifier guidance without input y`);
    const scale = s.guidance.classifier_scale;
    guidance = { type: 'classifier', labels: y, condFn: async (x, t, labels) => classifierGradient(classifier, x, t, labels, scale) };
  }
  const modelReceivesY = s.guidance.type === 'classifier' ? s.guidance.model_receives_y : y !== undefined;
  const engine = await caseEngine(c, ctx);
  const stepSize = s.shape.reduce((a, b) => a * b, 1);
  const S = process.numTimesteps;
  const xSteps = new Float32Array(S * stepSize);
  const predXstart = new Float32Array(S * stepSize);
  const modelTimesteps = new Float32Array(S);
  try {
    const noise = new InjectedNoise(c.tensor('noise_T').data as Float32Array, c.tensor('noise_steps').data as Float32Array, s.shape);
    const sample = await runSampler(
      {
        engine,
        process,
        noise,
        shape: s.shape,
        labels: modelReceivesY ? y : undefined,
        guidance,
        onStep: async (step) => {
          xSteps.set(await step.x.data(), step.i * stepSize);
          predXstart.set(await step.predXstart.data(), step.i * stepSize);
          modelTimesteps[step.i] = step.modelTimestep;
        },
      },
      sampler,
    );
    const data = (await sample.data()) as Float32Array;
    sample.dispose();
    return { sample: data, x_steps: xSteps, pred_xstart: predXstart, model_timesteps: modelTimesteps, use_timesteps: process.timestepMap };
  } finally {
    engine.dispose();
    classifier?.dispose();
  }
};
