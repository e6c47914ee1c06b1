/**
 * The denoiser engine of a model directory (DESIGN.md §5). Besides model.json and
 * weights.safetensors the directory may hold:
 * - `model.onnx`, the user's own export of the same UNet from PyTorch (inputs x, t and y), which the
 *   onnx engine then runs instead of a graph built from the weights;
 * - `.diffq-onnx/`, where graphs built from the weights are cached, keyed by the builder version,
 *   the model flags, the precision and the weights file's size and modification time.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DenoiserDirectory, readModelDirectory, type UNetConfig, WEIGHTS_FILE } from '@diffq/diffusion';
import type { ExecutionProvider } from './onnx-engine.ts';
import { type EngineChoice, type GraphDtype, type OpenedEngine, openEngine } from './open-engine.ts';
import { buildUNetOnnx } from './unet-graph.ts';

/** A user's PyTorch export, used by the onnx engine in place of a built graph. */
export const USER_ONNX_FILE = 'model.onnx';
export const ONNX_CACHE_DIR = '.diffq-onnx';
/** Bumped whenever unet-graph.ts emits a different graph for the same weights, to retire old caches. */
export const GRAPH_BUILDER_VERSION = 1;

export interface OpenModelEngineOptions {
  modelDir: string;
  /** The directory already read with readModelDirectory, to avoid reading it twice. */
  directory?: DenoiserDirectory;
  engine: EngineChoice;
  provider?: ExecutionProvider;
  dtype?: GraphDtype;
  threads?: number;
  /** Cache built graphs under <modelDir>/.diffq-onnx (default true). */
  cache?: boolean;
}

/**
 * Returns the path of the cached graph for `dtype`, building and writing it first when absent.
 * A directory that cannot be written (a read-only mount) gets the graph in memory instead.
 */
async function cachedGraph(
  modelDir: string,
  directory: DenoiserDirectory,
  dtype: GraphDtype,
  notes: string[],
): Promise<Uint8Array | string> {
  const weights = await stat(join(modelDir, WEIGHTS_FILE));
  const key = createHash('sha256')
    .update(JSON.stringify({ v: GRAPH_BUILDER_VERSION, model: directory.unet, dtype, size: weights.size, mtime: weights.mtimeMs }))
    .digest('hex')
    .slice(0, 16);
  const path = join(modelDir, ONNX_CACHE_DIR, `unet-${dtype}-${key}.onnx`);
  if (existsSync(path)) {
    notes.push(`graph from the cache ${path}`);
    return path;
  }
  const started = performance.now();
  const bytes = buildUNetOnnx(directory.unet, directory.weights, { dtype });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  try {
    await mkdir(join(modelDir, ONNX_CACHE_DIR), { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, bytes);
    await rename(temp, path);
    notes.push(`graph built in ${seconds} s and cached as ${path}`);
  } catch (e) {
    notes.push(`graph built in ${seconds} s, not cached (${(e as Error).message.split('\n')[0]})`);
  }
  return bytes;
}

export interface OpenedModelEngine extends OpenedEngine {
  /** The directory's UNet flags. */
  config: UNetConfig;
}

/**
 * Opens the engine of a model directory: `auto` takes onnx when it loads, else tfjs; the returned
 * `why` says which engine, provider or backend, where the graph came from, and why.
 */
export async function openModelEngine(o: OpenModelEngineOptions): Promise<OpenedModelEngine> {
  const directory = o.directory ?? (await readModelDirectory(o.modelDir));
  if (directory.architecture !== 'adm-unet') {
    throw new Error(
      `model directory ${o.modelDir}: model.json.architecture is "${directory.architecture}"; a denoiser engine needs "adm-unet"`,
    );
  }
  const userOnnx = join(o.modelDir, USER_ONNX_FILE);
  const notes: string[] = [];
  const opened = await openEngine({
    modelConfig: directory.unet,
    weights: directory.weights,
    onnxModel: existsSync(userOnnx) ? userOnnx : undefined,
    buildGraph: o.cache === false ? undefined : (dtype) => cachedGraph(o.modelDir, directory, dtype, notes),
    engine: o.engine,
    provider: o.provider,
    dtype: o.dtype,
    threads: o.threads,
  });
  if (opened.engine.name === 'onnx' && existsSync(userOnnx)) notes.push(`graph is the user's ${userOnnx}`);
  return { engine: opened.engine, why: [opened.why, ...notes].join('; '), config: directory.unet };
}
