/**
 * Opens the feature network of a model directory (model.json + weights.safetensors, like a UNet's)
 * by its model.json `architecture`. The Inception graph is cached in the directory's `.diffq-onnx/`
 * (graph-cache.ts), so only the first open of a directory builds it.
 */
import { join } from 'node:path';
import {
  checkPreprocess,
  DINOV2_ARCHITECTURE,
  type Dinov2Directory,
  type FeatureNetwork,
  INCEPTION_BLOCK_DIMS,
  type InceptionDims,
  type InceptionDirectory,
  type InceptionPreprocess,
  MODEL_JSON,
  readModelDirectory,
} from '@diffq/networks';
import { buildDinov2Onnx, DINOV2_GRAPH_VERSION } from './dinov2-graph.ts';
import type { ProviderChoice } from './execution-provider.ts';
import { cachedGraph } from './graph-cache.ts';
import { buildInceptionOnnx, INCEPTION_GRAPH_VERSION } from './inception-graph.ts';
import { InceptionOnnxNetwork } from './inception-network.ts';
import { openDinov2Network } from './open-dinov2.ts';
import type { EngineChoice } from './open-engine.ts';
import { openMnistClassifier } from './open-mnist-classifier.ts';

/** model.json architectures that are feature networks. */
export const FEATURE_ARCHITECTURES = ['fid-inception-v3', 'mnist-classifier', DINOV2_ARCHITECTURE] as const;

export interface OpenFeatureNetworkOptions {
  /** Inception: the resize and scaling (default model.json's `preprocess`, else `pytorch-fid`). */
  preprocess?: InceptionPreprocess;
  /** Inception: which block's pooled output is `features` (default 2048, pool3). */
  dims?: InceptionDims;
  /** `auto` (default) takes onnx when it loads; the Inception network runs on onnx only. */
  engine?: EngineChoice;
  /** CPU threads per run (default all cores). */
  threads?: number;
  /** On onnx: the execution provider (one that cannot load falls back, saying why in the description). */
  provider?: ProviderChoice;
}

async function openInception(dir: string, directory: InceptionDirectory, options: OpenFeatureNetworkOptions): Promise<FeatureNetwork> {
  if (options.engine === 'tfjs') {
    throw new Error('feature network fid-inception-v3 runs on the onnx engine only; accepted engines: auto, onnx');
  }
  const preprocess = checkPreprocess(options.preprocess ?? directory.preprocess, 'feature network preprocess');
  const dims = options.dims ?? 2048;
  if (!INCEPTION_BLOCK_DIMS.includes(dims))
    throw new Error(`feature network dims is ${dims}; accepted: ${INCEPTION_BLOCK_DIMS.join(', ')}`);
  const { graph, note } = await cachedGraph(dir, 'fid-inception-v3', { v: INCEPTION_GRAPH_VERSION }, () =>
    buildInceptionOnnx(directory.weights),
  );
  return InceptionOnnxNetwork.create(graph, { preprocess, dims, threads: options.threads, provider: options.provider, note });
}

async function openDinov2(dir: string, directory: Dinov2Directory, options: OpenFeatureNetworkOptions): Promise<FeatureNetwork> {
  if (options.engine === 'tfjs') {
    throw new Error(`feature network ${DINOV2_ARCHITECTURE} runs on the onnx engine only; accepted engines: auto, onnx`);
  }
  if (options.preprocess !== undefined || options.dims !== undefined) {
    throw new Error(
      `feature network ${DINOV2_ARCHITECTURE} has one preprocessing (edm2's) and one feature width; preprocess and dims are for fid-inception-v3`,
    );
  }
  const config = directory.dinov2;
  const { graph, note } = await cachedGraph(dir, DINOV2_ARCHITECTURE, { v: DINOV2_GRAPH_VERSION, ...config }, () =>
    buildDinov2Onnx(config, directory.weights),
  );
  return openDinov2Network(config, graph, { threads: options.threads, provider: options.provider, note });
}

/**
 * Opens `<dir>` as a feature network. Throws naming the file, the field or the weight that is wrong;
 * a directory of another kind (a UNet) is refused naming the architectures accepted.
 */
export async function openFeatureNetwork(dir: string, options: OpenFeatureNetworkOptions = {}): Promise<FeatureNetwork> {
  const directory = await readModelDirectory(dir);
  switch (directory.architecture) {
    case 'fid-inception-v3':
      return openInception(dir, directory, options);
    case 'mnist-classifier':
      return openMnistClassifier(directory, { engine: options.engine, threads: options.threads, provider: options.provider });
    case 'dinov2-vit-l14':
      return openDinov2(dir, directory, options);
    default:
      throw new Error(
        `${join(dir, MODEL_JSON)}: architecture is "${directory.architecture}", which is not a feature network; accepted: ${FEATURE_ARCHITECTURES.map((a) => `"${a}"`).join(', ')}`,
      );
  }
}
