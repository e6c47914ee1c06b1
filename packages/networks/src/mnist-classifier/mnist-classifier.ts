/**
 * The MNIST feature network (mnist-classifier-config.ts) on TensorFlow.js, channels-last. Its
 * weights keep the PyTorch layout and key names of the equivalent module (docs/mnist-classifier.md):
 * `stages.<s>.<j>.weight|bias` [out, in, 3, 3], `fc.weight|bias` [hidden, C·h·w] over the
 * channel-major (NCHW) flattening, `out.weight|bias` [classes, hidden].
 */
import * as tf from '@tensorflow/tfjs';
import { conv2d, linear } from '../nn/layers.ts';
import { conv2dParams, linearParams, type ParamMap, type ParamSpec, paramShapes, uploadNetwork } from '../nn/params.ts';
import type { StoredTensor } from '../weights/safetensors.ts';
import { type MnistClassifierConfig, mnistClassifierFinalSide } from './mnist-classifier-config.ts';

/** Every parameter in registration order (stage by stage, then fc, then out). */
export function mnistClassifierParamSpecs(c: MnistClassifierConfig): ParamSpec[] {
  const specs: ParamSpec[] = [];
  let ch = c.inChannels;
  c.stageChannels.forEach((out, s) => {
    for (let j = 0; j < c.convsPerStage; j++) {
      specs.push(...conv2dParams(`stages.${s}.${j}`, ch, out, 3));
      ch = out;
    }
  });
  const side = mnistClassifierFinalSide(c);
  specs.push(...linearParams('fc', ch * side * side, c.hidden), ...linearParams('out', c.hidden, c.numClasses));
  return specs;
}

export function mnistClassifierParameterShapes(c: MnistClassifierConfig): Map<string, number[]> {
  return paramShapes(mnistClassifierParamSpecs(c));
}

/** A pixel byte k as the network reads it: k/127.5 − 1 ∈ [−1, 1], the diffusion models' image space. */
export const MNIST_CLASSIFIER_INPUT = { scale: 1 / 127.5, offset: -1 } as const;

export interface MnistClassifierOutputs {
  /** [N, hidden]: the hidden layer after its ReLU, the feature vector. */
  features: tf.Tensor2D;
  /** [N, classes]. */
  logits: tf.Tensor2D;
}

/**
 * The forward pass. x: [N, H, W, C] in the network's input space (MNIST_CLASSIFIER_INPUT), as float32.
 * Per stage: convsPerStage × (3×3 conv, padding 1, ReLU), then 2×2 max pool (stride 2, floor);
 * then the hidden layer relu(fc(flatten_NCHW(x))) and the logits out(features).
 */
export function mnistClassifierForward(c: MnistClassifierConfig, params: ParamMap, x: tf.Tensor4D): MnistClassifierOutputs {
  const p = (key: string) => params.get(key)!;
  let h = x;
  c.stageChannels.forEach((_, s) => {
    for (let j = 0; j < c.convsPerStage; j++) {
      h = tf.relu(conv2d(h, p(`stages.${s}.${j}.weight`) as tf.Tensor4D, p(`stages.${s}.${j}.bias`) as tf.Tensor1D));
    }
    h = tf.maxPool(h, 2, 2, 'valid');
  });
  // PyTorch flattens channel-major; the fc weight is stored for that order.
  const flat = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [h.shape[0], -1]) as tf.Tensor2D;
  const features = tf.relu(linear(flat, p('fc.weight') as tf.Tensor2D, p('fc.bias') as tf.Tensor1D));
  const logits = linear(features, p('out.weight') as tf.Tensor2D, p('out.bias') as tf.Tensor1D);
  return { features, logits };
}

/** uint8 NHWC images [N, H, W, C] as the network's input tensor (call inside tf.tidy). */
export function mnistClassifierInput(images: Uint8Array, shape: readonly [number, number, number, number]): tf.Tensor4D {
  const x = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) x[i] = images[i] * MNIST_CLASSIFIER_INPUT.scale + MNIST_CLASSIFIER_INPUT.offset;
  return tf.tensor4d(x, [...shape] as [number, number, number, number]);
}

export interface MnistClassifier {
  config: MnistClassifierConfig;
  params: ParamMap;
  dispose(): void;
}

/** Checks a state_dict against the configuration and uploads it. */
export function createMnistClassifier(config: MnistClassifierConfig, weights: ReadonlyMap<string, StoredTensor>): MnistClassifier {
  return { config, ...uploadNetwork(mnistClassifierParamSpecs(config), weights, 'MNIST classifier weights') };
}
