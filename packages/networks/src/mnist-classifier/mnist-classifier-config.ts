/**
 * The MNIST feature network's architecture, read from model.json's `model` object when the
 * architecture is `mnist-classifier`: stages of 3×3 convolutions (ReLU) each ending in a 2×2 max
 * pool, then one hidden fully connected layer (ReLU), whose activations are the feature vector, and
 * the class logits. docs/mnist-classifier.md gives the same network as a PyTorch module.
 */
import { parseWith } from '@diffq/contract';
import { z } from 'zod';

/** model.json `model` for `mnist-classifier` (snake_case). Unknown fields are rejected. */
export const MnistClassifierArgsSchema = z
  .object({
    image_size: z.number().int().min(4).max(256).default(28),
    in_channels: z.number().int().min(1).max(4).default(1),
    num_classes: z.number().int().min(2).max(1000).default(10),
    /** Output channels of each stage's convolutions; one 2×2 max pool per stage. */
    stage_channels: z.array(z.number().int().min(1).max(1024)).min(1).max(4).default([32, 64]),
    convs_per_stage: z.number().int().min(1).max(4).default(2),
    /** Width of the hidden layer: the feature vector's dimension. */
    hidden: z.number().int().min(2).max(4096).default(128),
  })
  .strict();

export type MnistClassifierArgs = z.input<typeof MnistClassifierArgsSchema>;

export interface MnistClassifierConfig {
  imageSize: number;
  inChannels: number;
  numClasses: number;
  stageChannels: number[];
  convsPerStage: number;
  hidden: number;
}

/** Validates model.json's `model` object of an MNIST classifier; errors name the field. */
export function parseMnistClassifierConfig(raw: unknown, where = 'model'): MnistClassifierConfig {
  const a = parseWith(MnistClassifierArgsSchema, raw, where);
  if (a.image_size >> a.stage_channels.length < 1) {
    throw new Error(
      `${where}.stage_channels has ${a.stage_channels.length} stages; an image_size of ${a.image_size} allows at most ${Math.floor(Math.log2(a.image_size))} 2×2 pools`,
    );
  }
  return {
    imageSize: a.image_size,
    inChannels: a.in_channels,
    numClasses: a.num_classes,
    stageChannels: a.stage_channels,
    convsPerStage: a.convs_per_stage,
    hidden: a.hidden,
  };
}

/** The side of the last stage's output: each 2×2 pool floors, as nn.MaxPool2d(2) does. */
export function mnistClassifierFinalSide(c: MnistClassifierConfig): number {
  return c.imageSize >> c.stageChannels.length;
}
