/**
 * pytorch-fid's FID Inception v3 (packages/networks/src/inception/inception-v3.ts) as an ONNX graph,
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
} from '@diffq/networks';
import { StateDictGraphBuilder } from './state-dict-graph-builder.ts';

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

class InceptionGraphBuilder extends StateDictGraphBuilder {
  /** Each BasicConv2d's output value by key, for the taps inside blocks (the sFID features). */
  private readonly convOutputs = new Map<string, string>();

  constructor(weights: ReadonlyMap<string, StoredTensor>) {
    super('fid_inception_v3', ['x', ...INCEPTION_OUTPUTS], weights);
  }

  /** BasicConv2d: Conv with the batch norm folded in, then ReLU. */
  private conv(c: InceptionConv, x: string): string {
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
    const wName = this.g.initializer(`${c.key}.weight`, folded, [c.outCh, c.inCh, ...c.kernel]);
    const bName = this.g.initializer(`${c.key}.bias`, bias, [c.outCh]);
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
        return this.g.node(
          'Concat',
          n.branches.map((b) => this.node(b, x)),
          { axis: 1 },
        );
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

    const fc = this.weight('fc.weight', [INCEPTION_LOGITS, INCEPTION_POOL3]);
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
