/**
 * A shard's seeds → uint8 NHWC images and labels, in micro-batches of the worker's batch size.
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
  generate,
  type LabelPolicy,
  labelsFor,
  parseDiffusionConfig,
  type SamplerSettings,
  SeedNoiseSource,
} from '@diffq/diffusion';
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
        : drawableClasses({ numClasses: this.model.directory.unet.numClasses, nullLabel: this.model.directory.nullLabel });
    return numClasses === null ? null : labelsFor(labelPolicy(spec), seeds, numClasses);
  }

  private async guidance(spec: RunSpec, labels: Int32Array | null): Promise<Guidance> {
    const g = spec.guidance;
    if (g.kind === 'none') return { type: 'none' };
    if (g.kind === 'classifier_free') {
      const nullLabel = this.model.directory.nullLabel;
      if (nullLabel === null) throw new Error('classifier-free guidance needs model.json guidance.null_label');
      return { type: 'classifier_free', w: g.scale, nullLabel };
    }
    const classifier = await this.model.classifier(g.classifier);
    return { type: 'classifier', labels: labels ?? new Int32Array(0), condFn: classifier.condFn(g.scale) };
  }

  async sample(spec: RunSpec, seeds: readonly number[], signal?: AbortSignal): Promise<SampledShard> {
    const { unet } = this.model.directory;
    const [h, w, c] = [unet.imageSize, unet.imageSize, unet.inChannels];
    // The ODE solvers read the base schedule; DDPM and DDIM step through the respaced one.
    const process = this.process('respacing' in spec.sampler ? spec.sampler.respacing : '');
    const sampler = samplerSettings(spec.sampler);
    const allLabels = await this.labels(spec, seeds);
    const microBatch = this.budget ? await this.budget.microBatch(spec.runId, spec.guidance) : this.batchSize;
    const images = new Uint8Array(seeds.length * h * w * c);
    for (let start = 0; start < seeds.length; start += microBatch) {
      const batch = seeds.slice(start, start + microBatch);
      const labels = allLabels?.subarray(start, start + batch.length) ?? null;
      this.metrics?.microBatchSize.observe({ model: this.model.id }, batch.length);
      const generated = await generate({
        engine: this.model.engine,
        process,
        noise: new SeedNoiseSource(batch),
        shape: [batch.length, c, h, w],
        // The denoiser takes labels only when it is class-conditional; classifier guidance passes its own.
        labels: unet.numClasses !== null && labels ? labels : undefined,
        guidance: await this.guidance(spec, labels),
        sampler,
        onStep: async () => {
          await yieldToEventLoop();
          if (signal?.aborted) throw new SamplingAborted(String(signal.reason ?? 'aborted'));
        },
      });
      images.set(generated.images, start * h * w * c);
      await yieldToEventLoop();
      if (signal?.aborted) throw new SamplingAborted(String(signal.reason ?? 'aborted'));
    }
    return { images, imageShape: [seeds.length, h, w, c], labels: allLabels ? Array.from(allLabels) : null };
  }
}
