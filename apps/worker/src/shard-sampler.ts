/**
 * A shard's seeds → uint8 NHWC images and labels (a latent model's latents, which the decode phase
 * turns into images: shard-decode.ts), in micro-batches of the worker's batch size.
 * Everything random comes from the seeds (docs/design.md#one-seed-one-image), so the micro-batch size and the order of
 * work never change an image. Between two denoiser steps the loop yields to the event loop, so
 * BullMQ's lock renewal and the metrics server keep running during a long shard.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { drawableClasses, type RunSpec, type SamplerSpec, solverOrder } from '@diffq/contract';
import {
  createProcess,
  type DiffusionConfig,
  type DiffusionProcess,
  type Guidance,
  type LabelPolicy,
  labelsFor,
  parseDiffusionConfig,
  runSampler,
  type SamplerSettings,
  SeedNoiseSource,
  toUint8Nhwc,
} from '@diffq/diffusion';
import { assertFiniteSamples } from './finite-samples.ts';
import type { WorkerMetrics } from './metrics.ts';
import type { ModelRuntime } from './model-runtime.ts';
import type { StepBudget } from './step-budget.ts';

export interface SampledShard {
  /** [N, H, W, C] uint8, C order, in seed order. */
  images: Uint8Array;
  imageShape: [number, number, number, number];
  /** One label per seed for a class-conditional model or classifier guidance, else null. */
  labels: number[] | null;
}

/** A latent model's shard before its decode phase. */
export interface SampledLatents {
  /** [N, C, h, w] float32 z_0, in seed order. */
  latents: Float32Array;
  latentShape: [number, number, number, number];
  labels: number[] | null;
}

/** Raised inside the sampling loop when the job's AbortSignal fires (shutdown, lost lock, cancel). */
export class SamplingAborted extends Error {
  override readonly name = 'SamplingAborted';
}

/** The run spec's sampler as the sampling loops take it. */
export function samplerSettings(s: SamplerSpec): SamplerSettings {
  switch (s.kind) {
    case 'ddpm':
      return { kind: 'ddpm', clipDenoised: s.clipDenoised };
    case 'ddim':
      return { kind: 'ddim', eta: s.eta, clipDenoised: s.clipDenoised };
    case 'dpm++2m':
    case 'dpm++3m':
    case 'unipc': {
      const common = {
        order: solverOrder(s),
        steps: s.steps,
        skipType: s.skipType,
        denoiseToZero: s.denoiseToZero,
        clipDenoised: s.clipDenoised,
        dynamicThreshold: s.dynamicThreshold,
      };
      return s.kind === 'unipc' ? { kind: 'unipc', variant: s.variant, ...common } : { kind: 'dpm-solver++', ...common };
    }
  }
}

function labelPolicy(spec: RunSpec): LabelPolicy {
  const { policy, classIndex } = spec.labels;
  return policy === 'fixed' ? { kind: 'fixed', label: classIndex ?? 0 } : { kind: policy };
}

export class ShardSampler {
  private readonly processes = new Map<string, DiffusionProcess>();
  private readonly diffusion: DiffusionConfig;

  constructor(
    private readonly model: ModelRuntime,
    private readonly batchSize: number,
    private readonly metrics?: WorkerMetrics,
    /** Shrinks the micro-batch of runs whose guided step would outlast the lock budget. */
    private readonly budget?: StepBudget,
  ) {
    this.diffusion = parseDiffusionConfig(model.directory.diffusion, 'model.json.diffusion');
  }

  /** The spaced process of a respacing string, built once per string. */
  private process(respacing: string): DiffusionProcess {
    let p = this.processes.get(respacing);
    if (!p) {
      p = createProcess({ ...this.diffusion, timestepRespacing: respacing });
      this.processes.set(respacing, p);
    }
    return p;
  }

  /** Labels the run asks for: from the denoiser's classes, or the classifier's under classifier guidance. */
  async labels(spec: RunSpec, seeds: readonly number[]): Promise<Int32Array | null> {
    const numClasses =
      spec.guidance.kind === 'classifier'
        ? (await this.model.classifier(spec.guidance.classifier)).config.outChannels
        : drawableClasses({ numClasses: this.model.shape.numClasses, nullLabel: this.model.directory.nullLabel });
    return numClasses === null ? null : labelsFor(labelPolicy(spec), seeds, numClasses);
  }

  private async guidance(spec: RunSpec, labels: Int32Array | null): Promise<Guidance> {
    const g = spec.guidance;
    if (g.kind === 'none') return { type: 'none' };
    if (g.kind === 'classifier_free') {
      const nullLabel = this.model.directory.nullLabel;
      if (nullLabel === null) throw new Error('classifier-free guidance needs model.json guidance.null_label');
      return { type: 'classifier_free', w: g.scale, nullLabel, ...(g.guidedChannels !== 'all' && { guidedChannels: g.guidedChannels }) };
    }
    const classifier = await this.model.classifier(g.classifier);
    return { type: 'classifier', labels: labels ?? new Int32Array(0), condFn: classifier.condFn(g.scale) };
  }

  /** A pixel model's shard: its images, uint8 NHWC as image_sample.py converts them. */
  async sample(spec: RunSpec, seeds: readonly number[], signal?: AbortSignal): Promise<SampledShard> {
    const { samples, shape, labels } = await this.sampleFloats(spec, seeds, signal);
    const [n, c, h, w] = shape;
    return { images: toUint8Nhwc(samples, shape), imageShape: [n, h, w, c], labels };
  }

  /** A latent model's shard: z_0 of every seed, for the decode phase. */
  async sampleLatents(spec: RunSpec, seeds: readonly number[], signal?: AbortSignal): Promise<SampledLatents> {
    const { samples, shape, labels } = await this.sampleFloats(spec, seeds, signal);
    return { latents: samples, latentShape: shape, labels };
  }

  /** x_0 [N, C, H, W] of every seed in model space, in micro-batches. */
  private async sampleFloats(
    spec: RunSpec,
    seeds: readonly number[],
    signal?: AbortSignal,
  ): Promise<{ samples: Float32Array; shape: [number, number, number, number]; labels: number[] | null }> {
    const { inChannels: c, imageSize: size, numClasses } = this.model.shape;
    const [h, w] = [size, size];
    // The ODE solvers read the base schedule; DDPM and DDIM step through the respaced one.
    const process = this.process('respacing' in spec.sampler ? spec.sampler.respacing : '');
    const sampler = samplerSettings(spec.sampler);
    const allLabels = await this.labels(spec, seeds);
    const microBatch = this.budget ? await this.budget.microBatch(spec.runId, spec.guidance) : this.batchSize;
    const sampleSize = c * h * w;
    const samples = new Float32Array(seeds.length * sampleSize);
    for (let start = 0; start < seeds.length; start += microBatch) {
      const batch = seeds.slice(start, start + microBatch);
      const labels = allLabels?.subarray(start, start + batch.length) ?? null;
      this.metrics?.microBatchSize.observe({ model: this.model.id }, batch.length);
      const x0 = await runSampler(
        {
          engine: this.model.engine,
          process,
          noise: new SeedNoiseSource(batch),
          shape: [batch.length, c, h, w],
          // The denoiser takes labels only when it is class-conditional; classifier guidance passes its own.
          labels: numClasses !== null && labels ? labels : undefined,
          guidance: await this.guidance(spec, labels),
          onStep: async () => {
            await yieldToEventLoop();
            if (signal?.aborted) throw new SamplingAborted(String(signal.reason ?? 'aborted'));
          },
        },
        sampler,
      );
      try {
        const x0Data = (await x0.data()) as Float32Array;
        assertFiniteSamples(x0Data, batch);
        samples.set(x0Data, start * sampleSize);
      } finally {
        x0.dispose();
      }
      await yieldToEventLoop();
      if (signal?.aborted) throw new SamplingAborted(String(signal.reason ?? 'aborted'));
    }
    return { samples, shape: [seeds.length, c, h, w], labels: allLabels ? Array.from(allLabels) : null };
  }
}
