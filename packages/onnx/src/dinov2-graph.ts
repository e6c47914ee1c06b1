/**
 * The FD_DINOv2 feature network as one ONNX graph: edm2's DINOv2Detector preprocessing followed by
 * dinov2's DinoVisionTransformer (packages/networks/src/dinov2/), weights as initializers.
 *
 * Graph inputs: `x` [N, H, W, C] float32, the pixel bytes 0…255 as stored (C = 1 or 3); `resize_h`
 * [224, H] and `resize_wt` [W, 224], the antialiased bicubic resize matrices of the image size
 * (dinov2ResizeInputs). Output: `features` [N, D], the class token after the final LayerNorm.
 *
 * 1. Resize: R_h·X·R_wᵀ per image and channel (two MatMuls), no clamp; then x/255, − mean, / std per
 *    channel. A grey image's one channel broadcasts against the three means, as in edm2.
 * 2. Patch embedding (14×14 convolution, stride 14) → 256 tokens, row-major over the 16×16 grid, plus
 *    the position embedding interpolated for 224×224 in float64 at build time; the class token
 *    (with its position row) in front, then the register tokens (no position embedding).
 * 3. L pre-norm blocks: x += γ₁ ⊙ Attn(LN₁(x)); x += γ₂ ⊙ MLP(LN₂(x)); LayerNorm eps 1e-6, q/k/v split
 *    before heads, q scaled by d^(−1/2), GELU with the exact erf.
 * 4. The final LayerNorm of token 0 (LayerNorm is per token, so the other tokens are not normalised).
 */
import {
  antialiasedBicubicMatrix,
  checkStateDict,
  DINOV2_INPUT_SIZE,
  DINOV2_LAYERNORM_EPS,
  DINOV2_MEAN,
  DINOV2_MISMATCH_HINT,
  DINOV2_MLP_RATIO,
  DINOV2_PATCH_GRID,
  DINOV2_PATCH_SIZE,
  DINOV2_STD,
  type Dinov2Config,
  dinov2ParamSpecs,
  interpolatePositionEmbedding,
  type StoredTensor,
} from '@diffq/networks';
import type { FeatureGraphInput } from './onnx-feature-network.ts';
import { StateDictGraphBuilder } from './state-dict-graph-builder.ts';

export const DINOV2_OPSET = 17;
/** Bumped whenever this file emits a different graph for the same weights, to retire cached graphs. */
export const DINOV2_GRAPH_VERSION = 1;

/** [rows, cols] row-major → [cols, rows]. */
function transposed(a: Float32Array | Float64Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

class Dinov2GraphBuilder extends StateDictGraphBuilder {
  private readonly d: number;

  constructor(
    private readonly c: Dinov2Config,
    weights: ReadonlyMap<string, StoredTensor>,
  ) {
    super('dinov2_vit_l14', ['x', 'resize_h', 'resize_wt', 'features'], weights);
    this.d = c.embedDim;
  }

  private scalar(value: number): string {
    return this.g.constant([value], 'float32', []);
  }

  /** y = x·Wᵀ + b for a PyTorch Linear [out, in], stored transposed for MatMul. */
  private linear(x: string, key: string, inDim: number, outDim: number): string {
    const w = this.g.initializer(`${key}.weight_t`, transposed(this.param(`${key}.weight`), outDim, inDim), [inDim, outDim]);
    const b = this.weight(`${key}.bias`, [outDim]);
    return this.g.node('Add', [this.g.node('MatMul', [x, w], {}, `${key}/matmul`), b], {}, key);
  }

  private layerNorm(x: string, key: string): string {
    const w = this.weight(`${key}.weight`, [this.d]);
    const b = this.weight(`${key}.bias`, [this.d]);
    return this.g.node('LayerNormalization', [x, w, b], { axis: -1, epsilon: { f: DINOV2_LAYERNORM_EPS } }, key);
  }

  private layerScale(x: string, key: string): string {
    return this.g.node('Mul', [x, this.g.initializer(key, this.param(key), [this.d])], {}, key);
  }

  /** Multi-head self-attention over all tokens: x [N, T, D] → [N, T, D]. */
  private attention(x: string, key: string): string {
    const { d } = this;
    const heads = this.c.numHeads;
    const headDim = d / heads;
    const qkv = this.linear(x, `${key}.qkv`, d, 3 * d);
    // [N, T, 3D] viewed as [N, T, 3, H, d]: q, k, v first, heads within each.
    const split = this.g.node('Reshape', [qkv, this.g.constant([0, 0, 3, heads, headDim], 'int64')], {}, `${key}/split`);
    const parts = this.g.node('Transpose', [split], { perm: [2, 0, 3, 1, 4] }, `${key}/parts`);
    const part = (i: number, name: string) =>
      this.g.node('Gather', [parts, this.g.constant([i], 'int64', [])], { axis: 0 }, `${key}/${name}`);
    const q = this.g.node('Mul', [part(0, 'q'), this.scalar(headDim ** -0.5)], {}, `${key}/q_scaled`);
    const kt = this.g.node('Transpose', [part(1, 'k')], { perm: [0, 1, 3, 2] }, `${key}/kt`);
    const scores = this.g.node('MatMul', [q, kt], {}, `${key}/scores`);
    const weights = this.g.node('Softmax', [scores], { axis: -1 }, `${key}/softmax`);
    const o = this.g.node('MatMul', [weights, part(2, 'v')], {}, `${key}/o`);
    const merged = this.g.node(
      'Reshape',
      [this.g.node('Transpose', [o], { perm: [0, 2, 1, 3] }, `${key}/o_tokens`), this.g.constant([0, 0, d], 'int64')],
      {},
      `${key}/merged`,
    );
    return this.linear(merged, `${key}.proj`, d, d);
  }

  /** fc2(GELU(fc1(x))) with the exact GELU ½x(1 + erf(x/√2)), written as onnxruntime fuses it. */
  private mlp(x: string, key: string): string {
    const hidden = DINOV2_MLP_RATIO * this.d;
    const h = this.linear(x, `${key}.fc1`, this.d, hidden);
    const erf = this.g.node('Erf', [this.g.node('Div', [h, this.scalar(Math.SQRT2)])]);
    const gelu = this.g.node(
      'Mul',
      [this.g.node('Mul', [h, this.g.node('Add', [erf, this.scalar(1)])]), this.scalar(0.5)],
      {},
      `${key}/gelu`,
    );
    return this.linear(gelu, `${key}.fc2`, hidden, this.d);
  }

  private block(x: string, i: number): string {
    const key = `blocks.${i}`;
    const attn = this.layerScale(this.attention(this.layerNorm(x, `${key}.norm1`), `${key}.attn`), `${key}.ls1.gamma`);
    const h = this.g.node('Add', [x, attn], {}, `${key}/attn_residual`);
    const mlp = this.layerScale(this.mlp(this.layerNorm(h, `${key}.norm2`), `${key}.mlp`), `${key}.ls2.gamma`);
    return this.g.node('Add', [h, mlp], {}, `${key}/mlp_residual`);
  }

  /** [N, H, W, C] pixel bytes → [N, 3, 224, 224], edm2's resize_mode 'torch' preprocessing. */
  private preprocess(x: string): string {
    const nchw = this.g.node('Transpose', [x], { perm: [0, 3, 1, 2] }, 'nchw');
    const rows = this.g.node('MatMul', [this.g.input('resize_h', 'float32', [DINOV2_INPUT_SIZE, 'H']), nchw], {}, 'resize/rows');
    const resized = this.g.node('MatMul', [rows, this.g.input('resize_wt', 'float32', ['W', DINOV2_INPUT_SIZE])], {}, 'resize');
    const unit = this.g.node('Div', [resized, this.scalar(255)], {}, 'unit');
    const perChannel = (values: readonly number[]) => this.g.constant([...values], 'float32', [1, 3, 1, 1]);
    return this.g.node(
      'Div',
      [this.g.node('Sub', [unit, perChannel(DINOV2_MEAN)], {}, 'centred'), perChannel(DINOV2_STD)],
      {},
      'normalised',
    );
  }

  /** [N, 3, 224, 224] → [N, 1 + R + 256, D]: class token, registers, patch tokens, with positions. */
  private tokens(x: string, batch: string): string {
    const { d } = this;
    const grid = DINOV2_PATCH_GRID * DINOV2_PATCH_GRID;
    const conv = this.g.node(
      'Conv',
      [x, this.weight('patch_embed.proj.weight', [d, 3, DINOV2_PATCH_SIZE, DINOV2_PATCH_SIZE]), this.weight('patch_embed.proj.bias', [d])],
      { kernel_shape: [DINOV2_PATCH_SIZE, DINOV2_PATCH_SIZE], strides: [DINOV2_PATCH_SIZE, DINOV2_PATCH_SIZE] },
      'patch_embed.proj',
    );
    const flat = this.g.node('Reshape', [conv, this.g.constant([0, d, grid], 'int64')], {}, 'patch_embed/flat');
    const patches = this.g.node('Transpose', [flat], { perm: [0, 2, 1] }, 'patch_embed');
    const pos = interpolatePositionEmbedding(this.param('pos_embed'), d, this.c);
    const withPos = this.g.node('Add', [patches, this.g.initializer('pos_embed.patches', pos.subarray(d), [1, grid, d])], {}, 'patches');
    // The class token with its position row, added in float32 as torch adds it.
    const cls = Float32Array.from(this.param('cls_token'), (v, k) => v + Math.fround(pos[k]));
    const perImage = (name: string, values: Float32Array, count: number) => {
      const shape = this.g.node('Concat', [batch, this.g.constant([count, d], 'int64')], { axis: 0 }, `${name}/shape`);
      return this.g.node('Expand', [this.g.initializer(name, values, [1, count, d]), shape], {}, `${name}/batch`);
    };
    const parts = [perImage('cls_token', cls, 1)];
    if (this.c.registers > 0) parts.push(perImage('register_tokens', this.param('register_tokens'), this.c.registers));
    parts.push(withPos);
    return this.g.node('Concat', parts, { axis: 1 }, 'tokens');
  }

  build(): Uint8Array {
    const x = this.g.input('x', 'float32', ['N', 'H', 'W', 'C']);
    const batch = this.g.node('Shape', [x], { start: 0, end: 1 }, 'batch');
    let h = this.tokens(this.preprocess(x), batch);
    for (let i = 0; i < this.c.depth; i++) h = this.block(h, i);
    const cls = this.g.node('Gather', [h, this.g.constant([0], 'int64', [])], { axis: 1 }, 'cls');
    this.g.output(this.layerNorm(cls, 'norm'), 'features', 'float32', ['N', this.d]);
    return this.g.toModel(DINOV2_OPSET, `dinov2 ${this.c.hubModel} (edm2 DINOv2Detector preprocessing)`);
  }
}

/**
 * Builds the ONNX model of the FD_DINOv2 network from dinov2's state_dict (official keys). Throws
 * naming the first missing, unexpected or mis-shaped key.
 */
export function buildDinov2Onnx(config: Dinov2Config, weights: ReadonlyMap<string, StoredTensor>, what = 'DINOv2 weights'): Uint8Array {
  checkStateDict(dinov2ParamSpecs(config), weights, what, DINOV2_MISMATCH_HINT);
  return new Dinov2GraphBuilder(config, weights).build();
}

/** The graph's `resize_h` [224, H] and `resize_wt` [W, 224] for H×W images (antialiased bicubic, float64 rounded once). */
export function dinov2ResizeInputs(height: number, width: number): Record<'resize_h' | 'resize_wt', FeatureGraphInput> {
  const size = DINOV2_INPUT_SIZE;
  return {
    resize_h: { data: Float32Array.from(antialiasedBicubicMatrix(height, size)), dims: [size, height] },
    resize_wt: { data: transposed(antialiasedBicubicMatrix(width, size), size, width), dims: [width, size] },
  };
}
