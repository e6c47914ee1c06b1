/**
 * The KL decoder of a decoder directory on onnxruntime: latents in (NCHW float32, as the sampler
 * produced them), uint8 NHWC images out, as the ADM evaluator's npz holds them. The graph is built
 * from the weights (vae-decoder-graph.ts), in float16 where the provider that loaded has half-precision
 * kernels and float16 is asked for (graph-dtype.ts, the denoiser's rule), and cached in the directory
 * like the UNet's, one file per precision.
 */
import type { DecoderConfig, DecoderDirectory } from '@diffq/networks';
import { decoderImageSize } from '@diffq/networks';
import type * as Ort from 'onnxruntime-node';
import { type ExecutionProvider, type ProviderChoice, providerFromEnv } from './execution-provider.ts';
import { cachedGraph } from './graph-cache.ts';
import { dtypeFromEnv, type GraphDtype, openInDtype } from './graph-dtype.ts';
import { openOrtSession } from './onnx-engine.ts';
import { buildDecoderOnnx } from './vae-decoder-graph.ts';

/** Bumped whenever vae-decoder-graph.ts emits a different graph for the same weights, to retire old caches. */
export const DECODER_GRAPH_VERSION = 1;

export interface DecodedImages {
  /** [n, outChannels, H, W] float32: the decoder's output before the uint8 step. */
  images: Float32Array;
  /** [n, H, W, outChannels]: trunc(clamp(127.5·images + 128, 0, 255)). */
  uint8: Uint8Array;
}

export interface Decoder {
  /** The provider, the precision and where the graph came from, for logs. */
  readonly description: string;
  /** What the decoder computes in: float16 only for a half-precision graph on cuda or webgpu. */
  readonly precision: GraphDtype;
  /** The execution provider that loaded (the one asked for, or its fallback). */
  readonly provider: ExecutionProvider;
  readonly config: DecoderConfig;
  /** sha256 of the weights file: what a run pins. */
  readonly digest: string;
  /** z: [n, latentChannels, h, w] float32 as the sampler produced it → n images, uint8 NHWC. */
  decode(z: Float32Array, n: number, h: number, w: number): Promise<Uint8Array>;
  /** decode, also returning the float images (golden parity, diagnostics). */
  decodeImages(z: Float32Array, n: number, h: number, w: number): Promise<DecodedImages>;
  dispose(): Promise<void> | void;
}

export interface OpenDecoderOptions {
  /** Default DIFFQ_ONNX_PROVIDER, else cpu; cuda falls back to cpu, saying why in the description. */
  provider?: ProviderChoice;
  /** CPU threads per decode; default all cores. */
  threads?: number;
  /** Precision of the graph (default DIFFQ_ONNX_DTYPE, else float32); float16 runs only on the cuda and webgpu providers. */
  dtype?: GraphDtype;
  /** Cache the built graph under <dir>/.diffq-onnx (default true; a read-only directory keeps it in memory). */
  cache?: boolean;
}

class OnnxDecoder implements Decoder {
  #session: Ort.InferenceSession | undefined;

  constructor(
    private readonly ort: typeof Ort,
    session: Ort.InferenceSession,
    readonly description: string,
    readonly precision: GraphDtype,
    readonly provider: ExecutionProvider,
    readonly config: DecoderConfig,
    readonly digest: string,
  ) {
    this.#session = session;
  }

  private input(z: Float32Array, n: number, h: number, w: number): Ort.Tensor {
    for (const [name, v] of [
      ['n', n],
      ['h', h],
      ['w', w],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`decode: ${name} is ${v}; accepted: an integer ≥ 1`);
    }
    const c = this.config.latentChannels;
    if (z.length !== n * c * h * w) {
      throw new Error(`decode: z has ${z.length} values; [n, latent_channels, h, w] = [${n}, ${c}, ${h}, ${w}] needs ${n * c * h * w}`);
    }
    return new this.ort.Tensor('float32', z, [n, c, h, w]);
  }

  private async run(z: Float32Array, n: number, h: number, w: number, outputs: string[]) {
    const session = this.#session;
    if (!session) throw new Error('decoder: used after dispose()');
    return session.run({ z: this.input(z, n, h, w) }, outputs);
  }

  async decode(z: Float32Array, n: number, h: number, w: number): Promise<Uint8Array> {
    const { uint8 } = await this.run(z, n, h, w, ['uint8']);
    const bytes = uint8.data as Uint8Array;
    const expected = n * decoderImageSize(this.config, h) * decoderImageSize(this.config, w) * this.config.outChannels;
    if (bytes.length !== expected) throw new Error(`internal: the decoder returned ${bytes.length} bytes for ${expected}`);
    return bytes;
  }

  async decodeImages(z: Float32Array, n: number, h: number, w: number): Promise<DecodedImages> {
    const out = await this.run(z, n, h, w, ['images', 'uint8']);
    return { images: out.images.data as Float32Array, uint8: out.uint8.data as Uint8Array };
  }

  async dispose(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    await session?.release();
  }
}

/** Opens the decoder of `dir` (readDecoderDirectory) on onnxruntime, on the provider the engines use. */
export async function openDecoder(dir: DecoderDirectory, options: OpenDecoderOptions = {}): Promise<Decoder> {
  const provider = options.provider ?? providerFromEnv();
  const open = async (dtype: GraphDtype) => {
    const build = () => buildDecoderOnnx(dir.config, dir.weights, { dtype });
    let graph: Uint8Array | string;
    let note: string;
    if (options.cache === false) {
      graph = build();
      note = `${dtype} graph built from the weights`;
    } else {
      const settings = { v: DECODER_GRAPH_VERSION, config: dir.config, digest: dir.digest, dtype };
      ({ graph, note } = await cachedGraph(dir.dir, `decoder-${dtype}`, settings, build, dir.weightsFile));
      note = `${dtype} ${note}`;
    }
    return { session: await openOrtSession(graph, { provider, threads: options.threads }), note };
  };
  const { opened, dtype, notes } = await openInDtype(
    options.dtype ?? dtypeFromEnv(),
    provider,
    open,
    (o) => o.session.provider,
    (o) => o.session.session.release(),
  );
  const { session, note } = opened;
  const description = [session.report, note, ...notes].join('; ');
  return new OnnxDecoder(session.ort, session.session, description, dtype, session.provider, dir.config, dir.digest);
}
