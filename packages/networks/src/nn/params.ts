/**
 * State-dict keys of the reference networks, checked against a checkpoint and uploaded to tfjs.
 * A checkpoint keeps PyTorch's key names and layouts (conv [out, in, kh, kw], conv1d [out, in, 1],
 * linear [out, in]); uploading turns them into the channels-last layouts that layers.ts takes.
 */
import * as tf from '@tensorflow/tfjs';
import type { Block, Layer, Torso } from '../adm/plan.ts';
import { float32Values, type StoredTensor } from '../weights/safetensors.ts';

/**
 * How a parameter is stored by PyTorch and therefore how it is uploaded:
 * `vector` as is; `linear` [out, in] → [in, out]; `conv2d` [out, in, kh, kw] → [kh, kw, in, out];
 * `conv1d` [out, in, 1] → [in, out]; `embedding` [K, D] as is; `tokens` [C, T] → [T, C].
 */
export type ParamLayout = 'vector' | 'linear' | 'conv2d' | 'conv1d' | 'embedding' | 'tokens';

export interface ParamSpec {
  /** The PyTorch state_dict key, e.g. `input_blocks.1.0.in_layers.2.weight`. */
  key: string;
  /** Its PyTorch shape. */
  shape: number[];
  layout: ParamLayout;
  /**
   * Set on the qkv weight and bias of a legacy-order AttentionBlock (QKVAttentionLegacy): its
   * output channels are ordered (head, q/k/v, channel) and are permuted on upload to the new
   * order (q/k/v, head, channel) that layers.qkvAttention reads.
   */
  legacyHeads?: number;
}

/** Uploaded parameters, keyed by state_dict key, in layers.ts layouts. */
export type ParamMap = ReadonlyMap<string, tf.Tensor>;

export function groupNormParams(prefix: string, ch: number): ParamSpec[] {
  return [
    { key: `${prefix}.weight`, shape: [ch], layout: 'vector' },
    { key: `${prefix}.bias`, shape: [ch], layout: 'vector' },
  ];
}

export function linearParams(prefix: string, inCh: number, outCh: number): ParamSpec[] {
  return [
    { key: `${prefix}.weight`, shape: [outCh, inCh], layout: 'linear' },
    { key: `${prefix}.bias`, shape: [outCh], layout: 'vector' },
  ];
}

export function conv2dParams(prefix: string, inCh: number, outCh: number, k: number): ParamSpec[] {
  return [
    { key: `${prefix}.weight`, shape: [outCh, inCh, k, k], layout: 'conv2d' },
    { key: `${prefix}.bias`, shape: [outCh], layout: 'vector' },
  ];
}

export function conv1dParams(prefix: string, inCh: number, outCh: number, legacyHeads?: number): ParamSpec[] {
  return [
    { key: `${prefix}.weight`, shape: [outCh, inCh, 1], layout: 'conv1d', legacyHeads },
    { key: `${prefix}.bias`, shape: [outCh], layout: 'vector', legacyHeads },
  ];
}

/** The parameters of one layer of a TimestepEmbedSequential block at `prefix` (e.g. `input_blocks.1.0`). */
export function layerParams(prefix: string, layer: Layer, embDim: number): ParamSpec[] {
  switch (layer.kind) {
    case 'conv':
      return conv2dParams(prefix, layer.inCh, layer.outCh, 3);
    case 'downsample':
      return conv2dParams(`${prefix}.op`, layer.ch, layer.ch, 3);
    case 'upsample':
      return conv2dParams(`${prefix}.conv`, layer.ch, layer.ch, 3);
    case 'res':
      return [
        ...groupNormParams(`${prefix}.in_layers.0`, layer.inCh),
        ...conv2dParams(`${prefix}.in_layers.2`, layer.inCh, layer.outCh, 3),
        ...linearParams(`${prefix}.emb_layers.1`, embDim, layer.scaleShift ? 2 * layer.outCh : layer.outCh),
        ...groupNormParams(`${prefix}.out_layers.0`, layer.outCh),
        ...conv2dParams(`${prefix}.out_layers.3`, layer.outCh, layer.outCh, 3),
        ...(layer.inCh === layer.outCh ? [] : conv2dParams(`${prefix}.skip_connection`, layer.inCh, layer.outCh, 1)),
      ];
    case 'attention':
      return [
        ...groupNormParams(`${prefix}.norm`, layer.ch),
        ...conv1dParams(`${prefix}.qkv`, layer.ch, 3 * layer.ch, layer.newOrder ? undefined : layer.heads),
        ...conv1dParams(`${prefix}.proj_out`, layer.ch, layer.ch),
      ];
  }
}

export function blocksParams(prefix: string, blocks: Block[], embDim: number): ParamSpec[] {
  return blocks.flatMap((block, i) => block.flatMap((layer, j) => layerParams(`${prefix}.${i}.${j}`, layer, embDim)));
}

/** time_embed: Linear(C, 4C) → SiLU → Linear(4C, 4C), as UNetModel and EncoderUNetModel register it. */
export function timeEmbedParams(modelChannels: number, torso: Torso): ParamSpec[] {
  const e = torso.timeEmbedDim;
  return [...linearParams('time_embed.0', modelChannels, e), ...linearParams('time_embed.2', e, e)];
}

/** input_blocks and middle_block; the middle block is a single TimestepEmbedSequential, so its keys carry no block index. */
export function torsoParams(torso: Torso): ParamSpec[] {
  const e = torso.timeEmbedDim;
  return [
    ...blocksParams('input_blocks', torso.inputBlocks, e),
    ...blocksParams('middle_block', [torso.middleBlock], e).map((s) => ({
      ...s,
      key: s.key.replace(/^middle_block\.0\./, 'middle_block.'),
    })),
  ];
}

/** key → PyTorch shape of every parameter, in registration order. */
export function paramShapes(specs: readonly ParamSpec[]): Map<string, number[]> {
  return new Map(specs.map((s) => [s.key, s.shape]));
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Checks a checkpoint against the expected parameters and throws naming the first missing key,
 * then the first unexpected key, then the first key of the wrong shape or dtype, each with the
 * shape the configuration implies. `what` names the checkpoint in messages.
 */
export function checkStateDict(
  specs: readonly ParamSpec[],
  stateDict: ReadonlyMap<string, StoredTensor>,
  what: string,
  /** What to check when keys are missing; defaults to the UNet flags that change the key set. */
  mismatchHint = 'check num_res_blocks, channel_mult, attention_resolutions, class_cond, learn_sigma',
): void {
  const expected = new Map(specs.map((s) => [s.key, s]));
  const missing = specs.filter((s) => !stateDict.has(s.key));
  if (missing.length > 0) {
    const first = missing[0];
    const hint = stateDict.has(`module.${first.key}`)
      ? ' The checkpoint keys carry a "module." prefix (DataParallel); save model.module.state_dict() or strip the prefix.'
      : ` The model configuration does not match the checkpoint (${mismatchHint}).`;
    throw new Error(
      `${what}: missing key "${first.key}" (expected shape ${shapeText(first.shape)}); ${missing.length} of ${specs.length} expected keys are missing.${hint}`,
    );
  }
  const unexpected = [...stateDict.keys()].filter((k) => !expected.has(k));
  if (unexpected.length > 0) {
    const first = unexpected[0];
    throw new Error(
      `${what}: unexpected key "${first}" (shape ${shapeText(stateDict.get(first)!.shape)}) that this model configuration does not have; ${unexpected.length} unexpected in all. Check the model configuration against the training flags.`,
    );
  }
  for (const spec of specs) {
    const stored = stateDict.get(spec.key)!;
    if (stored.shape.length !== spec.shape.length || stored.shape.some((d, i) => d !== spec.shape[i])) {
      throw new Error(
        `${what}: key "${spec.key}" has shape ${shapeText(stored.shape)} but the model configuration implies ${shapeText(spec.shape)}`,
      );
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(stored.dtype)) {
      throw new Error(`${what}: key "${spec.key}" has dtype ${stored.dtype}; accepted: F32, F16, BF16, F64`);
    }
  }
}

/** Output-channel order of a legacy qkv projection, as indices into the legacy rows, in the new order. */
function legacyToNewOrder(width: number, heads: number): number[] {
  const c = width / 3;
  const ch = c / heads;
  const perm: number[] = [];
  for (let part = 0; part < 3; part++)
    for (let head = 0; head < heads; head++) for (let i = 0; i < ch; i++) perm.push(head * 3 * ch + part * ch + i);
  return perm;
}

function upload(spec: ParamSpec, stored: StoredTensor): tf.Tensor {
  const data = float32Values(stored);
  return tf.tidy(() => {
    let t: tf.Tensor = tf.tensor(data, spec.shape, 'float32');
    if (spec.legacyHeads !== undefined) t = tf.gather(t, legacyToNewOrder(spec.shape[0], spec.legacyHeads), 0);
    switch (spec.layout) {
      case 'vector':
      case 'embedding':
        return t;
      case 'linear':
      case 'tokens':
        return tf.transpose(t);
      case 'conv1d':
        return tf.transpose(tf.reshape(t, spec.shape.slice(0, 2)));
      case 'conv2d':
        return tf.transpose(t, [2, 3, 1, 0]);
    }
  });
}

/** Checks (see checkStateDict) and uploads a checkpoint; the caller disposes the tensors. */
export function uploadParams(
  specs: readonly ParamSpec[],
  stateDict: ReadonlyMap<string, StoredTensor>,
  what: string,
): Map<string, tf.Tensor> {
  checkStateDict(specs, stateDict, what);
  const params = new Map<string, tf.Tensor>();
  for (const spec of specs) params.set(spec.key, upload(spec, stateDict.get(spec.key)!));
  return params;
}

/** Checks and uploads a checkpoint (uploadParams) with the dispose() that frees its tensors. */
export function uploadNetwork(
  specs: readonly ParamSpec[],
  stateDict: ReadonlyMap<string, StoredTensor>,
  what: string,
): { params: ParamMap; dispose(): void } {
  const params = uploadParams(specs, stateDict, what);
  return { params, dispose: () => tf.dispose([...params.values()]) };
}

/** The number of scalar parameters, as PyTorch's sum(p.numel() for p in model.parameters()). */
export function countParams(specs: readonly ParamSpec[]): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}
