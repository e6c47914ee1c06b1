/** Kind name → runner. Each kind lives in its own module beside this one. */
import type { KindRunner } from '../case.ts';
import { run as classifierForward } from './classifier_forward.ts';
import { run as dinov2Features } from './dinov2_features.ts';
import { run as ditForward } from './dit_forward.ts';
import { run as frechet } from './frechet.ts';
import { run as inceptionFeatures } from './inception_features.ts';
import { run as inceptionScore } from './inception_score.ts';
import { run as latentLoop } from './latent_loop.ts';
import { run as pMeanVariance } from './p_mean_variance.ts';
import { run as philoxNoise } from './philox_noise.ts';
import { run as qSampleAndPosterior } from './q_sample_and_posterior.ts';
import { run as sampleLoop } from './sample_loop.ts';
import { run as schedule } from './schedule.ts';
import { run as solverLoop } from './solver_loop.ts';
import { run as trainingLoss } from './training_loss.ts';
import { run as unetForward } from './unet_forward.ts';
import { run as vaeDecode } from './vae_decode.ts';

export const KINDS: Record<string, KindRunner> = {
  schedule,
  q_sample_and_posterior: qSampleAndPosterior,
  p_mean_variance: pMeanVariance,
  unet_forward: unetForward,
  classifier_forward: classifierForward,
  sample_loop: sampleLoop,
  solver_loop: solverLoop,
  training_loss: trainingLoss,
  frechet,
  inception_score: inceptionScore,
  inception_features: inceptionFeatures,
  dinov2_features: dinov2Features,
  philox_noise: philoxNoise,
  dit_forward: ditForward,
  vae_decode: vaeDecode,
  latent_loop: latentLoop,
};
