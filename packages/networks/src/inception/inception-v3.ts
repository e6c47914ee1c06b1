/**
 * pytorch-fid's FID Inception v3 (`InceptionV3` with `use_fid_inception=True`, i.e. its
 * `fid_inception_v3()`) as data: every BasicConv2d (conv without bias → BatchNorm eps 1e-3 → ReLU)
 * and pool, nested as chains and concatenations, so that an engine builds the network by walking it
 * and the state_dict keys come from the same walk. Sizes below are for the 299×299 input.
 *
 * The FID blocks differ from torchvision's: their 3×3 average pools leave the padding out of the
 * mean (`count_include_pad=False`), and Mixed_7c pools with a 3×3 max pool instead.
 */
import type { ParamSpec } from '../nn/params.ts';

export const INCEPTION_BATCHNORM_EPS = 1e-3;
/** fc's output width: the 1008 classes of the 2015 TF graph (1000 ImageNet classes + 8 unused). */
export const INCEPTION_LOGITS = 1008;
export const INCEPTION_POOL3 = 2048;
/** The sFID features: Mixed_6d.branch1x1's channels 0..6 at its 17×17 positions. */
export const INCEPTION_SPATIAL_CONV = 'Mixed_6d.branch1x1';
export const INCEPTION_SPATIAL_CHANNELS = 7;
export const INCEPTION_SPATIAL_SIZE = 17;
export const INCEPTION_SPATIAL_DIM = INCEPTION_SPATIAL_SIZE * INCEPTION_SPATIAL_SIZE * INCEPTION_SPATIAL_CHANNELS;
/** checkStateDict's advice when keys are missing: the usual mistake is the wrong Inception file. */
export const INCEPTION_MISMATCH_HINT =
  "convert pytorch-fid's pt_inception-2015-12-05-6726825d.pth, keeping its state_dict keys; torchvision's ImageNet inception_v3 weights are a different network (AuxLogits, 1000 classes)";

/** A BasicConv2d: `<key>.conv` (no bias) → `<key>.bn` → ReLU. */
export interface InceptionConv {
  op: 'conv';
  key: string;
  inCh: number;
  outCh: number;
  kernel: [kh: number, kw: number];
  stride: number;
  pad: [ph: number, pw: number];
}

export type InceptionNode =
  | InceptionConv
  /** 3×3 max pool; `pad` 1 keeps the size (padding never wins). */
  | { op: 'maxpool'; stride: number; pad: number }
  /** 3×3 average pool, stride 1, padding 1, averaging only the in-image elements (count_include_pad=False). */
  | { op: 'avgpool' }
  | { op: 'chain'; nodes: InceptionNode[] }
  /** Every branch reads the same input; their outputs are concatenated along channels in order. */
  | { op: 'concat'; branches: InceptionNode[] };

type Kernel = number | [number, number];

function conv(key: string, inCh: number, outCh: number, k: Kernel, o: { stride?: number; pad?: Kernel } = {}): InceptionConv {
  const kernel: [number, number] = typeof k === 'number' ? [k, k] : k;
  const p = o.pad ?? 0;
  return { op: 'conv', key, inCh, outCh, kernel, stride: o.stride ?? 1, pad: typeof p === 'number' ? [p, p] : p };
}

const chain = (...nodes: InceptionNode[]): InceptionNode => ({ op: 'chain', nodes });
const concat = (...branches: InceptionNode[]): InceptionNode => ({ op: 'concat', branches });
const maxPool = (stride: number, pad = 0): InceptionNode => ({ op: 'maxpool', stride, pad });
const avgPool: InceptionNode = { op: 'avgpool' };

/** FIDInceptionA: 64 + 64 + 96 + poolFeatures channels. */
function blockA(key: string, inCh: number, poolFeatures: number): InceptionNode {
  return concat(
    conv(`${key}.branch1x1`, inCh, 64, 1),
    chain(conv(`${key}.branch5x5_1`, inCh, 48, 1), conv(`${key}.branch5x5_2`, 48, 64, 5, { pad: 2 })),
    chain(
      conv(`${key}.branch3x3dbl_1`, inCh, 64, 1),
      conv(`${key}.branch3x3dbl_2`, 64, 96, 3, { pad: 1 }),
      conv(`${key}.branch3x3dbl_3`, 96, 96, 3, { pad: 1 }),
    ),
    chain(avgPool, conv(`${key}.branch_pool`, inCh, poolFeatures, 1)),
  );
}

/** torchvision InceptionB (Mixed_6a): 384 + 96 + inCh channels at half the size. */
function blockB(key: string, inCh: number): InceptionNode {
  return concat(
    conv(`${key}.branch3x3`, inCh, 384, 3, { stride: 2 }),
    chain(
      conv(`${key}.branch3x3dbl_1`, inCh, 64, 1),
      conv(`${key}.branch3x3dbl_2`, 64, 96, 3, { pad: 1 }),
      conv(`${key}.branch3x3dbl_3`, 96, 96, 3, { stride: 2 }),
    ),
    maxPool(2),
  );
}

/** FIDInceptionC: 4 × 192 = 768 channels; the 7×7 convolutions are factored into 1×7 and 7×1. */
function blockC(key: string, inCh: number, c7: number): InceptionNode {
  const row = (name: string, i: number, o: number) => conv(`${key}.${name}`, i, o, [1, 7], { pad: [0, 3] });
  const col = (name: string, i: number, o: number) => conv(`${key}.${name}`, i, o, [7, 1], { pad: [3, 0] });
  return concat(
    conv(`${key}.branch1x1`, inCh, 192, 1),
    chain(conv(`${key}.branch7x7_1`, inCh, c7, 1), row('branch7x7_2', c7, c7), col('branch7x7_3', c7, 192)),
    chain(
      conv(`${key}.branch7x7dbl_1`, inCh, c7, 1),
      col('branch7x7dbl_2', c7, c7),
      row('branch7x7dbl_3', c7, c7),
      col('branch7x7dbl_4', c7, c7),
      row('branch7x7dbl_5', c7, 192),
    ),
    chain(avgPool, conv(`${key}.branch_pool`, inCh, 192, 1)),
  );
}

/** torchvision InceptionD (Mixed_7a): 320 + 192 + inCh channels at half the size. */
function blockD(key: string, inCh: number): InceptionNode {
  return concat(
    chain(conv(`${key}.branch3x3_1`, inCh, 192, 1), conv(`${key}.branch3x3_2`, 192, 320, 3, { stride: 2 })),
    chain(
      conv(`${key}.branch7x7x3_1`, inCh, 192, 1),
      conv(`${key}.branch7x7x3_2`, 192, 192, [1, 7], { pad: [0, 3] }),
      conv(`${key}.branch7x7x3_3`, 192, 192, [7, 1], { pad: [3, 0] }),
      conv(`${key}.branch7x7x3_4`, 192, 192, 3, { stride: 2 }),
    ),
    maxPool(2),
  );
}

/** FIDInceptionE_1 (`pool` avg) and FIDInceptionE_2 (`pool` max, the TF FID graph's quirk): 2048 channels. */
function blockE(key: string, inCh: number, pool: 'avg' | 'max'): InceptionNode {
  const split = (name: string, i: number) =>
    concat(conv(`${key}.${name}a`, i, 384, [1, 3], { pad: [0, 1] }), conv(`${key}.${name}b`, i, 384, [3, 1], { pad: [1, 0] }));
  return concat(
    conv(`${key}.branch1x1`, inCh, 320, 1),
    chain(conv(`${key}.branch3x3_1`, inCh, 384, 1), split('branch3x3_2', 384)),
    chain(
      conv(`${key}.branch3x3dbl_1`, inCh, 448, 1),
      conv(`${key}.branch3x3dbl_2`, 448, 384, 3, { pad: 1 }),
      split('branch3x3dbl_3', 384),
    ),
    chain(pool === 'avg' ? avgPool : maxPool(1, 1), conv(`${key}.branch_pool`, inCh, 192, 1)),
  );
}

/**
 * The four blocks of pytorch-fid's `output_blocks` (their outputs, averaged over positions, are the
 * `--dims` 64, 192, 768 and 2048 features): 64×73×73, 192×35×35, 768×17×17 and 2048×8×8.
 */
export const INCEPTION_BLOCKS: readonly InceptionNode[] = [
  chain(
    conv('Conv2d_1a_3x3', 3, 32, 3, { stride: 2 }),
    conv('Conv2d_2a_3x3', 32, 32, 3),
    conv('Conv2d_2b_3x3', 32, 64, 3, { pad: 1 }),
    maxPool(2),
  ),
  chain(conv('Conv2d_3b_1x1', 64, 80, 1), conv('Conv2d_4a_3x3', 80, 192, 3), maxPool(2)),
  chain(
    blockA('Mixed_5b', 192, 32),
    blockA('Mixed_5c', 256, 64),
    blockA('Mixed_5d', 288, 64),
    blockB('Mixed_6a', 288),
    blockC('Mixed_6b', 768, 128),
    blockC('Mixed_6c', 768, 160),
    blockC('Mixed_6d', 768, 160),
    blockC('Mixed_6e', 768, 192),
  ),
  chain(blockD('Mixed_7a', 768), blockE('Mixed_7b', 1280, 'avg'), blockE('Mixed_7c', 2048, 'max')),
];

/** Channels of the four block outputs: the feature widths pytorch-fid's `--dims` accepts. */
export const INCEPTION_BLOCK_DIMS = [64, 192, 768, 2048] as const;
export type InceptionDims = (typeof INCEPTION_BLOCK_DIMS)[number];

/** Every BasicConv2d in state_dict order. */
export function inceptionConvs(nodes: readonly InceptionNode[] = INCEPTION_BLOCKS): InceptionConv[] {
  return nodes.flatMap((node): InceptionConv[] => {
    switch (node.op) {
      case 'conv':
        return [node];
      case 'chain':
        return inceptionConvs(node.nodes);
      case 'concat':
        return inceptionConvs(node.branches);
      default:
        return [];
    }
  });
}

/** The 472 state_dict entries of `fid_inception_v3()` (pytorch-fid's weights file), in order. */
export function inceptionParamSpecs(): ParamSpec[] {
  const specs: ParamSpec[] = [];
  for (const c of inceptionConvs()) {
    specs.push({ key: `${c.key}.conv.weight`, shape: [c.outCh, c.inCh, ...c.kernel], layout: 'conv2d' });
    for (const name of ['weight', 'bias', 'running_mean', 'running_var'])
      specs.push({ key: `${c.key}.bn.${name}`, shape: [c.outCh], layout: 'vector' });
  }
  specs.push({ key: 'fc.weight', shape: [INCEPTION_LOGITS, INCEPTION_POOL3], layout: 'linear' });
  specs.push({ key: 'fc.bias', shape: [INCEPTION_LOGITS], layout: 'vector' });
  return specs;
}
