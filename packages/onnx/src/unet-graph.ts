/**
 * guided-diffusion's UNetModel (unet.py) as an ONNX graph, weights as initializers.
 *
 * Graph inputs: `x` [N, C, H, W] float32, `t` [N] float32 (the timesteps exactly as the network
 * receives them), and `y` [N] int64 for a class-conditional model; output `out` [N, C_out, H, W]
 * float32. N is a symbolic dimension, so one graph serves every batch size.
 *
 * With dtype float16 the graph follows guided-diffusion's use_fp16: the torso (input, middle and
 * output blocks) runs in half precision with half-precision convolution weights, while the timestep
 * MLP, the embedding projections (Linear layers), GroupNorm, the attention softmax and the final
 * `out` head stay in float32.
 */
import {
  checkStateDict,
  GROUPNORM_EPS,
  GROUPNORM_GROUPS,
  type Layer,
  planUNet,
  type StoredTensor,
  timestepFrequencies,
  type UNetConfig,
  unetParamSpecs,
} from '@diffq/networks';
import type { ElemType } from './onnx-graph.ts';
import { StateDictGraphBuilder } from './state-dict-graph-builder.ts';

export interface UNetOnnxOptions {
  /** Precision of the torso; default float32. */
  dtype?: 'float32' | 'float16';
}

/** Default-domain opset the graph is written against (Softmax on the last axis, Split with sizes input). */
export const UNET_OPSET = 17;
type ResLayer = Extract<Layer, { kind: 'res' }>;
type AttentionLayer = Extract<Layer, { kind: 'attention' }>;

/** A value of the torso: its name, channel count and spatial size. */
interface Feature {
  value: string;
  ch: number;
  res: number;
}

class UNetGraphBuilder extends StateDictGraphBuilder {
  /** Element type of torso activations and convolution weights. */
  private readonly act: ElemType;
  private embSilu = '';

  constructor(
    private readonly cfg: UNetConfig,
    weights: ReadonlyMap<string, StoredTensor>,
    dtype: 'float32' | 'float16',
  ) {
    super('adm_unet', ['x', 't', 'y', 'out'], weights);
    this.act = dtype;
  }

  /** nn.Linear on [N, in] with the PyTorch weight [out, in]: y = x·Wᵀ + b, in float32. */
  private linear(key: string, x: string, inDim: number, outDim: number): string {
    const w = this.weight(`${key}.weight`, [outDim, inDim]);
    const b = this.weight(`${key}.bias`, [outDim]);
    return this.g.node('Gemm', [x, w, b], { transB: 1 }, key);
  }

  /** Conv2d with a k×k PyTorch weight [out, in, k, k], padding (k−1)/2. */
  private conv(key: string, x: string, inCh: number, outCh: number, k: number, stride = 1, type = this.act): string {
    const pad = (k - 1) / 2;
    const w = this.weight(`${key}.weight`, [outCh, inCh, k, k], type);
    const b = this.weight(`${key}.bias`, [outCh], type);
    return this.g.node('Conv', [x, w, b], { kernel_shape: [k, k], pads: [pad, pad, pad, pad], strides: [stride, stride] }, key);
  }

  /**
   * GroupNorm(32 groups, eps 1e-5) in float32 on [N, C, H, W]: the groups are normalised as the
   * instances of an [N, 32, C/32·H·W] tensor, then the per-channel affine γ, β is applied.
   * (onnxruntime's GroupNormalization-21 agrees, but is no faster on CPU and is less exact.)
   */
  private groupNorm(key: string, f: Feature, outType = this.act): string {
    const xf = this.castTo(f.value, this.act, 'float32', `${key}/to_f32`);
    const grouped = this.g.node('Reshape', [xf, this.i64([0, GROUPNORM_GROUPS, -1])], {}, `${key}/group`);
    const ones = this.g.constant(Array(GROUPNORM_GROUPS).fill(1), 'float32');
    const zeros = this.g.constant(Array(GROUPNORM_GROUPS).fill(0), 'float32');
    const normed = this.g.node('InstanceNormalization', [grouped, ones, zeros], { epsilon: { f: GROUPNORM_EPS } }, `${key}/norm`);
    const back = this.g.node('Reshape', [normed, this.i64([0, f.ch, f.res, f.res])], {}, `${key}/ungroup`);
    const gamma = this.weight(`${key}.weight`, [f.ch, 1, 1]);
    const beta = this.weight(`${key}.bias`, [f.ch, 1, 1]);
    const y = this.g.node('Add', [this.g.node('Mul', [back, gamma], {}, `${key}/gamma`), beta], {}, `${key}/beta`);
    return this.castTo(y, 'float32', outType, `${key}/to_act`);
  }

  /** Nearest-neighbour ×2 upsampling: out[i, j] = in[⌊i/2⌋, ⌊j/2⌋]. */
  private upsample(x: string, hint: string): string {
    const scales = this.g.constant([1, 1, 2, 2], 'float32');
    return this.g.node(
      'Resize',
      [x, '', scales],
      { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
      `${hint}/up`,
    );
  }

  /** 2×2 average pooling with stride 2. */
  private avgPool(x: string, hint: string): string {
    return this.g.node('AveragePool', [x], { kernel_shape: [2, 2], strides: [2, 2] }, `${hint}/down`);
  }

  /**
   * ResBlock: h = conv(SiLU(GN(x))) (resampled between the SiLU and the conv when up/down),
   * e = Linear(SiLU(emb)); with scale-shift norm h = GN(h)·(1 + scale) + shift, else h = GN(h + e);
   * then out = skip(x) + conv(SiLU(h)), skip a 1×1 conv when the width changes.
   */
  private resBlock(key: string, layer: ResLayer, x: Feature): Feature {
    const { inCh, outCh } = layer;
    let h = this.silu(this.groupNorm(`${key}.in_layers.0`, x), `${key}.in_layers`);
    let skipIn = x.value;
    let res = x.res;
    if (layer.resample === 'up') {
      h = this.upsample(h, `${key}.h_upd`);
      skipIn = this.upsample(skipIn, `${key}.x_upd`);
      res *= 2;
    } else if (layer.resample === 'down') {
      h = this.avgPool(h, `${key}.h_upd`);
      skipIn = this.avgPool(skipIn, `${key}.x_upd`);
      res /= 2;
    }
    h = this.conv(`${key}.in_layers.2`, h, inCh, outCh, 3);

    const projected = this.linear(`${key}.emb_layers.1`, this.embSilu, 4 * this.cfg.modelChannels, layer.scaleShift ? 2 * outCh : outCh);
    const e = this.castTo(
      this.g.node('Unsqueeze', [projected, this.i64([2, 3])], {}, `${key}/emb_hw`),
      'float32',
      this.act,
      `${key}/emb_act`,
    );
    if (layer.scaleShift) {
      const [scale, shift] = this.g.nodeN('Split', [e, this.i64([outCh, outCh])], { axis: 1 }, `${key}/scale_shift`, 2);
      const onePlusScale = this.g.node('Add', [scale, this.g.constant([1], this.act, [])], {}, `${key}/one_plus_scale`);
      const normed = this.groupNorm(`${key}.out_layers.0`, { value: h, ch: outCh, res });
      h = this.g.node('Add', [this.g.node('Mul', [normed, onePlusScale], {}, `${key}/scale`), shift], {}, `${key}/shift`);
    } else {
      h = this.groupNorm(`${key}.out_layers.0`, { value: this.g.node('Add', [h, e], {}, `${key}/add_emb`), ch: outCh, res });
    }
    h = this.conv(`${key}.out_layers.3`, this.silu(h, `${key}.out_layers`), outCh, outCh, 3);
    const skip = outCh === inCh ? skipIn : this.conv(`${key}.skip_connection`, skipIn, inCh, outCh, 1);
    return { value: this.g.node('Add', [skip, h], {}, `${key}/residual`), ch: outCh, res };
  }

  /**
   * The qkv projection's rows reordered to (q/k/v, head, channel), the new attention order, with
   * the q and k rows scaled by ch^(−1/4) as the reference scales q and k before their product.
   * The legacy order (QKVAttentionLegacy) has the rows as (head, q/k/v, channel).
   */
  private qkvParams(key: string, layer: AttentionLayer): { w: Float32Array; b: Float32Array } {
    const { ch, heads, newOrder } = layer;
    const headCh = ch / heads;
    const w = this.param(`${key}.qkv.weight`);
    const b = this.param(`${key}.qkv.bias`);
    const wOut = new Float32Array(w.length);
    const bOut = new Float32Array(b.length);
    const scale = 1 / Math.sqrt(Math.sqrt(headCh));
    for (let part = 0; part < 3; part++) {
      const s = part < 2 ? scale : 1;
      for (let head = 0; head < heads; head++) {
        for (let c = 0; c < headCh; c++) {
          const from = newOrder ? part * ch + head * headCh + c : (head * 3 + part) * headCh + c;
          const to = part * ch + head * headCh + c;
          bOut[to] = b[from] * s;
          for (let i = 0; i < ch; i++) wOut[to * ch + i] = w[from * ch + i] * s;
        }
      }
    }
    return { w: wOut, b: bOut };
  }

  /**
   * AttentionBlock: qkv = W·GN(x) + b (a 1×1 conv), per head a = softmax(qᵀk)·v over the T = H·W
   * positions, out = x + proj_out(a). Thanks to qkvParams one graph serves both attention orders.
   */
  private attention(key: string, layer: AttentionLayer, x: Feature): Feature {
    const { ch, heads } = layer;
    const headCh = ch / heads;
    const T = x.res * x.res;
    const { w, b } = this.qkvParams(key, layer);
    const normed = this.groupNorm(`${key}.norm`, x);
    const qkvW = this.g.initializer(`${key}.qkv.weight`, w, [3 * ch, ch, 1, 1], this.act);
    const qkvB = this.g.initializer(`${key}.qkv.bias`, b, [3 * ch], this.act);
    const qkv = this.g.node('Conv', [normed, qkvW, qkvB], { kernel_shape: [1, 1] }, `${key}.qkv`);
    // [N, 3C, H, W] → [N·heads, headCh, T] for each of q, k, v.
    const parts = this.g.nodeN('Split', [qkv, this.i64([ch, ch, ch])], { axis: 1 }, `${key}/qkv_split`, 3);
    const [q, k, v] = parts.map((p, i) => this.g.node('Reshape', [p, this.i64([-1, headCh, T])], {}, `${key}/${'qkv'[i]}_heads`));
    const logits = this.g.node('MatMul', [this.g.node('Transpose', [q], { perm: [0, 2, 1] }, `${key}/q_t`), k], {}, `${key}/logits`);
    const logitsF32 = this.castTo(logits, this.act, 'float32', `${key}/logits_f32`);
    const weights = this.castTo(
      this.g.node('Softmax', [logitsF32], { axis: -1 }, `${key}/softmax`),
      'float32',
      this.act,
      `${key}/weights_act`,
    );
    // a[c, t] = Σ_s v[c, s]·w[t, s], computed as (w·vᵀ)ᵀ so that only the small [T, headCh] tensors are transposed.
    const vT = this.g.node('Transpose', [v], { perm: [0, 2, 1] }, `${key}/v_t`);
    const a = this.g.node('Transpose', [this.g.node('MatMul', [weights, vT], {}, `${key}/attend`)], { perm: [0, 2, 1] }, `${key}/a`);
    const merged = this.g.node('Reshape', [a, this.i64([-1, ch, x.res, x.res])], {}, `${key}/merge_heads`);
    const pw = this.weight(`${key}.proj_out.weight`, [ch, ch, 1, 1], this.act);
    const pb = this.weight(`${key}.proj_out.bias`, [ch], this.act);
    const projected = this.g.node('Conv', [merged, pw, pb], { kernel_shape: [1, 1] }, `${key}.proj_out`);
    return { value: this.g.node('Add', [x.value, projected], {}, `${key}/residual`), ch, res: x.res };
  }

  private layer(key: string, layer: Layer, x: Feature): Feature {
    switch (layer.kind) {
      case 'conv':
        return { value: this.conv(key, x.value, layer.inCh, layer.outCh, 3), ch: layer.outCh, res: x.res };
      case 'downsample':
        return { value: this.conv(`${key}.op`, x.value, layer.ch, layer.ch, 3, 2), ch: layer.ch, res: x.res / 2 };
      case 'upsample':
        return { value: this.conv(`${key}.conv`, this.upsample(x.value, key), layer.ch, layer.ch, 3), ch: layer.ch, res: x.res * 2 };
      case 'res':
        return this.resBlock(key, layer, x);
      case 'attention':
        return this.attention(key, layer, x);
    }
  }

  private block(key: string, block: Layer[], x: Feature): Feature {
    return block.reduce((h, layer, j) => this.layer(`${key}.${j}`, layer, h), x);
  }

  /** emb = Linear(SiLU(Linear([cos(t·freqs), sin(t·freqs)]))) (+ label_emb[y]); returns SiLU(emb). */
  private embedding(t: string, y: string | undefined): string {
    const mc = this.cfg.modelChannels;
    const embDim = 4 * mc;
    const freqs = this.g.initializer('timestep_freqs', timestepFrequencies(mc), [1, Math.floor(mc / 2)]);
    const args = this.g.node('Mul', [this.g.node('Unsqueeze', [t, this.i64([1])], {}, 't_column'), freqs], {}, 'timestep_args');
    let sinusoid = this.g.node('Concat', [this.g.node('Cos', [args]), this.g.node('Sin', [args])], { axis: 1 }, 'timestep_embedding');
    if (mc % 2 === 1) sinusoid = this.g.node('Pad', [sinusoid, this.i64([0, 0, 0, 1])], {}, 'timestep_embedding_pad');
    let emb = this.linear('time_embed.2', this.silu(this.linear('time_embed.0', sinusoid, mc, embDim), 'time_embed'), embDim, embDim);
    if (y !== undefined && this.cfg.numClasses !== null) {
      const table = this.weight('label_emb.weight', [this.cfg.numClasses, embDim]);
      emb = this.g.node('Add', [emb, this.g.node('Gather', [table, y], { axis: 0 }, 'label_emb')], {}, 'emb');
    }
    // Every ResBlock starts its embedding projection with SiLU; computing it once serves them all.
    return this.silu(emb, 'emb');
  }

  build(): Uint8Array {
    const cfg = this.cfg;
    const { torso, outputBlocks } = planUNet(cfg);
    const size = cfg.imageSize;
    const x = this.g.input('x', 'float32', ['N', cfg.inChannels, size, size]);
    const t = this.g.input('t', 'float32', ['N']);
    const y = cfg.numClasses !== null ? this.g.input('y', 'int64', ['N']) : undefined;
    this.embSilu = this.embedding(t, y);

    let h: Feature = { value: this.castTo(x, 'float32', this.act, 'x_act'), ch: cfg.inChannels, res: size };
    const skips: Feature[] = [];
    torso.inputBlocks.forEach((block, i) => {
      h = this.block(`input_blocks.${i}`, block, h);
      skips.push(h);
    });
    h = this.block('middle_block', torso.middleBlock, h);
    outputBlocks.forEach((block, i) => {
      const skip = skips.pop();
      if (!skip) throw new Error('internal: the output blocks ran out of skip connections');
      const joined = this.g.node('Concat', [h.value, skip.value], { axis: 1 }, `output_blocks.${i}/concat`);
      h = this.block(`output_blocks.${i}`, block, { value: joined, ch: h.ch + skip.ch, res: h.res });
    });

    const head = this.silu(this.groupNorm('out.0', h, 'float32'), 'out');
    const out = this.conv('out.2', head, h.ch, cfg.outChannels, 3, 1, 'float32');
    this.g.output(out, 'out', 'float32', ['N', cfg.outChannels, size, size]);
    return this.g.toModel(UNET_OPSET, `guided-diffusion UNetModel, ${this.act} torso`);
  }
}

/**
 * Builds the ONNX model of a UNet from its parsed config and its PyTorch state_dict (keys without
 * prefix). Throws naming the first missing, unexpected or mis-shaped key.
 */
export function buildUNetOnnx(config: UNetConfig, weights: ReadonlyMap<string, StoredTensor>, options: UNetOnnxOptions = {}): Uint8Array {
  checkStateDict(unetParamSpecs(config), weights, 'UNet weights');
  return new UNetGraphBuilder(config, weights, options.dtype ?? 'float32').build();
}
