/**
 * Chooses and opens the denoiser engine: onnx (onnxruntime-node, fastest forward passes) or tfjs
 * (the only one with gradients). `auto` takes onnx when it loads and tfjs otherwise, and every
 * choice comes back with a sentence saying what was taken and why, for the worker's log.
 */
import { type DenoiserEngine, describeBackend, initBackend } from '@diffq/diffusion';
import { createDiT, createUNet, type DiTConfig, type StoredTensor, TfjsDiTEngine, TfjsEngine, type UNetConfig } from '@diffq/networks';
import { buildDiTOnnx } from './dit-graph.ts';
import { type ProviderChoice, providerFromEnv } from './execution-provider.ts';
import { dtypeFromEnv, type GraphDtype, openInDtype } from './graph-dtype.ts';
import { OnnxEngine } from './onnx-engine.ts';
import { buildUNetOnnx } from './unet-graph.ts';

export type EngineChoice = 'auto' | 'onnx' | 'tfjs';
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'onnx', 'tfjs'];

/** Which network the weights are: a guided-diffusion UNet (the default) or a facebookresearch/DiT. */
export type DenoiserNetwork = { architecture?: 'adm-unet'; modelConfig: UNetConfig } | { architecture: 'dit'; modelConfig: DiTConfig };

export type OpenEngineOptions = DenoiserNetwork & EngineSettings;

interface EngineSettings {
  /** The network's state_dict (PyTorch keys); needed by tfjs, and by onnx unless `onnxModel` is given. */
  weights?: ReadonlyMap<string, StoredTensor>;
  /** A ready ONNX graph, as bytes or a file path: a user's PyTorch export or a cached build. */
  onnxModel?: Uint8Array | string;
  /** Builds the graph when `onnxModel` is absent; lets a caller cache it (see model-engine.ts). */
  buildGraph?: (dtype: GraphDtype) => Promise<Uint8Array | string>;
  engine: EngineChoice;
  /** onnx only: the execution provider to ask for (default DIFFQ_ONNX_PROVIDER, else cpu); one that cannot load falls back. */
  provider?: ProviderChoice;
  /** onnx only: precision of a built graph (default DIFFQ_ONNX_DTYPE, else float32); float16 is for the cuda and webgpu providers. */
  dtype?: GraphDtype;
  /** onnx on cpu: threads per forward (default all cores). */
  threads?: number;
}

export interface OpenedEngine {
  engine: DenoiserEngine;
  /** One sentence: the engine, its backend or provider, and why it was taken. */
  why: string;
  /**
   * The precision the denoiser computes in: float16 only for a half-precision graph on cuda or webgpu. tfjs and
   * float32 graphs agree to ~1e-6; float16 does not (docs/deployment.md), so a run records it.
   */
  precision: GraphDtype;
}

const networkName = (o: DenoiserNetwork) => (o.architecture === 'dit' ? 'DiT' : 'UNet');

function graphSource(o: OpenEngineOptions, dtype: GraphDtype): Promise<Uint8Array | string> {
  if (o.buildGraph) return o.buildGraph(dtype);
  const weights = o.weights;
  if (!weights) throw new Error(`the onnx engine needs the ${networkName(o)} weights (weights.safetensors) or a model.onnx`);
  if (o.architecture === 'dit') return Promise.resolve(buildDiTOnnx(o.modelConfig, weights, { dtype }));
  return Promise.resolve(buildUNetOnnx(o.modelConfig, weights, { dtype }));
}

async function openOnnx(o: OpenEngineOptions): Promise<OpenedEngine> {
  const provider = o.provider ?? providerFromEnv();
  const asked = o.dtype ?? dtypeFromEnv();
  const options = { provider, threads: o.threads };
  if (o.onnxModel !== undefined) {
    const notes = asked === 'float16' ? ['dtype float16 applies to graphs diffq builds, not to a given model.onnx'] : [];
    const engine = await OnnxEngine.create(o.onnxModel, options);
    // A user's model.onnx takes and returns float32 (the input plan checks it); diffq does not look inside.
    return { engine, why: [engine.report, 'graph from the given ONNX model', ...notes].join('; '), precision: 'float32' };
  }
  const {
    opened: engine,
    dtype,
    notes,
  } = await openInDtype(
    asked,
    provider,
    async (d) => OnnxEngine.create(await graphSource(o, d), options),
    (e) => e.provider,
    (e) => e.dispose(),
  );
  return { engine, why: [engine.report, `${dtype} graph built from the weights`, ...notes].join('; '), precision: dtype };
}

async function openTfjs(o: OpenEngineOptions): Promise<OpenedEngine> {
  if (!o.weights)
    throw new Error(`the tfjs engine needs the ${networkName(o)} weights (weights.safetensors); a model.onnx alone runs only on onnx`);
  const backend = await initBackend();
  const engine =
    o.architecture === 'dit'
      ? new TfjsDiTEngine(createDiT(o.modelConfig, o.weights))
      : new TfjsEngine(createUNet(o.modelConfig, o.weights));
  return { engine, why: describeBackend(backend), precision: 'float32' };
}

/**
 * Opens the engine `o.engine` names. `auto` tries onnx and falls back to tfjs when onnx cannot
 * load (no native binary, an unloadable graph), saying why; an explicit choice fails instead.
 * The tfjs backend is initialised in every case, since engines exchange tfjs tensors.
 */
export async function openEngine(o: OpenEngineOptions): Promise<OpenedEngine> {
  if (!ENGINE_CHOICES.includes(o.engine)) throw new Error(`engine is "${o.engine}"; accepted: ${ENGINE_CHOICES.join(', ')}`);
  await initBackend();
  switch (o.engine) {
    case 'tfjs': {
      const opened = await openTfjs(o);
      return { ...opened, why: `tfjs, as asked; ${opened.why}` };
    }
    case 'onnx': {
      const opened = await openOnnx(o);
      return { ...opened, why: `onnx, as asked: ${opened.why}` };
    }
    case 'auto': {
      try {
        const opened = await openOnnx(o);
        return { ...opened, why: `auto took onnx because it loaded: ${opened.why}` };
      } catch (e) {
        const reason = (e as Error).message.split('\n')[0];
        const opened = await openTfjs(o);
        return { ...opened, why: `auto took tfjs because onnx did not load (${reason}); ${opened.why}` };
      }
    }
  }
}
