/**
 * A FeatureNetwork on onnxruntime-node: one InferenceSession over a feature graph, fed in chunks of
 * images and read back as the FeatureOutputs rows. What is network-specific (the graph, how uint8
 * NHWC images become its `x`, which outputs are the features, logits and spatial features) comes
 * in an OnnxFeatureGraph.
 */
import { checkFeatureImages, type FeatureNetwork, type FeatureNetworkInfo, type FeatureOutputs } from '@diffq/networks';
import type * as Ort from 'onnxruntime-node';
import { type OnnxEngineOptions, type OrtModule, openOrtSession } from './onnx-engine.ts';

export interface FeatureGraphInput {
  data: Float32Array;
  dims: number[];
}

export interface OnnxFeatureGraph {
  info: FeatureNetworkInfo;
  /** ONNX bytes or a file path. */
  model: Uint8Array | string;
  /** The graph's output names for each FeatureOutputs field it has. */
  outputs: { features: string; logits?: string; spatial?: string };
  /**
   * uint8 NHWC images [n, H, W, C] → the graph's float32 input `x` and its dims, plus the other
   * float32 inputs a graph takes that depend on the image size (DINOv2's resize matrices).
   */
  input(
    images: Uint8Array,
    shape: readonly [number, number, number, number],
  ): FeatureGraphInput & { more?: Record<string, FeatureGraphInput> };
  /** Images per session run: bounds the activations held at once. */
  chunk: number;
}

export class OnnxFeatureNetwork implements FeatureNetwork {
  readonly info: FeatureNetworkInfo;
  #session: Ort.InferenceSession | undefined;

  private constructor(
    private readonly ort: OrtModule,
    session: Ort.InferenceSession,
    private readonly graph: OnnxFeatureGraph,
    readonly description: string,
    /** The provider that loaded (openOrtSession's: a fallback's, not the one asked for). */
    readonly provider: string,
  ) {
    this.info = graph.info;
    this.#session = session;
  }

  /** Opens a session on the graph with openOrtSession (its provider rule, see execution-provider.ts); `note` (where the graph came from) joins the description. */
  static async create(graph: OnnxFeatureGraph, options: OnnxEngineOptions & { note?: string } = {}): Promise<OnnxFeatureNetwork> {
    const { ort, session, provider, report } = await openOrtSession(graph.model, options);
    const wanted = Object.values(graph.outputs).filter((n): n is string => n !== undefined);
    const missing = wanted.filter((n) => !session.outputNames.includes(n));
    if (missing.length > 0) {
      await session.release();
      throw new Error(
        `feature graph ${graph.info.architecture} lacks outputs ${missing.join(', ')}; it has ${session.outputNames.join(', ')}`,
      );
    }
    const description = [`onnx (${report})`, options.note].filter((part) => part !== undefined).join('; ');
    return new OnnxFeatureNetwork(ort, session, graph, description, provider);
  }

  async extract(images: Uint8Array, shape: readonly [number, number, number, number]): Promise<FeatureOutputs> {
    const session = this.#session;
    if (!session) throw new Error('OnnxFeatureNetwork: used after dispose()');
    checkFeatureImages(this.info, images, shape);
    const [n, h, w, c] = shape;
    const dims = { features: this.info.featureDim, logits: this.info.logitDim, spatial: this.info.spatialDim };
    const out: FeatureOutputs = { features: new Float32Array(n * dims.features) };
    if (this.graph.outputs.logits) out.logits = new Float32Array(n * (dims.logits ?? 0));
    if (this.graph.outputs.spatial) out.spatial = new Float32Array(n * (dims.spatial ?? 0));
    const perImage = h * w * c;
    for (let from = 0; from < n; from += this.graph.chunk) {
      const count = Math.min(this.graph.chunk, n - from);
      const x = this.graph.input(images.subarray(from * perImage, (from + count) * perImage), [count, h, w, c]);
      const feeds: Record<string, Ort.Tensor> = { x: new this.ort.Tensor('float32', x.data, x.dims) };
      for (const [name, t] of Object.entries(x.more ?? {})) feeds[name] = new this.ort.Tensor('float32', t.data, t.dims);
      const result = await session.run(feeds);
      for (const field of ['features', 'logits', 'spatial'] as const) {
        const name = this.graph.outputs[field];
        const target = out[field];
        if (!name || !target) continue;
        const width = dims[field] ?? 0;
        const t = result[name];
        if (t.type !== 'float32' || t.dims.length !== 2 || t.dims[0] !== count || t.dims[1] !== width) {
          throw new Error(`feature graph output ${name} is ${t.type} [${t.dims}]; expected float32 [${count}, ${width}]`);
        }
        target.set(t.data as Float32Array, from * width);
      }
      for (const t of Object.values(result)) t.dispose();
    }
    return out;
  }

  dispose(): void {
    const session = this.#session;
    this.#session = undefined;
    session?.release().catch(() => undefined);
  }
}
