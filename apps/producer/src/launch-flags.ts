/**
 * `diffq launch` flags → the run spec (the manifest). Pure: the model facts come in as data. Every
 * problem is collected and reported at once, each sentence naming the flag, the value given and
 * what is accepted, before anything touches Redis or the store.
 */
import {
  countSeeds,
  DEFAULT_SHARD_SIZE,
  DIT_GUIDED_CHANNELS,
  drawableClasses,
  type GuidedChannels,
  ID_PATTERN,
  InvalidPayload,
  MAX_PRIORITY,
  MAX_SHARD_SIZE,
  MAX_SHARDS_PER_RUN,
  newRunId,
  parseRunSpec,
  type RunSpec,
  type RunSpecInput,
  StoreUrlSchema,
  UsageError,
} from '@diffq/contract';
import type { ClassifierFacts, DenoiserFacts } from './model-facts.ts';
import { checkSamplerAgainstModel, checkSamplerFlags, type SamplerFlags, samplerSpec } from './sampler-flags.ts';
import { checkStatisticsFlags, type StatisticsFacts, type StatisticsFlags, statisticsSpec } from './statistics-flags.ts';

export const FORMATS = ['npz', 'png', 'both'] as const;
/** --guided-channels as written on the command line. */
export const GUIDED_CHANNELS_FLAG = ['3', 'all'] as const;

/** The sampler flags (--sampler, --steps, --respacing, --eta, the solvers') are sampler-flags.ts's, the statistics flags (--stats, --features, --ref) statistics-flags.ts's. */
export interface LaunchFlags extends SamplerFlags, StatisticsFlags {
  model: string;
  modelId?: string;
  seeds?: string;
  runId?: string;
  guidanceScale?: number;
  /** `3` (DiT's forward_with_cfg) or `all`: which ε channels classifier-free guidance combines; latent models only. */
  guidedChannels?: string;
  classifier?: string;
  classifierScale?: number;
  labels?: string;
  shardSize?: number;
  format?: string;
  store: string;
  priority?: number;
}

const ID_RULE = '1 to 63 characters of a-z, 0-9 and "-", starting with a letter or digit';

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** The checks that need no model: syntax and ranges of every flag. */
export function checkLaunchFlags(f: LaunchFlags): string[] {
  const problems: string[] = [];
  if (f.seeds === undefined || f.seeds === '') {
    problems.push('--seeds is required: seeds as EDM writes them, e.g. --seeds 0-49999 or --seeds 1,2,5-10');
  } else {
    try {
      const seeds = countSeeds(String(f.seeds));
      const shardSize = f.shardSize ?? DEFAULT_SHARD_SIZE;
      const shards = Math.ceil(seeds / shardSize);
      if (Number.isInteger(shardSize) && shards > MAX_SHARDS_PER_RUN)
        problems.push(
          `--seeds "${f.seeds}" (${seeds} seeds) in shards of ${shardSize} (--shard-size) make ${shards} shards; accepted: at most ${MAX_SHARDS_PER_RUN} per launch: give --shard-size ${Math.ceil(seeds / MAX_SHARDS_PER_RUN)} or more, or split the seeds into several runs`,
        );
    } catch (error) {
      const detail = error instanceof InvalidPayload ? error.problems.join(' ') : (error as Error).message;
      problems.push(`--seeds "${f.seeds}": ${detail}`);
    }
  }
  if (f.runId !== undefined && !ID_PATTERN.test(String(f.runId))) problems.push(`--run-id "${f.runId}" must be ${ID_RULE}`);
  if (f.modelId !== undefined && !ID_PATTERN.test(String(f.modelId))) problems.push(`--model-id "${f.modelId}" must be ${ID_RULE}`);
  problems.push(...checkSamplerFlags(f));
  if (f.guidanceScale !== undefined && (!isNumber(f.guidanceScale) || f.guidanceScale < 0)) {
    problems.push(`--guidance-scale is ${f.guidanceScale}; accepted: a number ≥ 0 (the classifier-free guidance weight w)`);
  }
  if (f.guidedChannels !== undefined) {
    if (!(GUIDED_CHANNELS_FLAG as readonly string[]).includes(String(f.guidedChannels)))
      problems.push(`--guided-channels "${f.guidedChannels}": accepted: 3 (DiT's forward_with_cfg) or all`);
    else if (f.guidanceScale === undefined)
      problems.push('--guided-channels applies to classifier-free guidance; give --guidance-scale <w> as well');
  }
  if ((f.classifier === undefined) !== (f.classifierScale === undefined)) {
    problems.push(
      f.classifier === undefined
        ? '--classifier-scale needs --classifier <dir> (the noisy classifier)'
        : '--classifier needs --classifier-scale <s> (a number > 0)',
    );
  }
  if (f.classifierScale !== undefined && (!isNumber(f.classifierScale) || f.classifierScale <= 0)) {
    problems.push(`--classifier-scale is ${f.classifierScale}; accepted: a number > 0`);
  }
  if (f.guidanceScale !== undefined && f.classifier !== undefined)
    problems.push('--guidance-scale (classifier-free) and --classifier (classifier guidance) exclude each other; choose one');
  if (f.labels !== undefined && !/^(random|balanced|\d+)$/.test(String(f.labels))) {
    problems.push(`--labels "${f.labels}": accepted: random, balanced, or a class index k (an integer ≥ 0)`);
  }
  if (f.shardSize !== undefined && !(Number.isInteger(f.shardSize) && f.shardSize >= 1 && f.shardSize <= MAX_SHARD_SIZE)) {
    problems.push(`--shard-size is ${f.shardSize}; accepted: an integer from 1 to ${MAX_SHARD_SIZE}`);
  }
  if (f.format !== undefined && !(FORMATS as readonly string[]).includes(f.format))
    problems.push(`--format "${f.format}": accepted: ${FORMATS.join(', ')}`);
  if (!StoreUrlSchema.safeParse(f.store).success)
    problems.push(`--store "${f.store}": accepted: file://<dir> (e.g. file://./runs) or s3://<bucket>[/<prefix>]`);
  if (f.priority !== undefined && !(Number.isInteger(f.priority) && f.priority >= 0 && f.priority <= MAX_PRIORITY)) {
    problems.push(`--priority is ${f.priority}; accepted: an integer from 0 (none) to ${MAX_PRIORITY} (1 runs first)`);
  }
  problems.push(...checkStatisticsFlags(f));
  return problems;
}

/** The checks against the model (and classifier): steps, respacing, labels, guidance. */
export function checkAgainstModel(f: LaunchFlags, model: DenoiserFacts, classifier?: ClassifierFacts): string[] {
  const problems: string[] = [];
  problems.push(...checkSamplerAgainstModel(f, model.steps));
  if (f.guidanceScale !== undefined) {
    if (model.numClasses === null)
      problems.push(`--guidance-scale needs a class-conditional model; ${model.uri} is unconditional (model.class_cond false)`);
    else if (model.nullLabel === null)
      problems.push(
        `--guidance-scale needs a model trained with a "no class" label; ${model.uri} has guidance.null_label null in model.json`,
      );
  }
  if (f.guidedChannels !== undefined && !model.latent) {
    problems.push(
      `--guided-channels ${f.guidedChannels}: applies to latent models (architecture "dit"); ${model.uri} is a pixel model (architecture "${model.architecture}"), whose guidance combines every channel`,
    );
  }
  if (classifier) {
    if (classifier.imageSize !== model.imageSize) {
      problems.push(
        `--classifier ${classifier.uri} takes ${classifier.imageSize}×${classifier.imageSize} images; the model samples ${model.imageSize}×${model.imageSize}`,
      );
    }
  }
  const classes = classifier ? classifier.numClasses : drawableClasses(model);
  if (f.labels !== undefined) {
    if (classes === null) {
      problems.push(`--labels ${f.labels}: ${model.uri} is unconditional; labels apply to class-conditional models or with --classifier`);
    } else if (/^\d+$/.test(f.labels) && Number(f.labels) >= classes) {
      problems.push(
        `--labels ${f.labels}: accepted: a class index from 0 to ${classes - 1} (${classifier ? 'the classifier' : 'the model'} has ${classes} classes)`,
      );
    }
  }
  return problems;
}

/** --guided-channels, else the model's own convention: DiT's 3 channels for a latent model, every channel for a pixel one. */
export function guidedChannels(f: LaunchFlags, model: DenoiserFacts): GuidedChannels {
  if (f.guidedChannels !== undefined) return f.guidedChannels === '3' ? 3 : 'all';
  return model.latent ? DIT_GUIDED_CHANNELS : 'all';
}

/** Builds and validates the manifest; contract errors are re-phrased per flag. */
export function buildRunSpec(
  f: LaunchFlags,
  model: DenoiserFacts,
  classifier: ClassifierFacts | undefined,
  meta: { now: Date; codeVersion: string; statistics?: StatisticsFacts },
): RunSpec {
  const labels =
    f.labels === undefined || f.labels === 'random' || f.labels === 'balanced'
      ? { policy: (f.labels ?? 'random') as 'random' | 'balanced' }
      : { policy: 'fixed' as const, classIndex: Number(f.labels) };
  const input: RunSpecInput = {
    runId: f.runId ?? newRunId('run', meta.now),
    model: {
      uri: model.uri,
      id: model.id,
      digest: model.digest,
      ...(model.latent && { decoder: { uri: model.latent.decoder.uri, digest: model.latent.decoder.digest } }),
    },
    sampler: samplerSpec(f, model),
    guidance:
      f.guidanceScale !== undefined
        ? { kind: 'classifier_free', scale: f.guidanceScale, guidedChannels: guidedChannels(f, model) }
        : classifier && f.classifierScale !== undefined
          ? { kind: 'classifier', classifier: { uri: classifier.uri, digest: classifier.digest }, scale: f.classifierScale }
          : { kind: 'none' },
    labels,
    seeds: String(f.seeds),
    seedCount: countSeeds(String(f.seeds)),
    shardSize: f.shardSize,
    format: f.format as RunSpecInput['format'],
    createdAt: meta.now.toISOString(),
    codeVersion: meta.codeVersion,
    priority: f.priority,
    statistics: meta.statistics ? statisticsSpec(meta.statistics) : undefined,
  };
  try {
    return parseRunSpec(input);
  } catch (error) {
    if (error instanceof InvalidPayload) throw new UsageError(error.problems.map((p) => `run spec: ${p}`));
    throw error;
  }
}
