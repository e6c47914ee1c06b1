/**
 * guided-diffusion's UNetModel (unet.py) as a function of its parameters: the denoiser ε_θ(x_t, t, y).
 * Differentiable end to end (no tf.layers state), channels-last inside, PyTorch layout outside.
 */
import * as tf from '@tensorflow/tfjs';
import { embedding, silu } from '../nn/layers.ts';
import {
  blocksParams,
  conv2dParams,
  countParams,
  groupNormParams,
  type ParamMap,
  type ParamSpec,
  paramShapes,
  timeEmbedParams,
  torsoParams,
  uploadNetwork,
} from '../nn/params.ts';
import type { StoredTensor } from '../weights/safetensors.ts';
import { applyBlock, applyTorso, checkInputs, conv, norm, timeEmbed } from './blocks.ts';
import { type Block, planOutputBlocks, planTorso, type Torso } from './plan.ts';
import type { UNetConfig } from './unet-config.ts';

export interface UNetPlan {
  torso: Torso;
  outputBlocks: Block[];
}

export function planUNet(config: UNetConfig): UNetPlan {
  const torso = planTorso(config);
  return { torso, outputBlocks: planOutputBlocks(config, torso) };
}

/** Every state_dict key of UNetModel(config) with its PyTorch shape, in registration order. */
export function unetParamSpecs(config: UNetConfig): ParamSpec[] {
  const { torso, outputBlocks } = planUNet(config);
  const e = torso.timeEmbedDim;
  return [
    ...timeEmbedParams(config.modelChannels, torso),
    ...(config.numClasses === null ? [] : [{ key: 'label_emb.weight', shape: [config.numClasses, e], layout: 'embedding' as const }]),
    ...torsoParams(torso),
    ...blocksParams('output_blocks', outputBlocks, e),
    ...groupNormParams('out.0', torso.inputCh),
    ...conv2dParams('out.2', torso.inputCh, config.outChannels, 3),
  ];
}

/** The state_dict keys and PyTorch shapes UNetModel(config) has, e.g. for writing a checkpoint. */
export function unetParameterShapes(config: UNetConfig): Map<string, number[]> {
  return paramShapes(unetParamSpecs(config));
}

export function unetParameterCount(config: UNetConfig): number {
  return countParams(unetParamSpecs(config));
}

/** A UNetModel with its parameters on the tfjs backend. */
export interface UNet {
  readonly config: UNetConfig;
  readonly plan: UNetPlan;
  readonly params: ParamMap;
  /** Frees the parameter tensors. */
  dispose(): void;
}

/**
 * Checks a state_dict (PyTorch key names and shapes; F32, F16, BF16 or F64) against the
 * configuration and uploads it. Throws naming the first missing, unexpected or mis-shaped key.
 */
export function createUNet(config: UNetConfig, stateDict: ReadonlyMap<string, StoredTensor>, what = 'UNet weights'): UNet {
  return { config, plan: planUNet(config), ...uploadNetwork(unetParamSpecs(config), stateDict, what) };
}

/**
 * UNetModel.forward(x, timesteps, y).
 * x: [N, in_channels, H, W] float32; timesteps: [N], what the network receives (may be fractional);
 * y: [N] int32 labels, required exactly when the model is class-conditional.
 * Returns [N, out_channels, H, W]. Call inside tf.tidy (or dispose the intermediates' owner scope).
 */
export function unetForward(unet: UNet, x: tf.Tensor4D, timesteps: tf.Tensor1D, y?: tf.Tensor1D): tf.Tensor4D {
  const { config, params: p, plan } = unet;
  const n = checkInputs('UNet', config, x, timesteps);
  if ((y !== undefined) !== (config.numClasses !== null)) {
    throw new Error(
      config.numClasses === null
        ? 'UNet: labels y were given but the model is unconditional (class_cond false)'
        : `UNet: the model is class-conditional (${config.numClasses} classes) and needs labels y`,
    );
  }
  let emb = timeEmbed(p, timesteps, config.modelChannels);
  if (y !== undefined) {
    if (y.shape[0] !== n) throw new Error(`UNet labels y has ${y.shape[0]} entries for a batch of ${n}`);
    emb = tf.add(emb, embedding(p.get('label_emb.weight') as tf.Tensor2D, y));
  }
  const embSilu = silu(emb);
  const skips: tf.Tensor4D[] = [];
  let hid = applyTorso(p, plan.torso, x, embSilu, (h) => skips.push(h));
  plan.outputBlocks.forEach((block, i) => {
    hid = applyBlock(p, `output_blocks.${i}`, block, tf.concat([hid, skips.pop()!], 3), embSilu);
  });
  const out = conv(p, 'out.2', silu(norm(p, 'out.0', hid)));
  return tf.transpose(out, [0, 3, 1, 2]);
}
