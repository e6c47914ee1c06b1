/** Kind `q_sample_and_posterior`: the forward process, its posterior and the ε ↔ x_0 conversions. */
import {
  createProcess,
  parseDiffusionConfig,
  predEpsFromXstart,
  predXstartFromEps,
  qMeanVariance,
  qPosteriorMeanVariance,
  qSample,
} from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';
import type { KindRunner } from '../case.ts';
import { indices, take, tensor4d } from './case-tensors.ts';

export const run: KindRunner = async (c) => {
  const p = createProcess(parseDiffusionConfig(c.json.diffusion));
  const t = indices(c, 't');
  const xStart = tensor4d(c, 'x_start');
  const noise = tensor4d(c, 'noise');
  const eps = tensor4d(c, 'eps');
  const xT = qSample(p, xStart, t, noise);
  const q = qMeanVariance(p, xStart, t);
  const post = qPosteriorMeanVariance(p, xStart, xT, t);
  const outputs = {
    q_mean: take(q.mean),
    q_variance: take(q.variance),
    q_log_variance: take(q.logVariance),
    posterior_mean: take(post.mean),
    posterior_variance: take(post.variance),
    posterior_log_variance_clipped: take(post.logVariance),
    pred_xstart_from_eps: take(predXstartFromEps(p, xT, t, eps)),
    pred_eps_from_xstart: take(predEpsFromXstart(p, xT, t, xStart)),
    q_sample: take(xT),
  };
  tf.dispose([xStart, noise, eps]);
  return outputs;
};
