/**
 * `diffq-train classifier` flags → the MNIST feature network's training plan. Pure: every problem is
 * collected and reported at once (UsageError), each naming the flag, the value and the accepted range.
 */
import { UsageError } from '@diffq/contract';
import { type MnistClassifierArgs, parseMnistClassifierConfig } from '@diffq/networks';
import type { ClassifierTrainerSettings } from '@diffq/trainer';

export interface ClassifierFlags {
  out?: string;
  steps?: number;
  batchSize?: number;
  lr?: number;
  warmupSteps?: number;
  weightDecay?: number;
  emaRate?: number;
  maxShift?: number;
  maxRotation?: number;
  maxScale?: number;
  seed?: number;
  logEvery?: number;
  images?: number;
  stageChannels?: string;
  convsPerStage?: number;
  hidden?: number;
}

export interface ClassifierPlan {
  out: string;
  logEvery: number;
  /** Train on the first N training digits only (round-robin over classes); null for all 8,000. */
  images: number | null;
  settings: ClassifierTrainerSettings;
  /** model.json's `model`. */
  model: Required<MnistClassifierArgs>;
}

export const CLASSIFIER_DEFAULTS = {
  steps: 1000,
  batchSize: 64,
  lr: 2e-3,
  warmupSteps: 100,
  weightDecay: 0.05,
  emaRate: 0.999,
  maxShift: 2,
  maxRotation: 10,
  maxScale: 0.1,
  seed: 0,
  logEvery: 25,
  stageChannels: '16,32',
  convsPerStage: 2,
  hidden: 128,
} as const;

const kebab = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function planClassifierTraining(f: ClassifierFlags): ClassifierPlan {
  const problems: string[] = [];
  const number = (name: keyof ClassifierFlags, ok: (v: number) => boolean, range: string) => {
    const value = f[name];
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && ok(value))) {
      problems.push(`${kebab(name)} is ${JSON.stringify(value)}; accepted: ${range}`);
    }
  };
  const int = (lo: number, hi: number) => (v: number) => Number.isInteger(v) && v >= lo && v <= hi;
  if (f.out === undefined || String(f.out).trim() === '')
    problems.push('--out is required: the model directory to write, e.g. --out models/mnist-classifier');
  number('steps', int(1, 1e7), 'an integer in [1, 10000000]');
  number('batchSize', int(1, 1024), 'an integer in [1, 1024]');
  number('lr', (v) => v > 0 && v < 1, 'a number in (0, 1), e.g. 2e-3');
  number('warmupSteps', int(0, 1e7), 'an integer ≥ 0');
  number('weightDecay', (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  number('emaRate', (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  number('maxShift', (v) => v >= 0 && v <= 8, 'a number of pixels in [0, 8]');
  number('maxRotation', (v) => v >= 0 && v <= 45, 'a number of degrees in [0, 45]');
  number('maxScale', (v) => v >= 0 && v < 0.5, 'a number in [0, 0.5)');
  number('seed', int(0, Number.MAX_SAFE_INTEGER), 'an integer in [0, 2^53 − 1]');
  number('logEvery', int(1, 1e9), 'an integer ≥ 1');
  number('images', int(1, 1e9), 'an integer ≥ 1');
  number('convsPerStage', int(1, 4), 'an integer in [1, 4]');
  number('hidden', int(2, 4096), 'an integer in [2, 4096]');
  const stageText = String(f.stageChannels ?? CLASSIFIER_DEFAULTS.stageChannels);
  if (!/^\s*\d+\s*(,\s*\d+\s*)*$/.test(stageText)) {
    problems.push(`--stage-channels is ${JSON.stringify(f.stageChannels)}; accepted: comma-separated channel counts, e.g. "16,32"`);
  }
  if (problems.length > 0) throw new UsageError(problems);
  const model = {
    image_size: 28,
    in_channels: 1,
    num_classes: 10,
    stage_channels: stageText.split(',').map((s) => Number(s.trim())),
    convs_per_stage: f.convsPerStage ?? CLASSIFIER_DEFAULTS.convsPerStage,
    hidden: f.hidden ?? CLASSIFIER_DEFAULTS.hidden,
  };
  try {
    parseMnistClassifierConfig(model, 'the network flags');
  } catch (e) {
    throw new UsageError([(e as Error).message]);
  }
  return {
    out: String(f.out),
    logEvery: f.logEvery ?? CLASSIFIER_DEFAULTS.logEvery,
    images: f.images ?? null,
    settings: {
      batchSize: f.batchSize ?? CLASSIFIER_DEFAULTS.batchSize,
      lr: f.lr ?? CLASSIFIER_DEFAULTS.lr,
      steps: f.steps ?? CLASSIFIER_DEFAULTS.steps,
      warmupSteps: f.warmupSteps ?? CLASSIFIER_DEFAULTS.warmupSteps,
      weightDecay: f.weightDecay ?? CLASSIFIER_DEFAULTS.weightDecay,
      emaRate: f.emaRate ?? CLASSIFIER_DEFAULTS.emaRate,
      maxShift: f.maxShift ?? CLASSIFIER_DEFAULTS.maxShift,
      maxRotation: f.maxRotation ?? CLASSIFIER_DEFAULTS.maxRotation,
      maxScale: f.maxScale ?? CLASSIFIER_DEFAULTS.maxScale,
      seed: f.seed ?? CLASSIFIER_DEFAULTS.seed,
    },
    model,
  };
}
