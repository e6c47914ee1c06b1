export type { EngineChoice } from '@diffq/onnx';

/**
 * The model a worker serves: loaded once at start (DESIGN.md §4: one queue per model), with its
 * denoiser engine timed per forward pass, and the classifiers of classifier-guided runs loaded on
 * first use and kept.
 */
import { performance } from 'node:perf_hooks';
import {
  type ClassifierConfig,
  type CondFn,
  classifierGradient,
  type DenoiserDirectory,
  type DenoiserEngine,
  initBackend,
  loadClassifier,
  readModelDirectory,
} from '@diffq/diffusion';
import { ENGINE_CHOICES, type EngineChoice, type ExecutionProvider, openModelEngine } from '@diffq/onnx';
import { defaultModelId } from '@diffq/queue';
import { fetchModel } from '@diffq/storage';
import type * as tf from '@tensorflow/tfjs';
import type { WorkerMetrics } from './metrics.ts';

/** A classifier as the manifest names it. */
export interface ClassifierRef {
  uri: string;
  digest: string;
}

export const ENGINES = ENGINE_CHOICES;
export const PROVIDERS = ['cpu', 'cuda'] as const;

export interface LoadedClassifier {
  config: ClassifierConfig;
  /** cond_fn of classifier_sample.py with this scale. */
  condFn(scale: number): CondFn;
}

export interface ModelRuntime {
  /** Queue name suffix: `sample.<id>`. */
  id: string;
  uri: string;
  /** sha256 of weights.safetensors. */
  digest: string;
  directory: DenoiserDirectory;
  /** The denoiser, its forward passes timed into diffq_denoiser_step_seconds. */
  engine: DenoiserEngine;
  loadSeconds: number;
  /** Which engine was opened and why (onnx, or tfjs and the reason onnx was passed over). */
  why: string;
  classifier(ref: ClassifierRef): Promise<LoadedClassifier>;
  dispose(): void;
}

/** Times every forward pass (the histogram the lock-duration advice in the README is read from). */
class TimedEngine implements DenoiserEngine {
  readonly name: string;
  readonly description: string;

  constructor(
    private readonly inner: DenoiserEngine,
    private readonly observe: (seconds: number) => void,
  ) {
    this.name = inner.name;
    this.description = inner.description;
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
  /** onnx execution provider: cuda on GPU workers (falls back to cpu). */
  provider?: ExecutionProvider;
  /** onnx on cpu: threads per forward pass (default all cores). */
  threads?: number;
  metrics?: WorkerMetrics;
}

export async function loadModelRuntime(options: LoadModelOptions): Promise<ModelRuntime> {
  const start = performance.now();
  const local = await fetchModel(options.uri);
  const directory = await readModelDirectory(local.dir);
  if (directory.architecture !== 'adm-unet') {
    throw new Error(
      `--model ${options.uri}: model.json.architecture is "${directory.architecture}"; a worker serves a denoiser ("adm-unet")`,
    );
  }
  const id = options.modelId ?? defaultModelId(local.digest);
  const opened = await openModelEngine({
    modelDir: local.dir,
    directory,
    engine: options.engine ?? 'auto',
    provider: options.provider,
    threads: options.threads,
  });
  const inner = opened.engine;
  const stepSeconds = options.metrics?.stepSeconds.labels({ model: id, engine: inner.description });
  const engine = new TimedEngine(inner, (s) => stepSeconds?.observe(s));
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

  return {
    id,
    uri: options.uri,
    digest: local.digest,
    directory,
    engine,
    loadSeconds,
    why: opened.why,
    async classifier(ref) {
      let entry = classifiers.get(ref.digest);
      if (!entry) {
        entry = loadClassifierRef(ref);
        classifiers.set(ref.digest, entry);
        entry.catch(() => classifiers.delete(ref.digest));
      }
      return (await entry).loaded;
    },
    dispose() {
      engine.dispose();
      for (const entry of classifiers.values()) entry.then((c) => c.dispose()).catch(() => {});
    },
  };
}
