/**
 * `diffq launch`: validate everything, then write the manifest, then enqueue the shards, then
 * register the run (`<prefix>:runs`): a run is registered only once its queue holds every shard.
 * A run id that already has a manifest is not launched again: a registered run with the same spec
 * adds nothing (use `diffq resume` to re-enqueue what the store lacks), an unregistered one is a
 * launch that died while enqueueing, whose enqueueing this launch finishes (the manifest is the
 * truth, the queue catches up); a different spec is an error.
 */
import { readFileSync } from 'node:fs';
import { drawableClasses, type RunSpec, sampleQueueName, shardCount, UsageError } from '@diffq/contract';
import { readManifest, writeManifest } from '@diffq/storage';
import { enqueueShards } from './enqueue.ts';
import { buildRunSpec, checkAgainstModel, checkLaunchFlags, type LaunchFlags } from './launch-flags.ts';
import { type ClassifierFacts, classifierFacts, type DenoiserFacts, denoiserFacts } from './model-facts.ts';
import type { Producer } from './producer.ts';
import { checkStatistics, gatherStatisticsFacts } from './statistics-flags.ts';

export interface LaunchResult {
  runId: string;
  modelId: string;
  queue: string;
  storeUrl: string;
  seeds: number;
  shards: number;
  /** Jobs added to the queue (shards + finalize); 0 when the run was already launched. */
  added: number;
  alreadyLaunched: boolean;
  /** The manifest existed but the run was never registered: this launch finished its enqueueing. */
  resumedEnqueue: boolean;
  /** Milliseconds from the first Redis or store access to the last job added. */
  enqueueMs: number;
  /** What the run's statistics must be read with (a reference of other or unknown preprocessing); report.json repeats them. */
  warnings: string[];
}

export const CODE_VERSION = `diffq ${(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version}`;

/** The spec without what differs between two launches of the same run (time, code version). */
function essence(spec: RunSpec): string {
  const { createdAt: _createdAt, codeVersion: _codeVersion, ...rest } = spec;
  return JSON.stringify(rest);
}

/** Validates flags against the model; throws UsageError listing every problem. No I/O beyond reading the model. */
export async function planLaunch(flags: LaunchFlags, now = new Date()): Promise<{ spec: RunSpec; warnings: string[] }> {
  const problems = checkLaunchFlags(flags);
  if (problems.length > 0) throw new UsageError(problems);
  let model: DenoiserFacts;
  let classifier: ClassifierFacts | undefined;
  try {
    model = await denoiserFacts(flags.model, flags.modelId);
    classifier = flags.classifier === undefined ? undefined : await classifierFacts(flags.classifier);
  } catch (error) {
    throw new UsageError([(error as Error).message]);
  }
  const statistics = await gatherStatisticsFacts(flags, model.evaluation, flags.store);
  const images = {
    imageSize: model.imageSize,
    channels: model.channels,
    classes: classifier ? classifier.numClasses : drawableClasses(model),
  };
  const modelProblems = [
    ...checkAgainstModel(flags, model, classifier),
    ...statistics.problems,
    ...(statistics.facts ? checkStatistics(statistics.facts, images) : []),
  ];
  if (modelProblems.length > 0) throw new UsageError(modelProblems);
  const spec = buildRunSpec(flags, model, classifier, { now, codeVersion: CODE_VERSION, statistics: statistics.facts });
  return { spec, warnings: statistics.facts?.warnings ?? [] };
}

export async function launchRun(producer: Producer, flags: LaunchFlags, now = new Date()): Promise<LaunchResult> {
  const { spec, warnings } = await planLaunch(flags, now);
  const start = performance.now();
  await producer.redis();
  const store = producer.store(flags.store);
  const result = {
    runId: spec.runId,
    modelId: spec.model.id,
    queue: sampleQueueName(spec.model.id),
    storeUrl: store.url,
    seeds: spec.seedCount,
    shards: shardCount(spec),
    warnings,
  };
  const existing = await readManifest(store, spec.runId);
  if (existing) {
    if (essence(existing) !== essence(spec)) {
      throw new UsageError([
        `--run-id ${spec.runId} already exists in ${store.url} with other settings (launched ${existing.createdAt}); choose another --run-id, or leave it out to get a new one`,
      ]);
    }
    if (await producer.runEntry(spec.runId))
      return { ...result, added: 0, alreadyLaunched: true, resumedEnqueue: false, enqueueMs: performance.now() - start };
    const added = await enqueueAndRegister(producer, existing, store.url, result.shards);
    return { ...result, added, alreadyLaunched: true, resumedEnqueue: true, enqueueMs: performance.now() - start };
  }
  await writeManifest(store, spec);
  const added = await enqueueAndRegister(producer, spec, store.url, result.shards);
  return { ...result, added, alreadyLaunched: false, resumedEnqueue: false, enqueueMs: performance.now() - start };
}

async function enqueueAndRegister(producer: Producer, spec: RunSpec, storeUrl: string, shards: number): Promise<number> {
  const added = await enqueueShards(
    producer,
    spec,
    storeUrl,
    Array.from({ length: shards }, (_, i) => i),
  );
  await producer.registerRun({
    runId: spec.runId,
    modelId: spec.model.id,
    storeUrl,
    seedCount: spec.seedCount,
    shards,
    launchedAt: spec.createdAt,
  });
  return added;
}
