/**
 * pytorch-fid's FID Inception v3 (packages/diffusion/src/features/inception-v3.ts) as an ONNX graph,
 * weights as initializers.
 *
 * Graph input: `x` [N, 3, 299, 299] float32, already resized and scaled (preprocessInception).
 * Outputs, one row per image: `pool3` [N, 2048], `block0_64` [N, 64], `block1_192` [N, 192],
 * `block2_768` [N, 768] (each block's output averaged over positions, pytorch-fid's `--dims`),
 * `logits_unbiased` [N, 1008] = pool3·fc.weightᵀ without the bias (the Inception Score as
 * guided-diffusion's evaluator computes it), and `spatial_2023` [N, 2023], Mixed_6d.branch1x1's
 * channels 0..6 flattened in NHWC order (the evaluator's sFID features).
 *
 * Batch norm is folded into the convolutions (inference mode): W' = W·γ/√(σ² + ε) per output
 * channel, b' = β − μ·γ/√(σ² + ε), computed in float64 and rounded once. One Conv+Relu per
 * BasicConv2d is what onnxruntime fuses best.
 */
import {
  checkStateDict,
  float32Values,
  INCEPTION_BATCHNORM_EPS,
  INCEPTION_BLOCK_DIMS,
  INCEPTION_BLOCKS,
  INCEPTION_LOGITS,
  INCEPTION_MISMATCH_HINT,
  INCEPTION_POOL3,
  INCEPTION_SPATIAL_CHANNELS,
  INCEPTION_SPATIAL_CONV,
  INCEPTION_SPATIAL_DIM,
  type InceptionConv,
  type InceptionNode,
  inceptionParamSpecs,
  type StoredTensor,
} from '@diffq/diffusion';
import { OnnxGraph } from './onnx-graph.ts';

export const INCEPTION_OPSET = 17;
/** Bumped whenever this file emits a different graph for the same weights, to retire cached graphs. */
export const INCEPTION_GRAPH_VERSION = 1;

export const INCEPTION_OUTPUTS = ['pool3', 'block0_64', 'block1_192', 'block2_768', 'logits_unbiased', 'spatial_2023'] as const;
export type InceptionOutput = (typeof INCEPTION_OUTPUTS)[number];

/** The graph output holding block b's features (b = 0..3), by its width. */
export function blockOutputName(dims: number): InceptionOutput {
  switch (dims) {
    case 2048:
      return 'pool3';
    case 64:
    case 192:
    case 768:
      return `block${INCEPTION_BLOCK_DIMS.indexOf(dims)}_${dims}` as InceptionOutput;
    default:
      throw new Error(`Inception dims is ${dims}; accepted: ${INCEPTION_BLOCK_DIMS.join(', ')}`);
  }
}

export let MERGE = true;
export function setMerge(v: boolean) { MERGE = v; }
class InceptionGraphBuilder {
  readonly g = new OnnxGraph('fid_inception_v3', ['x', ...INCEPTION_OUTPUTS]);
  /** Each BasicConv2d's output value by key, for the taps inside blocks (the sFID features). */
  private readonly convOutputs = new Map<string, string>();

  constructor(private readonly weights: ReadonlyMap<string, StoredTensor>) {}

  private param(key: string): Float32Array {
    const stored = this.weights.get(key);
    if (!stored) throw new Error(`internal: parameter ${key} was not checked`);
    return float32Values(stored);
  }

  private i64(values: number[]): string {
    return this.g.constant(values, 'int64');
  }

  /** A BasicConv2d's kernel and bias with its batch norm folded in. */
  private folded(c: InceptionConv): { w: Float32Array; b: Float32Array } {
    const w = this.param(`${c.key}.conv.weight`);
    const gamma = this.param(`${c.key}.bn.weight`);
    const beta = this.param(`${c.key}.bn.bias`);
    const mean = this.param(`${c.key}.bn.running_mean`);
    const variance = this.param(`${c.key}.bn.running_var`);
    const perOut = w.length / c.outCh;
    const folded = new Float32Array(w.length);
    const bias = new Float32Array(c.outCh);
    for (let o = 0; o < c.outCh; o++) {
      const scale = gamma[o] / Math.sqrt(variance[o] + INCEPTION_BATCHNORM_EPS);
      bias[o] = beta[o] - mean[o] * scale;
      for (let i = o * perOut; i < (o + 1) * perOut; i++) folded[i] = w[i] * scale;
    }
    return { w: folded, b: bias };
  }

  /** BasicConv2d: Conv with the batch norm folded in, then ReLU. */
  private conv(c: InceptionConv, x: string): string {
    const { w, b } = this.folded(c);
    const wName = this.g.initializer(`${c.key}.weight`, w, [c.outCh, c.inCh, ...c.kernel]);
    const bName = this.g.initializer(`${c.key}.bias`, b, [c.outCh]);
    const [ph, pw] = c.pad;
    const y = this.g.node(
      'Conv',
      [x, wName, bName],
      { kernel_shape: c.kernel, strides: [c.stride, c.stride], pads: [ph, pw, ph, pw] },
      `${c.key}.conv`,
    );
    const out = this.g.node('Relu', [y], {}, c.key);
    this.convOutputs.set(c.key, out);
    return out;
  }

  /**
   * The 1×1 convolutions that open several branches of a block read the same input: one Conv with
   * their kernels stacked, split afterwards, reads it once and runs one larger matrix product.
   */
  private mergedHeads(convs: InceptionConv[], x: string): string[] {
    const parts = convs.map((c) => this.folded(c));
    const outCh = convs.reduce((sum, c) => sum + c.outCh, 0);
    const w = new Float32Array(outCh * convs[0].inCh);
    const b = new Float32Array(outCh);
    let o = 0;
    parts.forEach((p, i) => {
      w.set(p.w, o * convs[0].inCh);
      b.set(p.b, o);
      o += convs[i].outCh;
    });
    const name = convs.map((c) => c.key).join('+');
    const wName = this.g.initializer(`${name}.weight`, w, [outCh, convs[0].inCh, 1, 1]);
    const bName = this.g.initializer(`${name}.bias`, b, [outCh]);
    const y = this.g.node('Relu', [this.g.node('Conv', [x, wName, bName], { kernel_shape: [1, 1] }, `${name}.conv`)], {}, name);
    const outs = this.g.nodeN('Split', [y, this.i64(convs.map((c) => c.outCh))], { axis: 1 }, `${name}/split`, convs.length);
    convs.forEach((c, i) => this.convOutputs.set(c.key, outs[i]));
    return outs;
  }

  /** A branch's opening 1×1 convolution (stride 1, no padding) and what follows it, if it opens with one. */
  private static head(branch: InceptionNode): { conv: InceptionConv; rest: InceptionNode[] } | undefined {
    const first = branch.op === 'chain' ? branch.nodes[0] : branch;
    const rest = branch.op === 'chain' ? branch.nodes.slice(1) : [];
    const is1x1 = first.op === 'conv' && first.kernel[0] === 1 && first.kernel[1] === 1 && first.stride === 1;
    return is1x1 ? { conv: first, rest } : undefined;
  }

  private concat(branches: InceptionNode[], x: string): string {
    const heads = branches.map((b) => InceptionGraphBuilder.head(b));
    const opened = heads.filter((h) => h !== undefined);
    const merged = MERGE && opened.length >= 2 ? this.mergedHeads(opened.map((h) => h.conv), x) : [];
    let next = 0;
    const outs = branches.map((b, i) => {
      const h = heads[i];
      if (!h || merged.length === 0) return this.node(b, x);
      const start = merged[next++];
      return h.rest.reduce((v, child) => this.node(child, v), start);
    });
    return this.g.node('Concat', outs, { axis: 1 });
  }

  private node(n: InceptionNode, x: string): string {
    switch (n.op) {
      case 'conv':
        return this.conv(n, x);
      case 'maxpool':
        return this.g.node('MaxPool', [x], { kernel_shape: [3, 3], strides: [n.stride, n.stride], pads: [n.pad, n.pad, n.pad, n.pad] });
      case 'avgpool':
        return this.g.node('AveragePool', [x], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], count_include_pad: 0 });
      case 'chain':
        return n.nodes.reduce((h, child) => this.node(child, h), x);
      case 'concat':
        return this.concat(n.branches, x);
    }
  }

  /** [N, C, H, W] → [N, C], the mean over positions (adaptive_avg_pool2d to 1×1). */
  private spatialMean(x: string, name: string): string {
    return this.g.node('Flatten', [this.g.node('GlobalAveragePool', [x], {}, `${name}/pool`)], { axis: 1 }, name);
  }

  build(): Uint8Array {
    let h = this.g.input('x', 'float32', ['N', 3, 299, 299]);
    const pooled = INCEPTION_BLOCKS.map((block, b) => {
      h = this.node(block, h);
      return this.spatialMean(h, `block${b}`);
    });
    INCEPTION_BLOCK_DIMS.forEach((dims, b) => {
      this.g.output(pooled[b], blockOutputName(dims), 'float32', ['N', dims]);
    });

    const fc = this.g.initializer('fc.weight', this.param('fc.weight'), [INCEPTION_LOGITS, INCEPTION_POOL3]);
    const logits = this.g.node('Gemm', [pooled[3], fc], { transB: 1 }, 'logits');
    this.g.output(logits, 'logits_unbiased', 'float32', ['N', INCEPTION_LOGITS]);

    const tap = this.convOutputs.get(INCEPTION_SPATIAL_CONV);
    if (!tap) throw new Error(`internal: ${INCEPTION_SPATIAL_CONV} is not in the network`);
    const channels = this.g.node(
      'Slice',
      [tap, this.i64([0]), this.i64([INCEPTION_SPATIAL_CHANNELS]), this.i64([1])],
      {},
      'spatial/channels',
    );
    const nhwc = this.g.node('Transpose', [channels], { perm: [0, 2, 3, 1] }, 'spatial/nhwc');
    const spatial = this.g.node('Reshape', [nhwc, this.i64([0, INCEPTION_SPATIAL_DIM])], {}, 'spatial');
    this.g.output(spatial, 'spatial_2023', 'float32', ['N', INCEPTION_SPATIAL_DIM]);
    return this.g.toModel(INCEPTION_OPSET, "pytorch-fid's FID Inception v3, batch norm folded");
  }
}

/**
 * Builds the ONNX model of the FID Inception network from pytorch-fid's state_dict (472 keys).
 * Throws naming the first missing, unexpected or mis-shaped key.
 */
export function buildInceptionOnnx(weights: ReadonlyMap<string, StoredTensor>, what = 'Inception weights'): Uint8Array {
  checkStateDict(inceptionParamSpecs(), weights, what, INCEPTION_MISMATCH_HINT);
  return new InceptionGraphBuilder(weights).build();
}
