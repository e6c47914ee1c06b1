/**
 * The layer plan of guided-diffusion's UNetModel and EncoderUNetModel (unet.py __init__), derived
 * from the configuration alone. One plan drives both the forward pass and the list of state_dict
 * keys with their shapes, so a checkpoint is validated against exactly what the forward will read.
 */

/** A layer of a TimestepEmbedSequential block, with the channel counts the reference gives it. */
export type Layer =
  /** nn.Conv2d 3×3 padding 1 (input_blocks.0.0). */
  | { kind: 'conv'; inCh: number; outCh: number }
  /** Downsample(use_conv=True): stride-2 3×3 conv, padding 1, parameters under `op`. */
  | { kind: 'downsample'; ch: number }
  /** Upsample(use_conv=True): nearest ×2 then 3×3 conv, parameters under `conv`. */
  | { kind: 'upsample'; ch: number }
  | { kind: 'res'; inCh: number; outCh: number; scaleShift: boolean; resample: 'none' | 'up' | 'down' }
  | { kind: 'attention'; ch: number; heads: number; newOrder: boolean };

export type Block = Layer[];

/** What the encoder half (input blocks + middle block) is built from; the UNet and classifier share it. */
export interface TorsoOptions {
  inChannels: number;
  modelChannels: number;
  numResBlocks: number;
  channelMult: number[];
  /** Downsample rates (image_size / resolution) whose blocks get attention. */
  attentionDs: number[];
  numHeads: number;
  numHeadChannels: number;
  useScaleShiftNorm: boolean;
  resblockUpdown: boolean;
  useNewAttentionOrder: boolean;
}

export interface Torso {
  timeEmbedDim: number;
  /** Width of the first level, int(channel_mult[0]·model_channels). */
  inputCh: number;
  inputBlocks: Block[];
  middleBlock: Block;
  /** Channels of each input block's output, in order (the UNet's skip connections). */
  inputBlockChans: number[];
  /** Channels after the middle block. */
  ch: number;
  /** Downsample rate after the last level. */
  ds: number;
}

/** AttentionBlock's head count: num_heads, unless num_head_channels fixes the width per head. */
export function attentionHeads(ch: number, numHeads: number, numHeadChannels: number): number {
  return numHeadChannels === -1 ? numHeads : ch / numHeadChannels;
}

function levelWidth(o: TorsoOptions, mult: number): number {
  return Math.trunc(mult * o.modelChannels);
}

/** The input blocks and middle block, as UNetModel / EncoderUNetModel build them. */
export function planTorso(o: TorsoOptions): Torso {
  const timeEmbedDim = 4 * o.modelChannels;
  const resblock = (inCh: number, outCh: number, resample: 'none' | 'up' | 'down' = 'none'): Layer => ({
    kind: 'res',
    inCh,
    outCh,
    scaleShift: o.useScaleShiftNorm,
    resample,
  });
  const attention = (ch: number): Layer => ({
    kind: 'attention',
    ch,
    heads: attentionHeads(ch, o.numHeads, o.numHeadChannels),
    newOrder: o.useNewAttentionOrder,
  });
  let ch = levelWidth(o, o.channelMult[0]);
  const inputCh = ch;
  const inputBlocks: Block[] = [[{ kind: 'conv', inCh: o.inChannels, outCh: ch }]];
  const inputBlockChans = [ch];
  let ds = 1;
  o.channelMult.forEach((mult, level) => {
    for (let i = 0; i < o.numResBlocks; i++) {
      const outCh = levelWidth(o, mult);
      const block: Block = [resblock(ch, outCh)];
      ch = outCh;
      if (o.attentionDs.includes(ds)) block.push(attention(ch));
      inputBlocks.push(block);
      inputBlockChans.push(ch);
    }
    if (level !== o.channelMult.length - 1) {
      inputBlocks.push([o.resblockUpdown ? resblock(ch, ch, 'down') : { kind: 'downsample', ch }]);
      inputBlockChans.push(ch);
      ds *= 2;
    }
  });
  const middleBlock: Block = [resblock(ch, ch), attention(ch), resblock(ch, ch)];
  return { timeEmbedDim, inputCh, inputBlocks, middleBlock, inputBlockChans, ch, ds };
}

/** UNetModel's output blocks: each concatenates one skip connection, deepest first. */
export function planOutputBlocks(o: TorsoOptions & { numHeadsUpsample: number }, torso: Torso): Block[] {
  const skips = [...torso.inputBlockChans];
  let ch = torso.ch;
  let ds = torso.ds;
  const blocks: Block[] = [];
  for (let level = o.channelMult.length - 1; level >= 0; level--) {
    for (let i = 0; i <= o.numResBlocks; i++) {
      const ich = skips.pop()!;
      const outCh = levelWidth(o, o.channelMult[level]);
      const block: Block = [{ kind: 'res', inCh: ch + ich, outCh, scaleShift: o.useScaleShiftNorm, resample: 'none' }];
      ch = outCh;
      if (o.attentionDs.includes(ds)) {
        block.push({
          kind: 'attention',
          ch,
          heads: attentionHeads(ch, o.numHeadsUpsample, o.numHeadChannels),
          newOrder: o.useNewAttentionOrder,
        });
      }
      if (level > 0 && i === o.numResBlocks) {
        block.push(
          o.resblockUpdown
            ? { kind: 'res', inCh: ch, outCh: ch, scaleShift: o.useScaleShiftNorm, resample: 'up' }
            : { kind: 'upsample', ch },
        );
        ds /= 2;
      }
      blocks.push(block);
    }
  }
  return blocks;
}
