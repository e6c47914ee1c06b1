/**
 * The KL autoencoder's decoder (packages/networks/src/vae/decoder-plan.ts) as an ONNX graph,
 * weights as initializers.
 *
 * Graph input: `z` [N, latentChannels, h, w] float32, the raw latent the sampler produced (the
 * graph divides by scaling_factor itself); N, h and w are symbolic, so one graph serves every batch
 * and latent size. Outputs: `images` [N, outChannels, H, W] float32 = decoder(post_quant_conv(z / s))
 * (nominally in [−1, 1], not clamped), and `uint8` [N, H, W, outChannels] uint8 = DiT sample_ddp.py's
 * trunc(clamp(127.5·images + 128, 0, 255)), NHWC, computed in float32 as torch does.
 *
 * With dtype float16 (the cuda and webgpu providers) the body runs in half precision with half-precision
 * weights: from conv_in through every ResnetBlock, AttnBlock and upsampling conv. The z / s division and
 * post_quant_conv (a 4-channel 1×1 conv) come before the cast, and GroupNorm's statistics, the attention
 * softmax and the head (norm_out, conv_out) stay in float32, as the UNet's float16 graph keeps them: the
 * square of an activation past 256 overflows half precision (65504), and a trained decoder's activations
 * can go past it, so a half-precision variance could be infinite; and the head is < 0.1 % of the decoder's
 * work, so `images` comes out of a float32 conv and the uint8 step is the float32 graph's. The graph's
 * inputs and outputs are the same in both precisions.
 */
import {
  checkDecoderWeights,
  DECODER_GROUPNORM_EPS,
  type DecoderAttention,
  type DecoderConfig,
  type DecoderResnet,
  planDecoder,
  type StoredTensor,
} from '@diffq/networks';
import type { GraphDtype } from './graph-dtype.ts';
import { StateDictGraphBuilder } from './state-dict-graph-builder.ts';

/** Default-domain opset (DepthToSpace DCR, Softmax on the last axis, Split with a sizes input). */
export const DECODER_OPSET = 17;

export interface DecoderOnnxOptions {
  /** Precision of the decoder's body; default float32. */
  dtype?: GraphDtype;
}

/** A value of the decoder: its name and channel count (the spatial size stays symbolic). */
interface Feature {
  value: string;
  ch: number;
}

class DecoderGraphBuilder extends StateDictGraphBuilder {
  constructor(
    private readonly config: DecoderConfig,
    weights: ReadonlyMap<string, StoredTensor>,
    /** Element type of the body's activations and weights. */
    private readonly act: GraphDtype,
  ) {
    super('kl_decoder', ['z', 'images', 'uint8'], weights);
  }

  /** Conv2d with the PyTorch weight [out, in, k, k] (a Linear [out, in] when k = 1), padding (k−1)/2, in `type`. */
  private conv(key: string, x: string, inCh: number, outCh: number, k: number, type: GraphDtype = this.act): string {
    const pad = (k - 1) / 2;
    const w = this.weight(`${key}.weight`, [outCh, inCh, k, k], type);
    const b = this.weight(`${key}.bias`, [outCh], type);
    return this.g.node('Conv', [x, w, b], { kernel_shape: [k, k], pads: [pad, pad, pad, pad] }, key);
  }

  /**
   * GroupNorm(G groups, eps 1e-6) in float32 on [N, C, H, W]: the groups are normalised as the
   * instances of an [N, G, C/G·H·W] tensor, then the per-channel affine γ, β is applied; the result
   * is given as `outType`.
   */
  private groupNorm(key: string, f: Feature, outType: GraphDtype = this.act): string {
    const groups = this.config.normNumGroups;
    const xf = this.castTo(f.value, this.act, 'float32', `${key}/to_f32`);
    const grouped = this.g.node('Reshape', [xf, this.i64([0, groups, -1])], {}, `${key}/group`);
    const ones = this.g.constant(Array(groups).fill(1), 'float32');
    const zeros = this.g.constant(Array(groups).fill(0), 'float32');
    const normed = this.g.node('InstanceNormalization', [grouped, ones, zeros], { epsilon: { f: DECODER_GROUPNORM_EPS } }, `${key}/norm`);
    const back = this.g.node('Reshape', [normed, this.g.node('Shape', [f.value], {}, `${key}/shape`)], {}, `${key}/ungroup`);
    const gamma = this.weight(`${key}.weight`, [f.ch, 1, 1]);
    const beta = this.weight(`${key}.bias`, [f.ch, 1, 1]);
    const y = this.g.node('Add', [this.g.node('Mul', [back, gamma], {}, `${key}/gamma`), beta], {}, `${key}/beta`);
    return this.castTo(y, 'float32', outType, `${key}/to_act`);
  }

  /** ResnetBlock: shortcut(x) + conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))), no time embedding. */
  private resnet(r: DecoderResnet, x: Feature): Feature {
    let h = this.conv(r.conv1, this.silu(this.groupNorm(r.norm1, x), r.norm1), r.inCh, r.outCh, 3);
    h = this.conv(r.conv2, this.silu(this.groupNorm(r.norm2, { value: h, ch: r.outCh }), r.norm2), r.outCh, r.outCh, 3);
    const skip = r.shortcut === null ? x.value : this.conv(r.shortcut, x.value, r.inCh, r.outCh, 1);
    return { value: this.g.node('Add', [skip, h], {}, `${r.conv2}/residual`), ch: r.outCh };
  }

  /**
   * AttnBlock: n = GN(x); q, k, v = 1×1 projections of n; per image, over the P = H·W positions,
   * W = softmax_j(q_iᵀk_j · C^−½), o_i = Σ_j W[i, j]·v_j; x + proj(o). One head over all channels.
   * q, k and v are one 3C-wide conv, with C^−½ folded into the q rows.
   */
  private attention(a: DecoderAttention, x: Feature): Feature {
    const C = a.ch;
    const scale = 1 / Math.sqrt(C);
    const w = new Float32Array(3 * C * C);
    const b = new Float32Array(3 * C);
    [a.q, a.k, a.v].forEach((key, part) => {
      const s = part === 0 ? scale : 1;
      const pw = this.param(`${key}.weight`);
      const pb = this.param(`${key}.bias`);
      for (let i = 0; i < C * C; i++) w[part * C * C + i] = pw[i] * s;
      for (let i = 0; i < C; i++) b[part * C + i] = pb[i] * s;
    });
    const normed = this.groupNorm(a.norm, x);
    const qkvW = this.g.initializer(`${a.q}.qkv_weight`, w, [3 * C, C, 1, 1], this.act);
    const qkvB = this.g.initializer(`${a.q}.qkv_bias`, b, [3 * C], this.act);
    const qkv = this.g.node('Conv', [normed, qkvW, qkvB], { kernel_shape: [1, 1] }, `${a.q}/qkv`);
    const parts = this.g.nodeN('Split', [qkv, this.i64([C, C, C])], { axis: 1 }, `${a.q}/split`, 3);
    const [q, k, v] = parts.map((p, i) => this.g.node('Reshape', [p, this.i64([0, C, -1])], {}, `${a.q}/${'qkv'[i]}_flat`));
    const logits = this.g.node('MatMul', [this.g.node('Transpose', [q], { perm: [0, 2, 1] }, `${a.q}/q_t`), k], {}, `${a.q}/logits`);
    const logitsF32 = this.castTo(logits, this.act, 'float32', `${a.q}/logits_f32`);
    const weights = this.castTo(
      this.g.node('Softmax', [logitsF32], { axis: -1 }, `${a.q}/softmax`),
      'float32',
      this.act,
      `${a.q}/weights_act`,
    );
    // o[c, i] = Σ_j v[c, j]·W[i, j], computed as (W·vᵀ)ᵀ so that only the [P, C] tensors are transposed.
    const vT = this.g.node('Transpose', [v], { perm: [0, 2, 1] }, `${a.q}/v_t`);
    const o = this.g.node('Transpose', [this.g.node('MatMul', [weights, vT], {}, `${a.q}/attend`)], { perm: [0, 2, 1] }, `${a.q}/o`);
    const merged = this.g.node('Reshape', [o, this.g.node('Shape', [x.value], {}, `${a.q}/shape`)], {}, `${a.q}/unflat`);
    const projected = this.conv(a.out, merged, C, C, 1);
    return { value: this.g.node('Add', [x.value, projected], {}, `${a.out}/residual`), ch: C };
  }

  /**
   * conv3×3(nearest×2(x)) without forming the upsampled tensor: output pixel (2i+a, 2j+b) sees
   * input rows {i−1, i} (a = 0) or {i, i+1} (a = 1) and likewise columns, so each of the four
   * phases is a 2×2 conv of x whose taps are sums of the 3×3 taps (a = 0: [w₀, w₁+w₂]; a = 1:
   * [w₀+w₁, w₂]), padded on the side it reaches past. 16 taps per input pixel instead of 36; the
   * phases are interleaved back with DepthToSpace (DCR: channel (2a+b)·C + c → (c, 2i+a, 2j+b)).
   */
  private upsampleConv(key: string, x: Feature): Feature {
    const C = x.ch;
    const w = this.param(`${key}.weight`);
    const bias = this.weight(`${key}.bias`, [C], this.act);
    // taps[a][r] = which 3×3 rows (or columns) add up to the 2×2 tap r of phase a.
    const taps = [
      [[0], [1, 2]],
      [[0, 1], [2]],
    ];
    const phases: string[] = [];
    for (const a of [0, 1]) {
      for (const b of [0, 1]) {
        const k = new Float32Array(C * C * 4);
        for (let oi = 0; oi < C * C; oi++) {
          for (let r = 0; r < 2; r++) {
            for (let s = 0; s < 2; s++) {
              let sum = 0;
              for (const ky of taps[a][r]) for (const kx of taps[b][s]) sum += w[oi * 9 + ky * 3 + kx];
              k[oi * 4 + r * 2 + s] = sum;
            }
          }
        }
        const weight = this.g.initializer(`${key}.phase${a}${b}`, k, [C, C, 2, 2], this.act);
        const pads = [a === 0 ? 1 : 0, b === 0 ? 1 : 0, a === 0 ? 0 : 1, b === 0 ? 0 : 1];
        phases.push(this.g.node('Conv', [x.value, weight, bias], { kernel_shape: [2, 2], pads }, `${key}/phase${a}${b}`));
      }
    }
    const stacked = this.g.node('Concat', phases, { axis: 1 }, `${key}/phases`);
    return { value: this.g.node('DepthToSpace', [stacked], { blocksize: 2, mode: 'DCR' }, `${key}/interleave`), ch: C };
  }

  build(): Uint8Array {
    const c = this.config;
    const plan = planDecoder(c);
    const z = this.g.input('z', 'float32', ['N', c.latentChannels, 'h', 'w']);
    const scaled = this.g.node('Div', [z, this.g.constant([c.scalingFactor], 'float32', [])], {}, 'z_unscaled');
    const post = this.conv(plan.postQuantConv, scaled, c.latentChannels, c.latentChannels, 1, 'float32');
    const body = this.castTo(post, 'float32', this.act, 'z_act');
    let h: Feature = { value: this.conv(plan.convIn, body, c.latentChannels, plan.midAttention.ch, 3), ch: plan.midAttention.ch };
    h = this.resnet(plan.midResnets[0], h);
    h = this.attention(plan.midAttention, h);
    h = this.resnet(plan.midResnets[1], h);
    for (const level of plan.levels) {
      for (const r of level.resnets) h = this.resnet(r, h);
      if (level.upsampleConv !== null) h = this.upsampleConv(level.upsampleConv, h);
    }
    const head = this.silu(this.groupNorm(plan.normOut, h, 'float32'), plan.normOut);
    const images = this.conv(plan.convOut, head, h.ch, c.outChannels, 3, 'float32');
    this.g.output(images, 'images', 'float32', ['N', c.outChannels, 'H', 'W']);

    // 127.5·x + 128 in float32 (two roundings, as torch), clamp, then truncation: Floor makes the
    // value integral first, so the Cast to uint8 is exact whatever rounding mode it uses.
    const level = this.g.node('Add', [
      this.g.node('Mul', [images, this.g.constant([127.5], 'float32', [])], {}, 'uint8/scale'),
      this.g.constant([128], 'float32', []),
    ]);
    const clamped = this.g.node(
      'Clip',
      [level, this.g.constant([0], 'float32', []), this.g.constant([255], 'float32', [])],
      {},
      'uint8/clamp',
    );
    const bytes = this.g.cast(this.g.node('Floor', [clamped], {}, 'uint8/trunc'), 'uint8', 'uint8/cast');
    const nhwc = this.g.node('Transpose', [bytes], { perm: [0, 2, 3, 1] }, 'uint8/nhwc');
    this.g.output(nhwc, 'uint8', 'uint8', ['N', 'H', 'W', c.outChannels]);
    return this.g.toModel(DECODER_OPSET, `KL autoencoder decoder (${c.keyLayout} keys), ${this.act} body`);
  }
}

/**
 * Builds the ONNX model of a KL decoder from its config and decode-side state_dict (in
 * `config.keyLayout`). Throws naming the first missing, unexpected or mis-shaped key.
 */
export function buildDecoderOnnx(
  config: DecoderConfig,
  weights: ReadonlyMap<string, StoredTensor>,
  options: DecoderOnnxOptions = {},
): Uint8Array {
  checkDecoderWeights(config, weights, 'decoder weights');
  return new DecoderGraphBuilder(config, weights, options.dtype ?? 'float32').build();
}
