/**
 * The layer plan of the KL decoder (ldm `Decoder`, diffusers `Decoder` of `AutoencoderKL`) with
 * the state_dict key of every module in the chosen key layout. One plan drives both the forward
 * pass (packages/onnx/src/vae-decoder-graph.ts) and the list of keys with their shapes, so a
 * checkpoint is validated against exactly what the forward reads.
 *
 * ldm → diffusers (decoder side): `mid.block_{1,2}` → `mid_block.resnets.{0,1}`, `mid.attn_1` →
 * `mid_block.attentions.0` (`norm`/`q`/`k`/`v`/`proj_out` → `group_norm`/`to_q`/`to_k`/`to_v`/
 * `to_out.0`, 1×1 conv weights [C, C, 1, 1] → Linear [C, C]), `up.{L−1−i}.block` →
 * `up_blocks.{i}.resnets` (the order is reversed: diffusers' up_blocks.0 runs first),
 * `nin_shortcut` → `conv_shortcut`, `up.j.upsample.conv` → `up_blocks.{L−1−j}.upsamplers.0.conv`,
 * `norm_out` → `conv_norm_out`.
 */
import { conv2dParams, groupNormParams, linearParams, type ParamSpec } from '../nn/params.ts';
import type { DecoderConfig } from './decoder-config.ts';

/** ResnetBlock(in → out): x' + conv2(SiLU(norm2(conv1(SiLU(norm1(x)))))), x' a 1×1 conv when in ≠ out. */
export interface DecoderResnet {
  inCh: number;
  outCh: number;
  norm1: string;
  conv1: string;
  norm2: string;
  conv2: string;
  /** The 1×1 shortcut conv's key prefix, or null when the width does not change. */
  shortcut: string | null;
}

/** The middle block's single-head attention over all C channels (scale C^−½). */
export interface DecoderAttention {
  ch: number;
  norm: string;
  q: string;
  k: string;
  v: string;
  out: string;
  /** ldm stores q/k/v/proj_out as 1×1 convs [C, C, 1, 1], diffusers as Linear [C, C]; the values are the same. */
  projection: 'conv1x1' | 'linear';
}

/** One up level, in execution order (lowest resolution first). */
export interface DecoderLevel {
  ch: number;
  resnets: DecoderResnet[];
  /** Key prefix of the conv after the nearest ×2 upsampling, or null for the last level. */
  upsampleConv: string | null;
}

export interface DecoderPlan {
  config: DecoderConfig;
  postQuantConv: string;
  convIn: string;
  midResnets: [DecoderResnet, DecoderResnet];
  midAttention: DecoderAttention;
  levels: DecoderLevel[];
  normOut: string;
  convOut: string;
}

interface KeyNames {
  midResnet(i: 0 | 1): string;
  midAttention: Omit<DecoderAttention, 'ch'>;
  /** Resnet b of the level that runs i-th (L levels). */
  resnet(i: number, b: number, levels: number): string;
  shortcut: string;
  upsampleConv(i: number, levels: number): string;
  normOut: string;
}

const LDM: KeyNames = {
  midResnet: (i) => `decoder.mid.block_${i + 1}`,
  midAttention: {
    norm: 'decoder.mid.attn_1.norm',
    q: 'decoder.mid.attn_1.q',
    k: 'decoder.mid.attn_1.k',
    v: 'decoder.mid.attn_1.v',
    out: 'decoder.mid.attn_1.proj_out',
    projection: 'conv1x1',
  },
  resnet: (i, b, levels) => `decoder.up.${levels - 1 - i}.block.${b}`,
  shortcut: 'nin_shortcut',
  upsampleConv: (i, levels) => `decoder.up.${levels - 1 - i}.upsample.conv`,
  normOut: 'decoder.norm_out',
};

const DIFFUSERS: KeyNames = {
  midResnet: (i) => `decoder.mid_block.resnets.${i}`,
  midAttention: {
    norm: 'decoder.mid_block.attentions.0.group_norm',
    q: 'decoder.mid_block.attentions.0.to_q',
    k: 'decoder.mid_block.attentions.0.to_k',
    v: 'decoder.mid_block.attentions.0.to_v',
    out: 'decoder.mid_block.attentions.0.to_out.0',
    projection: 'linear',
  },
  resnet: (i, b) => `decoder.up_blocks.${i}.resnets.${b}`,
  shortcut: 'conv_shortcut',
  upsampleConv: (i) => `decoder.up_blocks.${i}.upsamplers.0.conv`,
  normOut: 'decoder.conv_norm_out',
};

export function planDecoder(config: DecoderConfig): DecoderPlan {
  const names = config.keyLayout === 'ldm' ? LDM : DIFFUSERS;
  const L = config.blockOutChannels.length;
  const resnet = (prefix: string, inCh: number, outCh: number): DecoderResnet => ({
    inCh,
    outCh,
    norm1: `${prefix}.norm1`,
    conv1: `${prefix}.conv1`,
    norm2: `${prefix}.norm2`,
    conv2: `${prefix}.conv2`,
    shortcut: inCh === outCh ? null : `${prefix}.${names.shortcut}`,
  });
  const midCh = config.blockOutChannels[L - 1];
  const reversed = [...config.blockOutChannels].reverse();
  let ch = midCh;
  const levels = reversed.map((outCh, i): DecoderLevel => {
    const resnets = Array.from({ length: config.layersPerBlock + 1 }, (_, b) => {
      const r = resnet(names.resnet(i, b, L), ch, outCh);
      ch = outCh;
      return r;
    });
    return { ch: outCh, resnets, upsampleConv: i < L - 1 ? names.upsampleConv(i, L) : null };
  });
  return {
    config,
    postQuantConv: 'post_quant_conv',
    convIn: 'decoder.conv_in',
    midResnets: [resnet(names.midResnet(0), midCh, midCh), resnet(names.midResnet(1), midCh, midCh)],
    midAttention: { ch: midCh, ...names.midAttention },
    levels,
    normOut: names.normOut,
    convOut: 'decoder.conv_out',
  };
}

function resnetParams(r: DecoderResnet): ParamSpec[] {
  return [
    ...groupNormParams(r.norm1, r.inCh),
    ...conv2dParams(r.conv1, r.inCh, r.outCh, 3),
    ...groupNormParams(r.norm2, r.outCh),
    ...conv2dParams(r.conv2, r.outCh, r.outCh, 3),
    ...(r.shortcut === null ? [] : conv2dParams(r.shortcut, r.inCh, r.outCh, 1)),
  ];
}

function attentionParams(a: DecoderAttention): ParamSpec[] {
  const projection = (prefix: string) =>
    a.projection === 'linear' ? linearParams(prefix, a.ch, a.ch) : conv2dParams(prefix, a.ch, a.ch, 1);
  return [...groupNormParams(a.norm, a.ch), ...projection(a.q), ...projection(a.k), ...projection(a.v), ...projection(a.out)];
}

/** Every decode-side parameter (post_quant_conv.*, decoder.*) with its PyTorch shape, in the plan's key layout. */
export function decoderParamSpecs(plan: DecoderPlan): ParamSpec[] {
  const c = plan.config;
  const last = plan.levels[plan.levels.length - 1].ch;
  return [
    ...conv2dParams(plan.postQuantConv, c.latentChannels, c.latentChannels, 1),
    ...conv2dParams(plan.convIn, c.latentChannels, plan.midAttention.ch, 3),
    ...resnetParams(plan.midResnets[0]),
    ...attentionParams(plan.midAttention),
    ...resnetParams(plan.midResnets[1]),
    ...plan.levels.flatMap((level) => [
      ...level.resnets.flatMap(resnetParams),
      ...(level.upsampleConv === null ? [] : conv2dParams(level.upsampleConv, level.ch, level.ch, 3)),
    ]),
    ...groupNormParams(plan.normOut, last),
    ...conv2dParams(plan.convOut, last, c.outChannels, 3),
  ];
}
