/**
 * facebookresearch/DiT's `DiT.forward(x, t, y)` (models.py) as an ONNX graph built from its state_dict.
 *
 * Graph inputs: `x` [N, C, S, S] float32 (a latent x_t), `t` [N] float32 (the timesteps exactly as the
 * network receives them), `y` [N] int64 (labels; the null label num_classes selects the table's null
 * row); output `out` [N, out_channels, S, S] float32. N is symbolic. This is the plain forward, not
 * forward_with_cfg: guidance is the sampler's (guided-output.ts).
 *
 * Tokens are kept as [N, T, D] and every Linear runs as one Gemm on the [N·T, D] rows with the PyTorch
 * weight [out, in] as stored (transB), so the weights go into the graph without being rearranged.
 *
 * With dtype float16 (the cuda provider) the Linear layers take half-precision weights and inputs;
 * LayerNorm, the attention softmax, the timestep embedding and the residual stream stay in float32.
 */
import { join } from 'node:path';
import {
  checkDiTStateDict,
  DIT_FREQUENCY_DIM,
  DIT_LAYERNORM_EPS,
  type DiTConfig,
  type DiTPlan,
  planDiT,
  type StoredTensor,
  timestepFrequencies,
} from '@diffq/networks';
import { type ElemType, EXTERNAL_DATA_THRESHOLD } from './onnx-graph.ts';
import { StateDictGraphBuilder } from './state-dict-graph-builder.ts';
import { temporaryGraphDirectory } from './temporary-graph-directory.ts';

/** Default-domain opset: LayerNormalization (17) and Gelu with the tanh approximation (20). */
export const DIT_OPSET = 20;

export interface DiTOnnxOptions {
  /** Precision of the Linear layers; default float32. */
  dtype?: 'float32' | 'float16';
  /**
   * Where a graph too large for one protobuf is written (this path, and its weights in `<path>.data`);
   * default `dit.onnx` in a fresh temporary directory.
   */
  path?: string;
  /** Weight bytes above which the graph is written as external data; default EXTERNAL_DATA_THRESHOLD. */
  externalDataThreshold?: number;
}

/** What the graph builders give: the model's bytes, or the path of a model written with external data. */
export type OnnxModelSource = Uint8Array | string;

class DiTGraphBuilder extends StateDictGraphBuilder {
  private readonly plan: DiTPlan;
  private readonly d: number;
  private readonly ones: string;

  constructor(
    private readonly cfg: DiTConfig,
    weights: ReadonlyMap<string, StoredTensor>,
    private readonly act: 'float32' | 'float16',
  ) {
    super('dit', ['x', 't', 'y', 'out'], weights);
    this.plan = planDiT(cfg);
    this.d = cfg.hidden_size;
    this.ones = this.g.initializer('layernorm_scale', new Float32Array(this.d).fill(1), [this.d]);
  }

  /**
   * nn.Linear on rows [M, in] → [M, out], y = x·Wᵀ + b, with the stored weight [out, in]. `type` is
   * the precision it computes in; the input and the result are float32.
   */
  private linear(key: string, x: string, inDim: number, outDim: number, type: ElemType = 'float32'): string {
    const w = this.weight(`${key}.weight`, [outDim, inDim], type);
    const b = this.weight(`${key}.bias`, [outDim], type);
    if (type === 'float32') return this.g.node('Gemm', [x, w, b], { transB: 1 }, key);
    const y = this.g.node('Gemm', [this.castTo(x, 'float32', type, `${key}/in`), w, b], { transB: 1 }, key);
    return this.castTo(y, type, 'float32', `${key}/out`);
  }

  /** A Linear applied to every token: [N, T, in] → [N, T, out], as one Gemm over the N·T rows. */
  private tokenLinear(key: string, x: string, inDim: number, outDim: number): string {
    const rows = this.g.node('Reshape', [x, this.i64([-1, inDim])], {}, `${key}/rows`);
    const y = this.linear(key, rows, inDim, outDim, this.act);
    return this.g.node('Reshape', [y, this.i64([-1, this.plan.numPatches, outDim])], {}, `${key}/tokens`);
  }

  /** LayerNorm over D without affine parameters (elementwise_affine=False), eps 1e-6. */
  private layerNorm(x: string, hint: string): string {
    return this.g.node('LayerNormalization', [x, this.ones], { axis: -1, epsilon: { f: DIT_LAYERNORM_EPS } }, hint);
  }

  /** modulate(x, shift, scale) = x·(1 + scale) + shift, the modulations [N, 1, D] broadcast over tokens. */
  private modulate(x: string, shift: string, scale: string, hint: string): string {
    const onePlusScale = this.g.node('Add', [scale, this.g.constant([1], 'float32', [])], {}, `${hint}/one_plus_scale`);
    return this.g.node('Add', [this.g.node('Mul', [x, onePlusScale], {}, `${hint}/scale`), shift], {}, `${hint}/shift`);
  }

  /** The `count` consecutive D-chunks of adaLN_modulation(c) (SiLU(c) given), each as [N, 1, D]. */
  private modulations(key: string, siluC: string, count: number): string[] {
    const d = this.d;
    const all = this.linear(`${key}.adaLN_modulation.1`, siluC, d, count * d);
    const wide = this.g.node('Unsqueeze', [all, this.i64([1])], {}, `${key}/modulation`);
    return this.g.nodeN('Split', [wide, this.i64(Array(count).fill(d))], { axis: 2 }, `${key}/chunks`, count);
  }

  /**
   * timm's Attention: qkv = Linear(D, 3D) with output channel s·D + h·d + e (s ∈ q, k, v), per head
   * softmax((q·d^−½)·kᵀ)·v over the keys, heads concatenated back to channel h·d + e, then `proj`.
   */
  private attention(key: string, x: string): string {
    const { numPatches: T, headDim } = this.plan;
    const d = this.d;
    const heads = this.cfg.num_heads;
    const qkv = this.tokenLinear(`${key}.qkv`, x, d, 3 * d);
    const [q, k, v] = this.g
      .nodeN('Split', [qkv, this.i64([d, d, d])], { axis: 2 }, `${key}/qkv_split`, 3)
      .map((part, i) => this.g.node('Reshape', [part, this.i64([-1, T, heads, headDim])], {}, `${key}/${'qkv'[i]}_heads`));
    const qScaled = this.g.node('Mul', [q, this.g.constant([headDim ** -0.5], 'float32', [])], {}, `${key}/q_scaled`);
    const qT = this.g.node('Transpose', [qScaled], { perm: [0, 2, 1, 3] }, `${key}/q_t`);
    const kT = this.g.node('Transpose', [k], { perm: [0, 2, 3, 1] }, `${key}/k_t`);
    const vT = this.g.node('Transpose', [v], { perm: [0, 2, 1, 3] }, `${key}/v_t`);
    const weights = this.g.node('Softmax', [this.g.node('MatMul', [qT, kT], {}, `${key}/logits`)], { axis: -1 }, `${key}/softmax`);
    const attended = this.g.node('MatMul', [weights, vT], {}, `${key}/attend`);
    const merged = this.g.node(
      'Reshape',
      [this.g.node('Transpose', [attended], { perm: [0, 2, 1, 3] }, `${key}/heads_back`), this.i64([-1, T, d])],
      {},
      `${key}/merge_heads`,
    );
    return this.tokenLinear(`${key}.proj`, merged, d, d);
  }

  /** Mlp: fc1 → GELU (tanh approximation) → fc2. */
  private mlp(key: string, x: string): string {
    const { mlpHidden } = this.plan;
    const hidden = this.tokenLinear(`${key}.fc1`, x, this.d, mlpHidden);
    const gelu = this.g.node('Gelu', [hidden], { approximate: 'tanh' }, `${key}/gelu`);
    return this.tokenLinear(`${key}.fc2`, gelu, mlpHidden, this.d);
  }

  /**
   * DiTBlock: (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp) = adaLN_modulation(c);
   * x += gate_msa·Attn(modulate(LN(x), shift_msa, scale_msa)); x += gate_mlp·MLP(modulate(LN(x), …)).
   */
  private block(i: number, x: string, siluC: string): string {
    const key = `blocks.${i}`;
    const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = this.modulations(key, siluC, 6);
    const attn = this.attention(`${key}.attn`, this.modulate(this.layerNorm(x, `${key}/norm1`), shiftMsa, scaleMsa, `${key}/msa`));
    const x1 = this.g.node('Add', [x, this.g.node('Mul', [gateMsa, attn], {}, `${key}/gate_msa`)], {}, `${key}/residual_msa`);
    const mlp = this.mlp(`${key}.mlp`, this.modulate(this.layerNorm(x1, `${key}/norm2`), shiftMlp, scaleMlp, `${key}/mlp`));
    return this.g.node('Add', [x1, this.g.node('Mul', [gateMlp, mlp], {}, `${key}/gate_mlp`)], {}, `${key}/residual_mlp`);
  }

  /** c = t_embedder(t) + y_embedder(y); returns SiLU(c), which every adaLN_modulation starts with. */
  private conditioning(t: string, y: string): string {
    const half = DIT_FREQUENCY_DIM / 2;
    const freqs = this.g.initializer('timestep_freqs', timestepFrequencies(DIT_FREQUENCY_DIM), [1, half]);
    const args = this.g.node('Mul', [this.g.node('Unsqueeze', [t, this.i64([1])], {}, 't_column'), freqs], {}, 'timestep_args');
    // DiT's timestep embedding is [cos, sin]: cos first, unlike its position embedding.
    const sinusoid = this.g.node('Concat', [this.g.node('Cos', [args]), this.g.node('Sin', [args])], { axis: 1 }, 'timestep_embedding');
    const d = this.d;
    const hidden = this.silu(this.linear('t_embedder.mlp.0', sinusoid, DIT_FREQUENCY_DIM, d), 't_embedder');
    const tEmb = this.linear('t_embedder.mlp.2', hidden, d, d);
    const table = this.weight('y_embedder.embedding_table.weight', [this.plan.labelRows, d]);
    const yEmb = this.g.node('Gather', [table, y], { axis: 0 }, 'y_embedder');
    return this.silu(this.g.node('Add', [tEmb, yEmb], {}, 'c'), 'c');
  }

  /** x_embedder (a p×p conv of stride p) → tokens [N, T, D] (row-major over the patch grid) + pos_embed. */
  private patches(x: string): string {
    const { in_channels: ch, patch_size: p } = this.cfg;
    const d = this.d;
    const w = this.weight('x_embedder.proj.weight', [d, ch, p, p]);
    const b = this.weight('x_embedder.proj.bias', [d]);
    const conv = this.g.node('Conv', [x, w, b], { kernel_shape: [p, p], strides: [p, p] }, 'x_embedder.proj');
    const flat = this.g.node('Reshape', [conv, this.i64([0, d, this.plan.numPatches])], {}, 'x_embedder/flatten');
    const tokens = this.g.node('Transpose', [flat], { perm: [0, 2, 1] }, 'x_embedder/tokens');
    return this.g.node('Add', [tokens, this.weight('pos_embed', [1, this.plan.numPatches, d])], {}, 'pos_embed');
  }

  /**
   * FinalLayer: (shift, scale) = adaLN_modulation(c) (shift first); linear(modulate(LN(x), shift, scale))
   * [N, T, p²·out], then unpatchify: out[n, ch, i·p + a, j·p + b] = tokens[n, i·g + j, (a·p + b)·out + ch].
   */
  private finalLayer(x: string, siluC: string): string {
    const { gridSize: g, outChannels: out, finalOut } = this.plan;
    const p = this.cfg.patch_size;
    const [shift, scale] = this.modulations('final_layer', siluC, 2);
    const modulated = this.modulate(this.layerNorm(x, 'final_layer/norm_final'), shift, scale, 'final_layer');
    const tokens = this.tokenLinear('final_layer.linear', modulated, this.d, finalOut);
    const grid = this.g.node('Reshape', [tokens, this.i64([-1, g, g, p, p, out])], {}, 'unpatchify/grid');
    const nchpwq = this.g.node('Transpose', [grid], { perm: [0, 5, 1, 3, 2, 4] }, 'unpatchify/nchpwq');
    return this.g.node('Reshape', [nchpwq, this.i64([-1, out, g * p, g * p])], {}, 'unpatchify');
  }

  build(options: DiTOnnxOptions): OnnxModelSource {
    const cfg = this.cfg;
    const size = cfg.input_size;
    const x = this.g.input('x', 'float32', ['N', cfg.in_channels, size, size]);
    const t = this.g.input('t', 'float32', ['N']);
    const y = this.g.input('y', 'int64', ['N']);
    const siluC = this.conditioning(t, y);
    let h = this.patches(x);
    for (let i = 0; i < cfg.depth; i++) h = this.block(i, h, siluC);
    const out = this.finalLayer(h, siluC);
    this.g.output(out, 'out', 'float32', ['N', this.plan.outChannels, size, size]);

    const doc = `facebookresearch/DiT, ${this.act} Linear layers`;
    if (this.g.initializerBytes <= (options.externalDataThreshold ?? EXTERNAL_DATA_THRESHOLD)) return this.g.toModel(DIT_OPSET, doc);
    const path = options.path ?? join(temporaryGraphDirectory('diffq-dit-'), 'dit.onnx');
    this.g.writeModel(path, DIT_OPSET, doc);
    return path;
  }
}

/**
 * Builds the ONNX model of a DiT from its parsed config and its state_dict (DiT's keys, unchanged).
 * Returns the model's bytes, or, when the weights pass the external-data threshold (DiT-XL/2's 2.7 GB
 * do), the path of a model written with its weights as external data beside it. Throws naming the
 * first missing, unexpected or mis-shaped key.
 */
export function buildDiTOnnx(config: DiTConfig, weights: ReadonlyMap<string, StoredTensor>, options: DiTOnnxOptions = {}): OnnxModelSource {
  checkDiTStateDict(config, weights, 'DiT weights');
  return new DiTGraphBuilder(config, weights, options.dtype ?? 'float32').build(options);
}
