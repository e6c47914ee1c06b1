/**
 * `diffq-train` flags → what to train and how. Pure: every problem is collected and reported at
 * once (UsageError), each sentence naming the flag, the value given and the accepted range.
 */

import { UsageError } from '@diffq/contract';
import type { DiffusionArgs } from '@diffq/diffusion';
import { NOISE_SCHEDULES } from '@diffq/diffusion';
import type { UNetArgs } from '@diffq/networks';
import type { TrainerSettings } from '@diffq/trainer';
import { MNIST_DIFFUSION, MNIST_UNET } from './mnist-model.ts';

/** The flags as the command line gives them (undefined: not given). */
export interface TrainFlags {
  out?: string;
  steps?: number;
  batchSize?: number;
  lr?: number;
  minutes?: number;
  resume?: boolean;
  logEvery?: number;
  checkpointMinutes?: number;
  seed?: number;
  emaRate?: number;
  classDropout?: number;
  gradClip?: number;
  weightDecay?: number;
  images?: number;
  numChannels?: number;
  channelMult?: string;
  numResBlocks?: number;
  attentionResolutions?: string;
  noiseSchedule?: string;
  diffusionSteps?: number;
  inputPerturbation?: number;
  threads?: number;
  split?: string;
}

/** A checked training plan. */
export interface TrainPlan {
  out: string;
  /** Train until this many updates in all (a resumed run counts the checkpoint's). */
  steps: number;
  /** Wall-clock budget in ms, or null for none. */
  budgetMs: number | null;
  resume: boolean;
  logEvery: number;
  checkpointMs: number;
  /** Use only the first N images (round-robin over classes); null for all. */
  images: number | null;
  /** Which digits the UNet learns: `train` (the 8,000 the feature network's held-out reference never contains) or `all`. */
  split: UnetSplit;
  /** Gradient threads besides the main one (data parallelism); null: one per further core. */
  threads: number | null;
  settings: TrainerSettings;
  /** For a fresh run: model.json's `model` and `diffusion`. Ignored on resume (the checkpoint fixes them). */
  model: UNetArgs;
  diffusion: DiffusionArgs;
}

/** The splits a UNet may train on (@diffq/datasets); `heldout` is the reference it is measured against. */
export const UNET_SPLITS = ['train', 'all'] as const;
export type UnetSplit = (typeof UNET_SPLITS)[number];

export const TRAIN_DEFAULTS = {
  steps: 1_000_000,
  batchSize: 16,
  lr: 5e-4,
  logEvery: 25,
  checkpointMinutes: 5,
  seed: 0,
  emaRate: 0.995,
  classDropout: 0.1,
  gradClip: 1,
  weightDecay: 0,
  split: 'train',
} as const;

/** Fixed by the checkpoint on --resume: the architecture, the process and the seed of every draw. */
const CHECKPOINT_FLAGS = [
  'seed',
  'numChannels',
  'channelMult',
  'numResBlocks',
  'attentionResolutions',
  'noiseSchedule',
  'diffusionSteps',
  'inputPerturbation',
] as const;

const kebab = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Checks every flag; throws UsageError listing all problems. */
export function planTraining(f: TrainFlags): TrainPlan {
  const problems: string[] = [];
  const number = (name: keyof TrainFlags, value: number | undefined, ok: (v: number) => boolean, range: string) => {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && ok(value))) {
      problems.push(`${kebab(name)} is ${JSON.stringify(value)}; accepted: ${range}`);
    }
  };
  const int = (lo: number, hi: number) => (v: number) => Number.isInteger(v) && v >= lo && v <= hi;
  if (f.out === undefined || String(f.out).trim() === '')
    problems.push('--out is required: the model directory to write, e.g. --out models/mnist');
  number('steps', f.steps, int(1, 1e9), 'an integer in [1, 1000000000]');
  number('batchSize', f.batchSize, int(1, 1024), 'an integer in [1, 1024]');
  number('lr', f.lr, (v) => v > 0 && v < 1, 'a number in (0, 1), e.g. 5e-4');
  number('minutes', f.minutes, (v) => v > 0 && v <= 10080, 'a number of minutes in (0, 10080]');
  number('logEvery', f.logEvery, int(1, 1e9), 'an integer ≥ 1');
  number('checkpointMinutes', f.checkpointMinutes, (v) => v > 0 && v <= 10080, 'a number of minutes in (0, 10080]');
  number('seed', f.seed, int(0, Number.MAX_SAFE_INTEGER), 'an integer in [0, 2^53 − 1]');
  number('emaRate', f.emaRate, (v) => v >= 0 && v < 1, 'a number in [0, 1), e.g. 0.995 (guided-diffusion: 0.9999 for long runs)');
  number('classDropout', f.classDropout, (v) => v >= 0 && v <= 1, 'a probability in [0, 1]');
  number('gradClip', f.gradClip, (v) => v >= 0, 'a number ≥ 0 (0: no clipping)');
  number('weightDecay', f.weightDecay, (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  number('images', f.images, int(1, 1e9), 'an integer ≥ 1');
  number('numChannels', f.numChannels, (v) => int(32, 512)(v) && v % 32 === 0, 'a multiple of 32 in [32, 512]');
  number('numResBlocks', f.numResBlocks, int(1, 8), 'an integer in [1, 8]');
  number('diffusionSteps', f.diffusionSteps, int(2, 100_000), 'an integer in [2, 100000]');
  number('inputPerturbation', f.inputPerturbation, (v) => v >= 0 && v <= 1, 'a number in [0, 1] (DDPM-IP: 0.1)');
  number('threads', f.threads, int(0, 63), 'an integer in [0, 63] (gradient threads besides the main one; 0: one thread)');
  for (const [name, value] of [
    ['channelMult', f.channelMult],
    ['attentionResolutions', f.attentionResolutions],
  ] as const) {
    if (value !== undefined && !/^\s*\d+\s*(,\s*\d+\s*)*$/.test(String(value))) {
      problems.push(`${kebab(name)} is ${JSON.stringify(value)}; accepted: comma-separated positive integers, e.g. "1,2,2"`);
    }
  }
  if (f.split !== undefined && !(UNET_SPLITS as readonly string[]).includes(f.split)) {
    problems.push(
      `--split is ${JSON.stringify(f.split)}; accepted: ${UNET_SPLITS.join(', ')} (train keeps the 2,000 held-out digits unseen, so FID against them is fair)`,
    );
  }
  if (f.noiseSchedule !== undefined && !(NOISE_SCHEDULES as readonly string[]).includes(f.noiseSchedule)) {
    problems.push(`--noise-schedule is ${JSON.stringify(f.noiseSchedule)}; accepted: ${NOISE_SCHEDULES.join(', ')}`);
  }
  if (f.resume) {
    const given = CHECKPOINT_FLAGS.filter((name) => f[name] !== undefined);
    if (given.length > 0)
      problems.push(
        `${given.map(kebab).join(', ')} cannot be given with --resume: the checkpoint fixes the architecture, the process and the seed`,
      );
  }
  if (problems.length > 0) throw new UsageError(problems);
  const model: UNetArgs = {
    ...MNIST_UNET,
    ...(f.numChannels === undefined ? {} : { num_channels: f.numChannels }),
    ...(f.channelMult === undefined ? {} : { channel_mult: String(f.channelMult) }),
    ...(f.numResBlocks === undefined ? {} : { num_res_blocks: f.numResBlocks }),
    ...(f.attentionResolutions === undefined ? {} : { attention_resolutions: String(f.attentionResolutions) }),
  };
  const diffusion: DiffusionArgs = {
    ...MNIST_DIFFUSION,
    ...(f.noiseSchedule === undefined ? {} : { noise_schedule: f.noiseSchedule as DiffusionArgs['noise_schedule'] }),
    ...(f.diffusionSteps === undefined ? {} : { steps: f.diffusionSteps }),
    ...(f.inputPerturbation === undefined ? {} : { input_perturbation: f.inputPerturbation }),
  };
  const gradClip = f.gradClip ?? TRAIN_DEFAULTS.gradClip;
  return {
    out: String(f.out),
    steps: f.steps ?? TRAIN_DEFAULTS.steps,
    budgetMs: f.minutes === undefined ? null : f.minutes * 60_000,
    resume: Boolean(f.resume),
    logEvery: f.logEvery ?? TRAIN_DEFAULTS.logEvery,
    checkpointMs: (f.checkpointMinutes ?? TRAIN_DEFAULTS.checkpointMinutes) * 60_000,
    images: f.images ?? null,
    split: (f.split ?? TRAIN_DEFAULTS.split) as UnetSplit,
    threads: f.threads ?? null,
    settings: {
      batchSize: f.batchSize ?? TRAIN_DEFAULTS.batchSize,
      lr: f.lr ?? TRAIN_DEFAULTS.lr,
      weightDecay: f.weightDecay ?? TRAIN_DEFAULTS.weightDecay,
      emaRate: f.emaRate ?? TRAIN_DEFAULTS.emaRate,
      classDropout: f.classDropout ?? TRAIN_DEFAULTS.classDropout,
      gradClip: gradClip === 0 ? null : gradClip,
      seed: f.seed ?? TRAIN_DEFAULTS.seed,
    },
    model,
    diffusion,
  };
}
