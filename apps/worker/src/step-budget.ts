/**
 * The lock budget of one denoiser step. BullMQ renews a shard's lock from a timer, so the event
 * loop must never be held longer than a fraction of --lock-duration (packages/queue queue-options).
 * The sampling loop yields after every step, so the longest hold is one step of one micro-batch,
 * and what a step costs depends on the run's guidance:
 * - none: one forward of the micro-batch;
 * - classifier-free: one forward of twice the micro-batch (conditional and null-label halves);
 * - classifier: one forward plus the classifier's gradient pass over the micro-batch.
 * So the budget is checked per run setting, on the first shard that needs it, by timing one step as
 * the run will take it. A step over budget is split into smaller micro-batches (the images do not
 * change: every sample's noise comes from its seed); a step over budget even at one sample is
 * refused with UnrecoverableError.
 * A latent model's decode phase holds the loop for one decoder micro-batch (--decode-batch), whatever
 * the run: it is fitted once at start, and a worker whose single-image decode is over budget refuses
 * to start.
 */
import type { GuidanceSpec } from '@diffq/contract';
import { formatDuration } from '@diffq/queue';
import * as tf from '@tensorflow/tfjs';
import { UnrecoverableError } from 'bullmq';
import type { ModelRuntime } from './model-runtime.ts';

/** A step may take at most this share of --lock-duration (renewal runs every lockDuration/4). */
export const LOCK_BUDGET_SHARE = 1 / 3;

/** Seconds of one sampling step, with the guidance it was timed under. */
export interface TimedStep {
  microBatch: number;
  seconds: number;
}

/** How a step of `guidance` reads in messages: what the hold is made of. */
export function describeStep(guidance: GuidanceSpec, microBatch: number): string {
  if (guidance.kind === 'classifier_free') return `classifier-free-guided step (one forward of 2 × ${microBatch})`;
  if (guidance.kind === 'classifier') return `classifier-guided step (a forward and a classifier gradient of ${microBatch})`;
  return `step (one forward of ${microBatch})`;
}

/** Runs with the same step cost share one check: the guidance kind, and the classifier's weights. */
function stepKey(guidance: GuidanceSpec): string {
  return guidance.kind === 'classifier' ? `classifier ${guidance.classifier.digest}` : guidance.kind;
}

export class StepBudget {
  private readonly microBatches = new Map<string, Promise<number>>();

  constructor(
    private readonly model: ModelRuntime,
    /** The worker's --batch-size: the largest micro-batch it samples. */
    private readonly batchSize: number,
    private readonly lockDurationMs: number,
    private readonly log: (line: string) => void = () => {},
  ) {}

  get budgetSeconds(): number {
    return (this.lockDurationMs * LOCK_BUDGET_SHARE) / 1000;
  }

  /** Wall seconds of one step of `microBatch` samples under `guidance`, on zeros at t = 500. */
  async timeStep(guidance: GuidanceSpec, microBatch: number): Promise<number> {
    const { inChannels: channels, imageSize: size, numClasses } = this.model.shape;
    const classifier = guidance.kind === 'classifier' ? await this.model.classifier(guidance.classifier) : undefined;
    const forwardBatch = guidance.kind === 'classifier_free' ? 2 * microBatch : microBatch;
    const x = tf.zeros([forwardBatch, channels, size, size]) as tf.Tensor4D;
    const t = tf.fill([forwardBatch], 500) as tf.Tensor1D;
    const y = tf.zeros([forwardBatch], 'int32') as tf.Tensor1D;
    const start = performance.now();
    try {
      const out = await this.model.engine.forward(x, t, numClasses === null ? undefined : y);
      await out.data();
      out.dispose();
      if (classifier && guidance.kind === 'classifier') {
        const grad = await classifier.condFn(guidance.scale)(x, t, y);
        await grad.data();
        grad.dispose();
      }
    } finally {
      tf.dispose([x, t, y]);
    }
    return (performance.now() - start) / 1000;
  }

  /** Time a step, and when it is over budget time it once more: a first pass at a new shape also pays for warming up. */
  private async measure(guidance: GuidanceSpec, microBatch: number): Promise<number> {
    const seconds = await this.timeStep(guidance, microBatch);
    return seconds <= this.budgetSeconds ? seconds : this.timeStep(guidance, microBatch);
  }

  /**
   * At start: an unguided step of --batch-size must fit, or the worker is misconfigured and refuses
   * to start (a plain Error: nothing to retry).
   */
  async checkAtStart(): Promise<number> {
    const guidance: GuidanceSpec = { kind: 'none' };
    const seconds = await this.measure(guidance, this.batchSize);
    this.log(
      `warm-up ${describeStep(guidance, this.batchSize)}: ${seconds.toFixed(3)} s (budget ${this.budgetSeconds.toFixed(1)} s, a third of --lock-duration ${formatDuration(this.lockDurationMs)})`,
    );
    if (seconds > this.budgetSeconds) {
      throw new Error(
        `one ${describeStep(guidance, this.batchSize)} takes ${seconds.toFixed(1)} s, more than a third of --lock-duration ${formatDuration(this.lockDurationMs)}; ` +
          'lower --batch-size or raise --lock-duration, or BullMQ would take healthy shards away as stalled',
      );
    }
    this.microBatches.set(stepKey(guidance), Promise.resolve(this.batchSize));
    return seconds;
  }

  /**
   * The micro-batch a run samples with: --batch-size when its step fits the budget, else the largest
   * that fits. Throws UnrecoverableError when one sample's step is over budget. Decided once per
   * step cost (guidance kind, classifier) and kept.
   */
  microBatch(runId: string, guidance: GuidanceSpec): Promise<number> {
    const key = stepKey(guidance);
    let entry = this.microBatches.get(key);
    if (!entry) {
      entry = this.fit(runId, guidance);
      this.microBatches.set(key, entry);
      // A refusal stands for every run of this step cost; a transient fault (a classifier that could
      // not be fetched) is tried again by the next shard.
      entry.catch((error) => {
        if (!(error instanceof UnrecoverableError)) this.microBatches.delete(key);
      });
    }
    return entry;
  }

  /** Wall seconds of one decode of `decodeBatch` zero latents. */
  async timeDecode(decodeBatch: number): Promise<number> {
    const decoder = this.model.decoder;
    if (!decoder) throw new Error('timeDecode: the model has no decoder');
    const { inChannels: channels, imageSize: size } = this.model.shape;
    const z = new Float32Array(decodeBatch * channels * size * size);
    const start = performance.now();
    await decoder.decode(z, decodeBatch, size, size);
    return (performance.now() - start) / 1000;
  }

  /**
   * At start, for a latent model: --decode-batch when one decoder micro-batch fits the budget, else the
   * largest that fits (logged). A plain Error when one image is over budget: the worker is
   * misconfigured for this model, nothing to retry.
   */
  async fitDecodeBatch(decodeBatch: number): Promise<number> {
    const budget = this.budgetSeconds;
    const measure = async (b: number) => {
      const seconds = await this.timeDecode(b);
      // The first decode at a shape also pays for warming up.
      return seconds <= budget ? seconds : this.timeDecode(b);
    };
    let batch = decodeBatch;
    let seconds = await measure(batch);
    const first = seconds;
    while (seconds > budget && batch > 1) {
      batch = Math.max(1, Math.min(batch - 1, Math.floor((batch * budget) / seconds)));
      seconds = await measure(batch);
    }
    const lock = `a third of --lock-duration ${formatDuration(this.lockDurationMs)}`;
    if (seconds > budget) {
      throw new Error(
        `one decode of a single latent takes ${seconds.toFixed(2)} s, more than ${lock} (${budget.toFixed(2)} s); ` +
          `raise --lock-duration to at least ${formatDuration(Math.ceil((seconds / LOCK_BUDGET_SHARE) * 1.5) * 1000)}, or decode on a faster engine`,
      );
    }
    this.log(
      batch < decodeBatch
        ? `decode of --decode-batch ${decodeBatch} takes ${first.toFixed(2)} s, over the lock budget ${budget.toFixed(2)} s (${lock}); decoding in micro-batches of ${batch} (${seconds.toFixed(2)} s each)`
        : `warm-up decode of ${batch}: ${seconds.toFixed(3)} s (budget ${budget.toFixed(1)} s, ${lock})`,
    );
    return batch;
  }

  private async fit(runId: string, guidance: GuidanceSpec): Promise<number> {
    const budget = this.budgetSeconds;
    let microBatch = this.batchSize;
    let seconds = await this.measure(guidance, microBatch);
    const first = seconds;
    while (seconds > budget && microBatch > 1) {
      // Step time is close to linear in the batch; aim under the budget and check.
      microBatch = Math.max(1, Math.min(microBatch - 1, Math.floor((microBatch * budget) / seconds)));
      seconds = await this.measure(guidance, microBatch);
    }
    if (seconds > budget) {
      throw new UnrecoverableError(
        `run ${runId}: one ${describeStep(guidance, 1)} takes ${seconds.toFixed(2)} s even at micro-batch 1, more than a third of ` +
          `--lock-duration ${formatDuration(this.lockDurationMs)} (${budget.toFixed(2)} s), so BullMQ would take the shard away as stalled. ` +
          `Raise --lock-duration to at least ${formatDuration(Math.ceil((seconds / LOCK_BUDGET_SHARE) * 1.5) * 1000)} on this run's workers, or sample it on faster ones`,
      );
    }
    if (microBatch < this.batchSize) {
      this.log(
        `run ${runId}: one ${describeStep(guidance, this.batchSize)} takes ${first.toFixed(2)} s, over the lock budget ${budget.toFixed(2)} s ` +
          `(a third of --lock-duration ${formatDuration(this.lockDurationMs)}); sampling such runs in micro-batches of ${microBatch} (${seconds.toFixed(2)} s per step)`,
      );
    }
    return microBatch;
  }
}
