/** Opens the MNIST feature network of a model directory on onnx (its built graph) or tfjs. */
import { describeBackend, initBackend } from '@diffq/diffusion';
import { type FeatureNetwork, type MnistClassifierDirectory, mnistClassifierInfo, TfjsMnistClassifier } from '@diffq/networks';
import type { ProviderChoice } from './execution-provider.ts';
import { buildMnistClassifierOnnx } from './mnist-classifier-graph.ts';
import { OnnxFeatureNetwork } from './onnx-feature-network.ts';
import type { EngineChoice } from './open-engine.ts';

/** Digits per onnx run: ~0.2 MB of activations each. */
const ONNX_CHUNK = 500;

async function openOnnx(directory: MnistClassifierDirectory, threads?: number, provider?: ProviderChoice): Promise<FeatureNetwork> {
  const config = directory.mnistClassifier;
  return OnnxFeatureNetwork.create(
    {
      info: mnistClassifierInfo(config),
      // Built in milliseconds (a few hundred thousand weights), so not cached.
      model: buildMnistClassifierOnnx(config, directory.weights),
      outputs: { features: 'features', logits: 'logits' },
      input: (images, shape) => ({ data: Float32Array.from(images), dims: [...shape] }),
      chunk: ONNX_CHUNK,
    },
    { threads, provider },
  );
}

async function openTfjs(directory: MnistClassifierDirectory, why: string): Promise<FeatureNetwork> {
  const backend = await initBackend();
  return new TfjsMnistClassifier(directory.mnistClassifier, directory.weights, `tfjs (${why}); ${describeBackend(backend)}`);
}

/** `auto` takes onnx when onnxruntime loads and tfjs otherwise; the description says which and why. */
export async function openMnistClassifier(
  directory: MnistClassifierDirectory,
  options: { engine?: EngineChoice; threads?: number; provider?: ProviderChoice } = {},
): Promise<FeatureNetwork> {
  const engine = options.engine ?? 'auto';
  switch (engine) {
    case 'onnx':
      return openOnnx(directory, options.threads, options.provider);
    case 'tfjs':
      return openTfjs(directory, 'as asked');
    case 'auto':
      try {
        return await openOnnx(directory, options.threads, options.provider);
      } catch (e) {
        return openTfjs(directory, `onnx did not load: ${(e as Error).message.split('\n')[0]}`);
      }
    default:
      throw new Error(`feature engine is "${engine}"; accepted: auto, onnx, tfjs`);
  }
}
