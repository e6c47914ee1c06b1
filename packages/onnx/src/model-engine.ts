/**
 * The denoiser engine of a model directory (docs/design.md#model-directory). Besides model.json and
 * weights.safetensors the directory may hold:
 * - `model.onnx`, the user's own export of the same network from PyTorch (inputs x, t and y), which the
 *   onnx engine then runs instead of a graph built from the weights;
 * - `.diffq-onnx/`, where graphs built from the weights are cached (graph-cache.ts), keyed by the
 *   builder version, the model flags, the precision and the weights file's size and modification time.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type DenoiserDirectory, type DenoiserShape, type DiTDirectory, denoiserShape, readModelDirectory } from '@diffq/networks';
import { buildDiTOnnx } from './dit-graph.ts';
import type { ProviderChoice } from './execution-provider.ts';
import { cachedGraph } from './graph-cache.ts';
import type { GraphDtype } from './graph-dtype.ts';
import { type EngineChoice, type OpenedEngine, openEngine } from './open-engine.ts';
import { buildUNetOnnx } from './unet-graph.ts';

/** A user's PyTorch export, used by the onnx engine in place of a built graph. */
export const USER_ONNX_FILE = 'model.onnx';
/** Bumped whenever unet-graph.ts emits a different graph for the same weights, to retire old caches. */
export const GRAPH_BUILDER_VERSION = 1;
/** Bumped whenever dit-graph.ts emits a different graph for the same weights. */
export const DIT_GRAPH_BUILDER_VERSION = 1;

export interface OpenModelEngineOptions {
  modelDir: string;
  /** The directory already read with readModelDirectory, to avoid reading it twice. */
  directory?: DenoiserDirectory | DiTDirectory;
  engine: EngineChoice;
  provider?: ProviderChoice;
  dtype?: GraphDtype;
  threads?: number;
  /** Cache built graphs under <modelDir>/.diffq-onnx (default true). */
  cache?: boolean;
}

/**
 * The graph for `dtype` from the directory's cache (graph-cache.ts), built on a miss. A DiT too large
 * for one protobuf is written by its builder straight into the cache, its weights beside it.
 */
async function cachedDenoiserGraph(
  modelDir: string,
  directory: DenoiserDirectory | DiTDirectory,
  dtype: GraphDtype,
  notes: string[],
): Promise<Uint8Array | string> {
  const { graph, note } =
    directory.architecture === 'dit'
      ? await cachedGraph(modelDir, `dit-${dtype}`, { v: DIT_GRAPH_BUILDER_VERSION, model: directory.dit, dtype }, (path) =>
          buildDiTOnnx(directory.dit, directory.weights, { dtype, path }),
        )
      : await cachedGraph(modelDir, `unet-${dtype}`, { v: GRAPH_BUILDER_VERSION, model: directory.unet, dtype }, () =>
          buildUNetOnnx(directory.unet, directory.weights, { dtype }),
        );
  notes.push(note);
  return graph;
}

export interface OpenedModelEngine extends OpenedEngine {
  /** The tensors the denoiser takes and gives. */
  config: DenoiserShape;
}

/**
 * Opens the engine of a model directory: `auto` takes onnx when it loads, else tfjs; the returned
 * `why` says which engine, provider or backend, where the graph came from, and why.
 */
export async function openModelEngine(o: OpenModelEngineOptions): Promise<OpenedModelEngine> {
  const directory = o.directory ?? (await readModelDirectory(o.modelDir));
  if (directory.architecture !== 'adm-unet' && directory.architecture !== 'dit') {
    throw new Error(
      `model directory ${o.modelDir}: model.json.architecture is "${directory.architecture}"; a denoiser engine needs "adm-unet" or "dit"`,
    );
  }
  const userOnnx = join(o.modelDir, USER_ONNX_FILE);
  const notes: string[] = [];
  const network =
    directory.architecture === 'dit' ? { architecture: 'dit' as const, modelConfig: directory.dit } : { modelConfig: directory.unet };
  const opened = await openEngine({
    ...network,
    weights: directory.weights,
    onnxModel: existsSync(userOnnx) ? userOnnx : undefined,
    buildGraph: o.cache === false ? undefined : (dtype) => cachedDenoiserGraph(o.modelDir, directory, dtype, notes),
    engine: o.engine,
    provider: o.provider,
    dtype: o.dtype,
    threads: o.threads,
  });
  if (opened.engine.name === 'onnx' && existsSync(userOnnx)) notes.push(`graph is the user's ${userOnnx}`);
  return { engine: opened.engine, why: [opened.why, ...notes].join('; '), precision: opened.precision, config: denoiserShape(directory) };
}
