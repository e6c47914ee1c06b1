/**
 * The DenoiserEngine on onnxruntime-node: one InferenceSession over a UNet graph (built by
 * unet-graph.ts or exported by the user from PyTorch), fed and read in the PyTorch layout.
 * onnxruntime-node is imported lazily so that a machine without its native binary can still load
 * this package and fall back to tfjs.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { DenoiserEngine } from '@diffq/diffusion';
import * as tf from '@tensorflow/tfjs';
import type * as Ort from 'onnxruntime-node';
import {
  chooseProvider,
  describeProvider,
  type ExecutionProvider,
  type ProviderChoice,
  providerFromEnv,
  shortFallbackReasons,
} from './execution-provider.ts';
import { describePlacement, type NodePlacement, probePlacement, profileDirectory } from './node-placement.ts';

export type { ExecutionProvider } from './execution-provider.ts';

export interface OnnxEngineOptions {
  /**
   * Execution provider to ask for (execution-provider.ts); default DIFFQ_ONNX_PROVIDER, else cpu.
   * One that cannot load falls back (auto: cuda, webgpu, cpu) and the description says why.
   */
  provider?: ProviderChoice;
  /** CPU threads for one forward; default all cores (os.availableParallelism()). */
  threads?: number;
  /**
   * Probe where onnxruntime placed the nodes (node-placement.ts): one forward at batch 1, profiled.
   * Default: whenever a device provider runs the graph, since on the CPU every node is on the CPU.
   */
  placement?: boolean;
}

export type OrtModule = typeof Ort;
let ortModule: Promise<OrtModule> | undefined;

/** onnxruntime-node, loaded once; rejects with the loader's reason when the native binary is missing. */
export function loadOrt(): Promise<OrtModule> {
  ortModule ??= import('onnxruntime-node');
  return ortModule;
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
  /**
   * Constant per process (the worker uses it as a metrics label, shards and report.json keep it):
   * "onnxruntime-node 1.30.0 webgpu", or with the fallback's reason, "… cpu (webgpu fallback: …)".
   */
  description: string;
  /** Why the providers asked for did not load, one sentence each; undefined when the first one did. */
  providerFallback: string | undefined;
  /** Where the nodes ran in the probe forward; undefined when not probed (the CPU provider). */
  placement: NodePlacement | undefined;
  /** One line for the log: the provider, the fallback's reason and the node placement. */
  report: string;
}

/**
 * Opens a session on `model` (ONNX bytes or a file path): the one function every network's session
 * goes through, so the provider rule (execution-provider.ts) holds for all of them. Session options
 * favour throughput: every graph optimisation (including onnxruntime's blocked NCHWc convolution
 * layout on CPU), sequential execution, one intra-op thread per core, threads that sleep rather than spin.
 */
export async function openOrtSession(model: Uint8Array | string, options: OnnxEngineOptions = {}): Promise<OrtSession> {
  const ort = await loadOrt();
  const requested = options.provider ?? providerFromEnv();
  const base: Ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: options.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    // Spinning threads cost ~3 % when the cores are idle, but when other processes share them
    // (tfjs between forwards, other workers) a spinning pool measured 1.5× slower than a sleeping one.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  let profiles: string | undefined;
  const open = (providers: Ort.InferenceSession.ExecutionProviderConfig[]) => {
    const probe = options.placement ?? providers[0] !== 'cpu';
    profiles = probe ? profileDirectory() : undefined;
    const sessionOptions = {
      ...base,
      executionProviders: providers,
      ...(profiles ? { enableProfiling: true, profileFilePrefix: join(profiles, 'ort') } : {}),
    };
    // Two identical-looking calls because InferenceSession.create is overloaded on the model's type.
    return typeof model === 'string'
      ? ort.InferenceSession.create(model, sessionOptions)
      : ort.InferenceSession.create(model, sessionOptions);
  };
  const chosen = await chooseProvider(requested, open);
  let placement: NodePlacement | undefined;
  let placementNote: string | undefined;
  if (profiles) {
    try {
      placement = await probePlacement(ort, chosen.session, profiles);
      placementNote = `placement: ${describePlacement(placement)}`;
    } catch (e) {
      // A graph whose probe cannot run at batch 1 with zeros still serves; only the report is lost.
      placementNote = `placement unknown (the probe forward failed: ${(e as Error).message.split('\n')[0]})`;
    }
  }
  const description = describeProvider(ort.env.versions?.node ?? 'unknown', chosen);
  const providerFallback = chosen.skipped.length > 0 ? chosen.skipped.map((s) => s.reason).join('; ') : undefined;
  const report = [
    description,
    // The description already gives the short reasons; the full ones only when they say more (cuda's install steps).
    providerFallback &&
      providerFallback !== shortFallbackReasons(chosen.skipped) &&
      `${chosen.requested} was asked for and ${chosen.provider} runs instead: ${providerFallback}`,
    placementNote,
  ]
    .filter((part) => part)
    .join('; ');
  return { ort, session: chosen.session, provider: chosen.provider, description, providerFallback, placement, report };
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
    /** Why the providers asked for did not load; undefined when the first one did. */
    readonly providerFallback: string | undefined,
    /** The provider, the fallback's reason and the node placement, for the log (OrtSession.report). */
    readonly report: string,
  ) {
    this.#session = session;
  }

  /** Opens a session on `model` (ONNX bytes or a file path) with openOrtSession. */
  static async create(model: Uint8Array | string, options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
    const { ort, session, provider, description, providerFallback, report } = await openOrtSession(model, options);
    return new OnnxEngine(ort, session, inputPlan(session), provider, description, providerFallback, report);
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
