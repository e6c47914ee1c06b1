export type { EngineChoice } from '@diffq/onnx';

/**
 * The model a worker serves: loaded once at start (docs/design.md#queue: one queue per model), with its
 * denoiser engine timed per forward pass, and the classifiers of classifier-guided runs and the
 * feature networks of runs with statistics loaded on first use and kept.
 */
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SamplingPrecision } from '@diffq/contract';
import { type CondFn, type DenoiserEngine, initBackend } from '@diffq/diffusion';
import {
  type ClassifierConfig,
  classifierGradient,
  type DecoderDirectory,
  type DenoiserDirectory,
  type DenoiserShape,
  type DiTDirectory,
  decoderImageSize,
  denoiserShape,
  type FeatureNetwork,
  isLatentModel,
  loadClassifier,
  readDecoderDirectory,
  readModelDirectory,
} from '@diffq/networks';
import {
  type Decoder,
  ENGINE_CHOICES,
  type EngineChoice,
  openDecoder,
  openModelEngine,
  PROVIDER_CHOICES,
  type ProviderChoice,
} from '@diffq/onnx';
import { defaultModelId } from '@diffq/queue';
import { fetchModel } from '@diffq/storage';
import type * as tf from '@tensorflow/tfjs';
import { type FeatureNetworkRef, openFeatureNetworkRef, type PinnedRef } from './feature-network-ref.ts';
import type { WorkerMetrics } from './metrics.ts';

/** A classifier as the manifest names it. */
export type ClassifierRef = PinnedRef;
export type { FeatureNetworkRef };

export const ENGINES = ENGINE_CHOICES;
export const PROVIDERS = PROVIDER_CHOICES;

export interface LoadedClassifier {
  config: ClassifierConfig;
  /** cond_fn of classifier_sample.py with this scale. */
  condFn(scale: number): CondFn;
}

/**
 * A latent model's decoder (model.json `decoder`): z [n, C, h, w] → uint8 NHWC images, exactly
 * sample_ddp.py's decode and conversion. Its digest is pinned by the manifest like the denoiser's.
 */
export interface LatentDecoder {
  /** The decoder directory as model.json names it, resolved. */
  uri: string;
  /** sha256 of the decoder's weights, as diffq launch recorded it (manifest model.decoder.digest). */
  digest: string;
  description: string;
  /** The onnx execution provider that loaded it (a fallback's, not the one asked for). */
  provider: string;
  /** What the decoder computes in: the denoiser's precision where the decoder's provider has half-precision kernels. */
  precision: SamplingPrecision;
  /** [H, W, C] of the image an h × w latent decodes to. */
  imageShape(h: number, w: number): [number, number, number];
  decode(z: Float32Array, n: number, h: number, w: number): Promise<Uint8Array>;
  dispose(): void;
}

export interface ModelRuntime {
  /** Queue name suffix: `sample.<id>`. */
  id: string;
  uri: string;
  /** sha256 of weights.safetensors. */
  digest: string;
  directory: DenoiserDirectory | DiTDirectory;
  /** What the denoiser samples (a latent model's latents) and which labels it takes. */
  shape: DenoiserShape;
  /** Set for a latent model: samples are latents, decoded into the images the run writes. */
  decoder?: LatentDecoder;
  /** The denoiser, its forward passes timed into diffq_denoiser_step_seconds. */
  engine: DenoiserEngine;
  loadSeconds: number;
  /** Which engine was opened and why (onnx, or tfjs and the reason onnx was passed over). */
  why: string;
  /** What the denoiser computes in; a run keeps one (run-precision.ts). */
  precision: SamplingPrecision;
  classifier(ref: ClassifierRef): Promise<LoadedClassifier>;
  /** The feature network of a run with statistics (manifest statistics.features), opened once per directory. */
  featureNetwork(ref: FeatureNetworkRef): Promise<FeatureNetwork>;
  dispose(): void;
}

/** Times every forward pass (the histogram the lock budget in docs/design.md is watched through). */
class TimedEngine implements DenoiserEngine {
  readonly name: string;
  readonly description: string;
  readonly provider: string;

  constructor(
    private readonly inner: DenoiserEngine,
    private readonly observe: (seconds: number) => void,
  ) {
    this.name = inner.name;
    this.description = inner.description;
    this.provider = inner.provider;
  }

  async forward(x: tf.Tensor4D, timesteps: tf.Tensor1D, y?: tf.Tensor1D): Promise<tf.Tensor4D> {
    const start = performance.now();
    try {
      return await this.inner.forward(x, timesteps, y);
    } finally {
      this.observe((performance.now() - start) / 1000);
    }
  }

  dispose(): void {
    this.inner.dispose();
  }
}

export interface LoadModelOptions {
  uri: string;
  /** Overrides the digest-derived id (must match the producer's --model-id). */
  modelId?: string;
  engine?: EngineChoice;
  /** onnx execution provider for the denoiser and the feature network: cuda or webgpu on GPU workers, auto for the first that loads. */
  provider?: ProviderChoice;
  /** onnx on cpu: threads per forward pass (default all cores). */
  threads?: number;
  metrics?: WorkerMetrics;
  /**
   * Opens the denoiser instead of onnx/tfjs. bench/scale.ts runs many workers on two cores with a
   * denoiser that sleeps as long as a forward pass would take.
   */
  denoiser?: (directory: DenoiserDirectory) => Promise<{ engine: DenoiserEngine; why: string; precision?: SamplingPrecision }>;
}

/**
 * The decoder model.json names (a path relative to the model directory, or absolute), opened on onnx
 * in `precision`, the denoiser's: a float16 denoiser gets a float16 decoder where the provider allows,
 * a float32 one (tfjs, a user's model.onnx, a cpu fallback) a float32 decoder.
 * A latent model without one cannot give images, so the worker refuses to start.
 */
async function openLatentDecoder(
  options: LoadModelOptions,
  modelDir: string,
  directory: DenoiserDirectory | DiTDirectory,
  precision: SamplingPrecision,
): Promise<LatentDecoder> {
  const named = directory.architecture === 'dit' ? directory.decoder : undefined;
  if (named === undefined) {
    throw new Error(
      `--model ${options.uri}: model.json has no "decoder"; a latent model samples latents, and the worker needs the autoencoder directory that decodes them (docs/latent-models.md)`,
    );
  }
  const dir = resolve(modelDir, named);
  let opened: Decoder;
  let config: DecoderDirectory['config'];
  try {
    const decoderDir = await readDecoderDirectory(dir);
    config = decoderDir.config;
    opened = await openDecoder(decoderDir, { provider: options.provider, threads: options.threads, dtype: precision });
  } catch (error) {
    throw new Error(`--model ${options.uri}: model.json decoder "${named}": ${(error as Error).message}`);
  }
  return {
    uri: dir,
    digest: opened.digest,
    description: opened.description,
    provider: opened.provider,
    precision: opened.precision,
    imageShape: (h, w) => [decoderImageSize(config, h), decoderImageSize(config, w), config.outChannels],
    decode: (z, n, h, w) => opened.decode(z, n, h, w),
    dispose: () => void opened.dispose(),
  };
}

export async function loadModelRuntime(options: LoadModelOptions): Promise<ModelRuntime> {
  const start = performance.now();
  const local = await fetchModel(options.uri);
  const directory = await readModelDirectory(local.dir);
  if (directory.architecture !== 'adm-unet' && directory.architecture !== 'dit') {
    throw new Error(
      `--model ${options.uri}: model.json.architecture is "${directory.architecture}"; a worker serves a denoiser ("adm-unet" or "dit")`,
    );
  }
  const shape = denoiserShape(directory);
  const id = options.modelId ?? defaultModelId(local.digest);
  // Engines exchange tfjs tensors, so the backend is up whichever opens the denoiser.
  await initBackend();
  // The benchmarks' substitute denoisers stand in for pixel UNets.
  const opened =
    options.denoiser && directory.architecture === 'adm-unet'
      ? await options.denoiser(directory)
      : await openModelEngine({
          modelDir: local.dir,
          directory,
          engine: options.engine ?? 'auto',
          provider: options.provider,
          threads: options.threads,
        });
  const inner = opened.engine;
  const stepSeconds = options.metrics?.stepSeconds.labels({ model: id, engine: inner.description });
  const engine = new TimedEngine(inner, (s) => stepSeconds?.observe(s));
  // A substitute denoiser (benchmarks) that names no precision computes in float32.
  const precision = opened.precision ?? 'float32';
  const decoder = isLatentModel(directory.json) ? await openLatentDecoder(options, local.dir, directory, precision) : undefined;
  const loadSeconds = (performance.now() - start) / 1000;
  options.metrics?.modelLoadSeconds.set({ model: id, engine: inner.description }, loadSeconds);

  const classifiers = new Map<string, Promise<{ loaded: LoadedClassifier; dispose(): void }>>();
  const loadClassifierRef = async (ref: ClassifierRef) => {
    const source = await fetchModel(ref.uri, '--classifier');
    if (source.digest !== ref.digest) {
      throw new Error(`classifier ${ref.uri} has weights sha256 ${source.digest}; the run was launched with ${ref.digest}`);
    }
    const dir = await readModelDirectory(source.dir);
    await initBackend();
    const net = loadClassifier(dir);
    const loaded: LoadedClassifier = {
      config: net.config,
      condFn: (scale) => async (x, timesteps, y) => classifierGradient(net, x, timesteps, y, scale),
    };
    return { loaded, dispose: () => net.dispose() };
  };

  const featureNetworks = new Map<string, Promise<FeatureNetwork>>();
  const openFeatureRef = (ref: FeatureNetworkRef) => openFeatureNetworkRef(ref, { threads: options.threads, provider: options.provider });

  return {
    id,
    uri: options.uri,
    digest: local.digest,
    directory,
    shape,
    ...(decoder && { decoder }),
    engine,
    loadSeconds,
    why: opened.why,
    precision,
    async classifier(ref) {
      let entry = classifiers.get(ref.digest);
      if (!entry) {
        entry = loadClassifierRef(ref);
        classifiers.set(ref.digest, entry);
        entry.catch(() => classifiers.delete(ref.digest));
      }
      return (await entry).loaded;
    },
    featureNetwork(ref) {
      const key = `${ref.uri}\n${ref.digest}\n${ref.preprocess}`;
      let entry = featureNetworks.get(key);
      if (!entry) {
        entry = openFeatureRef(ref);
        featureNetworks.set(key, entry);
        entry.catch(() => featureNetworks.delete(key));
      }
      return entry;
    },
    dispose() {
      engine.dispose();
      decoder?.dispose();
      for (const entry of classifiers.values()) entry.then((c) => c.dispose()).catch(() => {});
      for (const entry of featureNetworks.values()) entry.then((n) => n.dispose()).catch(() => {});
    },
  };
}
