/**
 * Kind `training_loss`: DDPM-IP's per-sample training loss on the case's UNet. With the tfjs engine the
 * differentiable path (trainingLosses with the synchronous UNet forward) is the one checked.
 */
import {
  createProcess,
  engineTrainingLosses,
  modelTimesteps,
  parseDiffusionConfig,
  type TrainingBatch,
  type TrainingLosses,
  trainingLosses,
} from '@diffq/diffusion';
import { TfjsEngine, unetForward } from '@diffq/networks';
import * as tf from '@tensorflow/tfjs';
import type { KindRunner } from '../case.ts';
import { caseEngine } from './case-engine.ts';
import { indices, take, tensor4d } from './case-tensors.ts';
import { checkDerived } from './diffusion-derived.ts';

export const run: KindRunner = async (c, ctx) => {
  const config = parseDiffusionConfig(c.json.diffusion);
  const process = createProcess(config);
  checkDerived(c, config, process);
  const t = indices(c, 't');
  const batch: TrainingBatch = {
    xStart: tensor4d(c, 'x_start'),
    t,
    noise: tensor4d(c, 'noise'),
    perturbNoise: tensor4d(c, 'perturb_noise'),
    y: c.json.inputs.includes('y') ? tf.tensor1d(Int32Array.from(indices(c, 'y')), 'int32') : undefined,
  };
  const engine = await caseEngine(c, ctx);
  try {
    const losses: TrainingLosses =
      engine instanceof TfjsEngine
        ? trainingLosses(process, (x, ts, y) => unetForward(engine.unet, x, ts, y), batch)
        : await engineTrainingLosses(process, engine, batch);
    return {
      x_t: take(losses.xT),
      model_output: take(losses.modelOutput),
      model_timesteps: modelTimesteps(process, t),
      loss: take(losses.loss),
      ...(losses.mse ? { mse: take(losses.mse) } : {}),
      ...(losses.vb ? { vb: take(losses.vb) } : {}),
    };
  } finally {
    engine.dispose();
    tf.dispose([batch.xStart, batch.noise, batch.perturbNoise, ...(batch.y ? [batch.y] : [])]);
  }
};
