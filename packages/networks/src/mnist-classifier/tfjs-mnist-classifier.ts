/** The MNIST feature network on TensorFlow.js, for any backend (the onnx engine has its own graph). */
import * as tf from '@tensorflow/tfjs';
import { checkFeatureImages } from '../features/feature-input.ts';
import type { FeatureNetwork, FeatureNetworkInfo, FeatureOutputs } from '../features/feature-network.ts';
import type { StoredTensor } from '../weights/safetensors.ts';
import { createMnistClassifier, type MnistClassifier, mnistClassifierForward, mnistClassifierInput } from './mnist-classifier.ts';
import type { MnistClassifierConfig } from './mnist-classifier-config.ts';

/** What an mnist-classifier gives the statistics: the hidden layer as features, the class logits. */
export function mnistClassifierInfo(c: MnistClassifierConfig): FeatureNetworkInfo {
  return {
    architecture: 'mnist-classifier',
    featureDim: c.hidden,
    logitDim: c.numClasses,
    spatialDim: null,
    channels: [c.inChannels],
    imageSize: c.imageSize,
    preprocess: 'none',
    numClasses: c.numClasses,
  };
}

/** Images per forward: bounds the activations held at once (~0.5 MB per 28×28 digit). */
const CHUNK = 250;

export class TfjsMnistClassifier implements FeatureNetwork {
  readonly info: FeatureNetworkInfo;
  /** The tfjs backend it was built on, as TfjsEngine names it. */
  readonly provider = tf.getBackend();
  #net: MnistClassifier | undefined;

  constructor(
    config: MnistClassifierConfig,
    weights: ReadonlyMap<string, StoredTensor>,
    readonly description = `tfjs ${tf.getBackend()}`,
  ) {
    this.info = mnistClassifierInfo(config);
    this.#net = createMnistClassifier(config, weights);
  }

  async extract(images: Uint8Array, shape: readonly [number, number, number, number]): Promise<FeatureOutputs> {
    const net = this.#net;
    if (!net) throw new Error('TfjsMnistClassifier: used after dispose()');
    checkFeatureImages(this.info, images, shape);
    const [n, h, w, c] = shape;
    const features = new Float32Array(n * this.info.featureDim);
    const logits = new Float32Array(n * net.config.numClasses);
    for (let from = 0; from < n; from += CHUNK) {
      const count = Math.min(CHUNK, n - from);
      const out = tf.tidy(() => {
        const x = mnistClassifierInput(images.subarray(from * h * w * c, (from + count) * h * w * c), [count, h, w, c]);
        const r = mnistClassifierForward(net.config, net.params, x);
        return [r.features, r.logits];
      });
      const [f, l] = await Promise.all(out.map((t) => t.data()));
      tf.dispose(out);
      features.set(f as Float32Array, from * this.info.featureDim);
      logits.set(l as Float32Array, from * net.config.numClasses);
    }
    return { features, logits };
  }

  dispose(): void {
    this.#net?.dispose();
    this.#net = undefined;
  }
}
