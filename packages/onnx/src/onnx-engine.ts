/**
 * The DenoiserEngine on onnxruntime-node: one InferenceSession over a UNet graph (built by
 * unet-graph.ts or exported by the user from PyTorch), fed and read in the PyTorch layout.
 * onnxruntime-node is imported lazily so that a machine without its native binary can still load
 * this package and fall back to tfjs.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import type { DenoiserEngine } from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';
import type * as Ort from 'onnxruntime-node';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface OnnxEngineOptions {
  /** Execution provider to ask for; default cpu. `cuda` falls back to cpu when it cannot load. */
  provider?: ExecutionProvider;
  /** CPU threads for one forward; default all cores (os.availableParallelism()). */
  threads?: number;
}

/** The library onnxruntime-node needs for its CUDA provider, installed only on request (docs/deployment.md, "GPU nodes"). */
const CUDA_PROVIDER_LIBRARY = 'libonnxruntime_providers_cuda.so';

export type OrtModule = typeof Ort;
let ortModule: Promise<OrtModule> | undefined;

/** onnxruntime-node, loaded once; rejects with the loader's reason when the native binary is missing. */
export function loadOrt(): Promise<OrtModule> {
  ortModule ??= import('onnxruntime-node');
  return ortModule;
}

/** Why the CUDA provider cannot load here, or undefined when its library is installed. */
function cudaUnavailableReason(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `onnxruntime-node ships no CUDA provider for ${process.platform}/${process.arch}`;
  const binDir = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', 'linux', 'x64');
  if (existsSync(join(binDir, CUDA_PROVIDER_LIBRARY))) return undefined;
  return `${CUDA_PROVIDER_LIBRARY} is not installed (npm ci never runs onnxruntime-node's download; a GPU node installs it with ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install, see docs/deployment.md)`;
}

/** How the session reads its inputs: the names and element types the graph declares. */
interface InputPlan {
  x: string;
  t: { name: string; type: string };
  y?: { name: string; type: string };
  output: string;
}

function inputPlan(session: Ort.InferenceSession): InputPlan {
  const byName = new Map(session.inputMetadata.map((m) => [m.name, m]));
  const typeOf = (name: string) => {
    const m = byName.get(name);
    return m?.isTensor ? m.type : 'unknown';
  };
  const pick = (names: string[]) => names.find((n) => byName.has(n));
  const x = pick(['x']);
  const t = pick(['t', 'timesteps']);
  const y = pick(['y']);
  if (!x || !t) {
    throw new Error(
      `ONNX model inputs are [${session.inputNames.join(', ')}]; a denoiser graph takes x [N, C, H, W] float32, t (or timesteps) [N] and, when class-conditional, y [N]`,
    );
  }
  if (typeOf(x) !== 'float32') throw new Error(`ONNX model input ${x} is ${typeOf(x)}; accepted: float32`);
  for (const [name, accepted] of [
    [t, ['float32', 'int64', 'int32']],
    [y, ['int64', 'int32']],
  ] as const) {
    if (name && !accepted.includes(typeOf(name) as never))
      throw new Error(`ONNX model input ${name} is ${typeOf(name)}; accepted: ${accepted.join(', ')}`);
  }
  return { x, t: { name: t, type: typeOf(t) }, y: y ? { name: y, type: typeOf(y) } : undefined, output: session.outputNames[0] };
}

/** Integer values as the graph's int32 or int64 input. */
function integerTensor(ort: OrtModule, values: ArrayLike<number>, type: string): Ort.Tensor {
  if (type === 'int32') return new ort.Tensor('int32', Int32Array.from(values), [values.length]);
  return new ort.Tensor(
    'int64',
    BigInt64Array.from(Array.from(values), (v) => BigInt(v)),
    [values.length],
  );
}

function timestepTensor(ort: OrtModule, values: Float32Array, type: string): Ort.Tensor {
  if (type === 'float32') return new ort.Tensor('float32', values, [values.length]);
  if (!values.every(Number.isInteger)) {
    throw new Error(
      `the ONNX model takes integer timesteps (${type}) but got fractional ones (rescale_timesteps); export it with a float32 t`,
    );
  }
  return integerTensor(ort, values, type);
}

export interface OrtSession {
  ort: OrtModule;
  session: Ort.InferenceSession;
  /** The provider that runs the graph. */
  provider: ExecutionProvider;
  /** Short and constant per process (the worker uses it as a metrics label); the reason is in providerFallback. */
  description: string;
  /** Why a requested cuda provider was not used; undefined when it was, or was not asked for. */
  providerFallback: string | undefined;
}

/**
 * Opens a session on `model` (ONNX bytes or a file path). Session options favour throughput:
 * every graph optimisation (including onnxruntime's blocked NCHWc convolution layout on CPU),
 * sequential execution, one intra-op thread per core, threads that sleep rather than spin.
 */
export async function openOrtSession(model: Uint8Array | string, options: OnnxEngineOptions = {}): Promise<OrtSession> {
  const ort = await loadOrt();
  const requested = options.provider ?? 'cpu';
  const base: Ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: options.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    // Spinning threads cost ~3 % when the cores are idle, but when other processes share them
    // (tfjs between forwards, other workers) a spinning pool measured 1.5× slower than a sleeping one.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  // Two identical-looking calls because InferenceSession.create is overloaded on the model's type.
  const open = (providers: Ort.InferenceSession.SessionOptions['executionProviders']) =>
    typeof model === 'string'
      ? ort.InferenceSession.create(model, { ...base, executionProviders: providers })
      : ort.InferenceSession.create(model, { ...base, executionProviders: providers });

  let session: Ort.InferenceSession | undefined;
  let provider: ExecutionProvider = 'cpu';
  let fallback: string | undefined;
  if (requested === 'cuda') {
    fallback = cudaUnavailableReason();
    if (!fallback) {
      try {
        // One GPU per worker: the first one it sees (CUDA_VISIBLE_DEVICES picks which, as on Kubernetes).
        session = await open([{ name: 'cuda', deviceId: 0 }, 'cpu']);
        provider = 'cuda';
      } catch (e) {
        fallback = `the cuda provider did not load: ${(e as Error).message.split('\n')[0]}`;
      }
    }
  }
  session ??= await open(['cpu']);
  const version = ort.env.versions?.node ?? 'unknown';
  const description = `onnxruntime-node ${version} ${provider}${fallback ? ' (cuda fallback)' : ''}`;
  return { ort, session, provider, description, providerFallback: fallback };
}

export class OnnxEngine implements DenoiserEngine {
  readonly name = 'onnx';
  #session: Ort.InferenceSession | undefined;

  private constructor(
    private readonly ort: OrtModule,
    session: Ort.InferenceSession,
    private readonly io: InputPlan,
    /** The provider that runs the graph. */
    readonly provider: ExecutionProvider,
    readonly description: string,
    /** Why a requested cuda provider was not used; undefined when it was, or was not asked for. */
    readonly providerFallback: string | undefined,
  ) {
    this.#session = session;
  }

  /** Opens a session on `model` (ONNX bytes or a file path) with openOrtSession. */
  static async create(model: Uint8Array | string, options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
    const { ort, session, provider, description, providerFallback } = await openOrtSession(model, options);
    return new OnnxEngine(ort, session, inputPlan(session), provider, description, providerFallback);
  }

  private get session(): Ort.InferenceSession {
    if (!this.#session) throw new Error('OnnxEngine: used after dispose()');
    return this.#session;
  }

  async forward(x: tf.Tensor4D, timesteps: tf.Tensor1D, y?: tf.Tensor1D): Promise<tf.Tensor4D> {
    const session = this.session;
    const [n] = x.shape;
    if (timesteps.shape[0] !== n) throw new Error(`UNet timesteps has ${timesteps.shape[0]} entries for a batch of ${n}`);
    if ((y !== undefined) !== (this.io.y !== undefined)) {
      throw new Error(
        this.io.y
          ? 'UNet: the model is class-conditional and needs labels y'
          : 'UNet: labels y were given but the model is unconditional (class_cond false)',
      );
    }
    const [xData, tData, yData] = await Promise.all([x.data(), timesteps.data(), y?.data()]);
    const feeds: Record<string, Ort.Tensor> = {
      [this.io.x]: new this.ort.Tensor('float32', xData as Float32Array, x.shape),
      [this.io.t.name]: timestepTensor(this.ort, Float32Array.from(tData), this.io.t.type),
    };
    if (this.io.y && yData) {
      if (yData.length !== n) throw new Error(`UNet labels y has ${yData.length} entries for a batch of ${n}`);
      feeds[this.io.y.name] = integerTensor(this.ort, yData, this.io.y.type);
    }
    const result = await session.run(feeds);
    const out = result[this.io.output];
    const dims = out.dims as number[];
    if (out.type !== 'float32') throw new Error(`ONNX model output ${this.io.output} is ${out.type}; accepted: float32`);
    if (dims.length !== 4 || dims[0] !== n)
      throw new Error(`ONNX model output ${this.io.output} has shape [${dims}]; expected [${n}, C, H, W]`);
    const tensor = tf.tensor4d(out.data as Float32Array, dims as [number, number, number, number], 'float32');
    out.dispose();
    return tensor;
  }

  dispose(): void {
    const session = this.#session;
    this.#session = undefined;
    // Nothing can be done about a session that fails to free itself; the process keeps going.
    session?.release().catch(() => undefined);
  }
}
