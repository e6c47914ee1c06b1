/**
 * The FID Inception network on onnxruntime-node as a FeatureNetwork: uint8 NHWC images are resized
 * and scaled in JavaScript (preprocessInception), then one session over the graph of
 * inception-graph.ts gives every output at once.
 */
import {
  checkFeatureImages,
  type FeatureNetwork,
  type FeatureNetworkInfo,
  type FeatureOutputs,
  INCEPTION_INPUT_SIZE,
  INCEPTION_LOGITS,
  INCEPTION_SPATIAL_DIM,
  type InceptionDims,
  type InceptionPreprocess,
  preprocessInception,
} from '@diffq/networks';
import type * as Ort from 'onnxruntime-node';
import { blockOutputName, INCEPTION_OUTPUTS, type InceptionOutput } from './inception-graph.ts';
import { type OnnxEngineOptions, type OrtModule, openOrtSession } from './onnx-engine.ts';

export const FID_INCEPTION_ARCHITECTURE = 'fid-inception-v3';

/**
 * Images per session run: onnxruntime holds ~15 MB of activations per 299×299 image (measured peak
 * RSS +230 MB at 16), so larger batches are cut into runs of this size (any batching gives the same rows).
 */
export const INCEPTION_MAX_BATCH = 16;

export interface InceptionNetworkOptions extends OnnxEngineOptions {
  preprocess: InceptionPreprocess;
  /** Which block's pooled output is `features`: 2048 (pool3, FID's standard) or 64, 192, 768 (`--dims`). */
  dims?: InceptionDims;
  /** Where the graph came from (e.g. the cache), appended to the description. */
  note?: string;
}

/** Every output of the graph for a batch, one row per image. */
export type InceptionOutputs = Record<InceptionOutput, Float32Array>;

export class InceptionOnnxNetwork implements FeatureNetwork {
  readonly info: FeatureNetworkInfo;
  #session: Ort.InferenceSession | undefined;

  private constructor(
    private readonly ort: OrtModule,
    session: Ort.InferenceSession,
    readonly description: string,
    /** The provider that loaded (openOrtSession's: a fallback's, not the one asked for). */
    readonly provider: string,
    private readonly preprocess: InceptionPreprocess,
    private readonly featureOutput: InceptionOutput,
    featureDim: number,
  ) {
    this.#session = session;
    this.info = {
      architecture: FID_INCEPTION_ARCHITECTURE,
      featureDim,
      logitDim: INCEPTION_LOGITS,
      spatialDim: INCEPTION_SPATIAL_DIM,
      channels: [1, 3],
      imageSize: null,
      preprocess,
      // The 1008 logits are the 2015 graph's ImageNet classes, not the sampled model's.
      numClasses: null,
    };
  }

  /** Opens a session on the graph (ONNX bytes or a file path, see buildInceptionOnnx). */
  static async create(graph: Uint8Array | string, options: InceptionNetworkOptions): Promise<InceptionOnnxNetwork> {
    const dims = options.dims ?? 2048;
    const featureOutput = blockOutputName(dims);
    const opened = await openOrtSession(graph, options);
    const missing = INCEPTION_OUTPUTS.filter((name) => !opened.session.outputNames.includes(name));
    if (missing.length > 0) {
      await opened.session.release();
      throw new Error(`the Inception graph has no output ${missing[0]}; its outputs are [${opened.session.outputNames.join(', ')}]`);
    }
    const description = [`onnx (${opened.report}), ${options.preprocess} preprocessing, features ${featureOutput}`, options.note]
      .filter((part) => part !== undefined)
      .join('; ');
    return new InceptionOnnxNetwork(opened.ort, opened.session, description, opened.provider, options.preprocess, featureOutput, dims);
  }

  private get session(): Ort.InferenceSession {
    if (!this.#session) throw new Error('InceptionOnnxNetwork: used after dispose()');
    return this.#session;
  }

  /**
   * Runs the graph on already preprocessed input x [n, 3, 299, 299] (at most INCEPTION_MAX_BATCH
   * images) and returns every output; for parity checks that compare both preprocessing modes.
   */
  async runPreprocessed(x: Float32Array, n: number): Promise<InceptionOutputs> {
    const size = INCEPTION_INPUT_SIZE;
    if (x.length !== n * 3 * size * size)
      throw new Error(`Inception input has ${x.length} values; [${n}, 3, ${size}, ${size}] needs ${n * 3 * size * size}`);
    const result = await this.session.run({ x: new this.ort.Tensor('float32', x, [n, 3, size, size]) });
    const outputs = {} as InceptionOutputs;
    for (const name of INCEPTION_OUTPUTS) {
      const t = result[name];
      outputs[name] = t.data as Float32Array;
    }
    return outputs;
  }

  async extract(images: Uint8Array, shape: readonly [number, number, number, number]): Promise<FeatureOutputs> {
    checkFeatureImages(this.info, images, shape);
    const [n, h, w, c] = shape;
    const perImage = h * w * c;
    const features = new Float32Array(n * this.info.featureDim);
    const logits = new Float32Array(n * INCEPTION_LOGITS);
    const spatial = new Float32Array(n * INCEPTION_SPATIAL_DIM);
    for (let start = 0; start < n; start += INCEPTION_MAX_BATCH) {
      const m = Math.min(INCEPTION_MAX_BATCH, n - start);
      const x = preprocessInception(images.subarray(start * perImage, (start + m) * perImage), [m, h, w, c], this.preprocess);
      const out = await this.runPreprocessed(x, m);
      features.set(out[this.featureOutput], start * this.info.featureDim);
      logits.set(out.logits_unbiased, start * INCEPTION_LOGITS);
      spatial.set(out.spatial_2023, start * INCEPTION_SPATIAL_DIM);
    }
    return { features, logits, spatial };
  }

  dispose(): void {
    const session = this.#session;
    this.#session = undefined;
    // Nothing can be done about a session that fails to free itself; the process keeps going.
    session?.release().catch(() => undefined);
  }
}
