/** Kind `p_mean_variance`: the reverse-step Gaussian from a given model output. */
import { createProcess, modelTimesteps, parseDiffusionConfig, pMeanVariance } from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';
import type { KindRunner } from '../case.ts';
import { indices, take, tensor4d } from './case-tensors.ts';

export const run: KindRunner = async (c) => {
  const p = createProcess(parseDiffusionConfig(c.json.diffusion));
  const t = indices(c, 't');
  const x = tensor4d(c, 'x');
  const modelOutput = tensor4d(c, 'model_output');
  const out = pMeanVariance(p, modelOutput, x, t, { clipDenoised: Boolean(c.json.sampler?.clip_denoised) });
  tf.dispose([x, modelOutput]);
  return {
    mean: take(out.mean),
    variance: take(out.variance),
    log_variance: take(out.logVariance),
    pred_xstart: take(out.predXstart),
    model_timesteps: modelTimesteps(p, t),
  };
};
