/**
 * guided-diffusion's EncoderUNetModel (unet.py, built by create_classifier): the noisy classifier
 * p_φ(y | x_t, t) of classifier guidance, and the gradient the samplers add to the reverse step.
 */
import * as tf from '@tensorflow/tfjs';
import { qkvAttention, silu } from '../nn/layers.ts';
import {
  conv1dParams,
  conv2dParams,
  countParams,
  groupNormParams,
  linearParams,
  type ParamMap,
  type ParamSpec,
  paramShapes,
  timeEmbedParams,
  torsoParams,
  uploadNetwork,
} from '../nn/params.ts';
import type { StoredTensor } from '../weights/safetensors.ts';
import { applyTorso, checkInputs, conv, dense, norm, timeEmbed } from './blocks.ts';
import type { ClassifierConfig } from './classifier-config.ts';
import { planTorso, type Torso } from './plan.ts';

/** Width of the hidden layer of the `spatial` and `spatial_v2` heads. */
const SPATIAL_HIDDEN = 2048;

/** The `spatial` heads read the spatial mean of every input block and of the middle block. */
function spatialFeatureSize(torso: Torso): number {
  return torso.inputBlockChans.reduce((a, b) => a + b, 0) + torso.ch;
}

function headParams(config: ClassifierConfig, torso: Torso): ParamSpec[] {
  const ch = torso.ch;
  const k = config.outChannels;
  switch (config.pool) {
    case 'adaptive':
      return [...groupNormParams('out.0', ch), ...conv2dParams('out.3', ch, k, 1)];
    case 'attention': {
      const side = Math.floor(config.imageSize / torso.ds);
      return [
        ...groupNormParams('out.0', ch),
        { key: 'out.2.positional_embedding', shape: [ch, side * side + 1], layout: 'tokens' },
        ...conv1dParams('out.2.qkv_proj', ch, 3 * ch),
        ...conv1dParams('out.2.c_proj', ch, k),
      ];
    }
    case 'spatial':
      return [...linearParams('out.0', spatialFeatureSize(torso), SPATIAL_HIDDEN), ...linearParams('out.2', SPATIAL_HIDDEN, k)];
    case 'spatial_v2':
      return [
        ...linearParams('out.0', spatialFeatureSize(torso), SPATIAL_HIDDEN),
        ...groupNormParams('out.1', SPATIAL_HIDDEN),
        ...linearParams('out.3', SPATIAL_HIDDEN, k),
      ];
  }
}

/** Every state_dict key of EncoderUNetModel(config) with its PyTorch shape, in registration order. */
export function classifierParamSpecs(config: ClassifierConfig): ParamSpec[] {
  const torso = planTorso(config);
  return [...timeEmbedParams(config.modelChannels, torso), ...torsoParams(torso), ...headParams(config, torso)];
}

export function classifierParameterShapes(config: ClassifierConfig): Map<string, number[]> {
  return paramShapes(classifierParamSpecs(config));
}

export function classifierParameterCount(config: ClassifierConfig): number {
  return countParams(classifierParamSpecs(config));
}

/** An EncoderUNetModel with its parameters on the tfjs backend. */
export interface NoisyClassifier {
  readonly config: ClassifierConfig;
  readonly torso: Torso;
  readonly params: ParamMap;
  dispose(): void;
}

/** Checks a state_dict against the configuration and uploads it (see createUNet). */
export function createClassifier(
  config: ClassifierConfig,
  stateDict: ReadonlyMap<string, StoredTensor>,
  what = 'classifier weights',
): NoisyClassifier {
  return { config, torso: planTorso(config), ...uploadNetwork(classifierParamSpecs(config), stateDict, what) };
}

/**
 * AttentionPool2d (CLIP's): tokens = [mean over positions, positions…] + positional_embedding,
 * multi-head attention in the new q/k/v order with C/num_head_channels heads, c_proj, token 0.
 * x: [N, H, W, C] → [N, K].
 */
function attentionPool(p: ParamMap, config: ClassifierConfig, x: tf.Tensor4D): tf.Tensor2D {
  const [n, h, w, c] = x.shape;
  const tokens: tf.Tensor3D = tf.reshape(x, [n, h * w, c]);
  const withMean: tf.Tensor3D = tf.add(tf.concat([tf.mean(tokens, 1, true), tokens], 1), p.get('out.2.positional_embedding')!);
  const attended = qkvAttention(dense(p, 'out.2.qkv_proj', withMean), c / config.numHeadChannels);
  // c_proj acts on each token alone, so projecting token 0 only gives the same logits.
  const first: tf.Tensor2D = tf.reshape(tf.slice(attended, [0, 0, 0], [n, 1, c]), [n, c]);
  return dense(p, 'out.2.c_proj', first);
}

/**
 * EncoderUNetModel.forward(x, timesteps): the classifier's logits.
 * x: [N, in_channels, H, W] float32; timesteps: [N], what the network receives. Returns [N, K].
 */
export function classifierLogits(classifier: NoisyClassifier, x: tf.Tensor4D, timesteps: tf.Tensor1D): tf.Tensor2D {
  const { config, torso, params: p } = classifier;
  const n = checkInputs('classifier', config, x, timesteps);
  const embSilu = silu(timeEmbed(p, timesteps, config.modelChannels));
  const spatial = config.pool === 'spatial' || config.pool === 'spatial_v2';
  const features: tf.Tensor2D[] = [];
  const hid = applyTorso(p, torso, x, embSilu, spatial ? (h) => features.push(tf.mean(h, [1, 2])) : undefined);
  switch (config.pool) {
    case 'adaptive': {
      const pooled: tf.Tensor4D = tf.mean(silu(norm(p, 'out.0', hid)), [1, 2], true);
      return tf.reshape(conv(p, 'out.3', pooled), [n, config.outChannels]);
    }
    case 'attention':
      return attentionPool(p, config, silu(norm(p, 'out.0', hid)));
    case 'spatial':
      features.push(tf.mean(hid, [1, 2]));
      return dense(p, 'out.2', tf.relu(dense(p, 'out.0', tf.concat(features, 1))));
    case 'spatial_v2':
      features.push(tf.mean(hid, [1, 2]));
      return dense(p, 'out.3', silu(norm(p, 'out.1', dense(p, 'out.0', tf.concat(features, 1)))));
  }
}

/**
 * The classifier-guidance gradient (cond_fn of guided-diffusion's classifier_sample.py):
 * ∇ₓ Σᵢ log softmax(f_φ(xᵢ, tᵢ))[yᵢ] · scale. Each sample's gradient depends only on that sample.
 * x: [N, C, H, W]; modelTimesteps: [N] as the network receives them (the mapped, possibly rescaled
 * timestep, the same the UNet gets); y: [N] labels. Returns [N, C, H, W]; the caller disposes it,
 * the inputs are left alone.
 */
export function classifierGradient(
  classifier: NoisyClassifier,
  x: tf.Tensor4D,
  modelTimesteps: tf.Tensor1D,
  y: tf.Tensor1D,
  scale: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const selected = tf.cast(tf.oneHot(tf.cast(y, 'int32'), classifier.config.outChannels), 'float32');
    const grad = tf.grad((xIn) =>
      tf.sum(tf.mul(tf.logSoftmax(classifierLogits(classifier, xIn as tf.Tensor4D, modelTimesteps)), selected)),
    );
    return tf.mul(grad(x), scale) as tf.Tensor4D;
  });
}
