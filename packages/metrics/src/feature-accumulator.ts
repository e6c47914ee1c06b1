/**
 * The statistics of a run from its shards' features, fed shard by shard in seed order
 * (docs/evaluation-runs.md). What grows with the run is kept as mergeable raw moments (FID, sFID:
 * exact, order-free float64 sums); the Inception Score is scored split by split as the rows go by;
 * precision/recall keep only the first PR_SAMPLE_CAP rows, because their k-NN manifolds cost
 * O(n²·d) and a 50,000² distance matrix is out of reach of a CPU finalizer.
 */
import { type FrechetKernel, frechetDistance, frechetDistanceWith, type GaussianStats } from './frechet.ts';
import { inceptionScore, softmaxRows } from './inception-score.ts';
import { javascriptMomentKernel, type MomentKernel } from './moment-kernel.ts';
import { accumulateMoments, emptyMoments, type Moments, momentsToStats } from './moments.ts';
import { precisionRecall } from './precision-recall.ts';

/** Samples per Inception Score split, as guided-diffusion's evaluator (and improved-gan) use. */
export const IS_SPLIT_SIZE = 5000;
/** Generated (and reference) features precision/recall use at most: the first ones in seed order. */
export const PR_SAMPLE_CAP = 10_000;
/** Nearest-neighbour k of the precision/recall manifolds, as the evaluator's nhood_sizes = (3,). */
export const PR_K = 3;

/** One shard's rows, in seed order. */
export interface FeatureBatch {
  /** [n, featureDim] */
  features: Float32Array;
  /** [n, logitDim] */
  logits?: Float32Array;
  /** [n, spatialDim] */
  spatial?: Float32Array;
  /** The requested class of each row (accuracy), or null. */
  labels: readonly number[] | null;
}

/** The reference a run is compared against: a stats npz's contents. */
export interface EvaluationReference extends GaussianStats {
  spatial?: GaussianStats;
  /** [m, featureDim] feature rows for precision/recall. */
  features?: Float32Array;
}

export interface EvaluationResult {
  samples: number;
  /** μ, Σ of the features, for the run's stats.npz. */
  stats: GaussianStats;
  spatialStats?: GaussianStats;
  /** The first ≤ PR_SAMPLE_CAP feature rows, for the run's stats.npz (so it can be a precision/recall reference). */
  sampleFeatures: Float32Array;
  fid?: number;
  sfid?: number;
  inceptionScore?: { mean: number; std: number; splits: number; splitSize: number };
  precisionRecall?: { precision: number; recall: number; k: number; samples: number; referenceSamples: number };
  accuracy?: { accuracy: number; samples: number; perClass: Record<string, number> };
}

export interface AccumulatorDims {
  featureDim: number;
  logitDim?: number;
  spatialDim?: number;
}

export class FeatureAccumulator {
  readonly moments: Moments;
  readonly spatialMoments?: Moments;
  private readonly splitScores: number[] = [];
  private split: Float32Array[] = [];
  private splitRows = 0;
  private readonly prRows: Float32Array[] = [];
  private prCount = 0;
  private readonly correct = new Map<number, { right: number; total: number }>();

  constructor(
    /** The run's statistics (the contract's STATISTIC_KINDS): fid, sfid, is, pr, accuracy. */
    readonly kinds: readonly string[],
    readonly dims: AccumulatorDims,
    private readonly options: {
      splitSize?: number;
      prCap?: number;
      /** Runs Σx·xᵀ for addBatch (packages/onnx's openMomentKernel is the fast one); default JavaScript. */
      momentKernel?: MomentKernel;
      /** Runs the Fréchet distances' big product for finishAsync; default JavaScript. */
      frechetKernel?: FrechetKernel;
    } = {},
  ) {
    this.moments = emptyMoments(dims.featureDim);
    if (kinds.includes('sfid')) {
      if (!dims.spatialDim) throw new RangeError('sfid needs spatial features; the feature network has none');
      this.spatialMoments = emptyMoments(dims.spatialDim);
    }
    if ((kinds.includes('is') || kinds.includes('accuracy')) && !dims.logitDim) {
      throw new RangeError(`${kinds.includes('is') ? 'is' : 'accuracy'} needs logits; the feature network has none`);
    }
  }

  get count(): number {
    return this.moments.count;
  }

  /** Adds one shard's rows, its moments by the JavaScript kernel. */
  add(batch: FeatureBatch): void {
    this.checkSpatial(batch);
    accumulateMoments(this.moments, batch.features);
    if (this.spatialMoments && batch.spatial) accumulateMoments(this.spatialMoments, batch.spatial);
    this.addRest(batch);
  }

  /** Adds one shard's rows, its moments by the accumulator's momentKernel. */
  async addBatch(batch: FeatureBatch): Promise<void> {
    this.checkSpatial(batch);
    const kernel = this.options.momentKernel ?? javascriptMomentKernel;
    await kernel.accumulate(this.moments, batch.features);
    if (this.spatialMoments && batch.spatial) await kernel.accumulate(this.spatialMoments, batch.spatial);
    this.addRest(batch);
  }

  private checkSpatial(batch: FeatureBatch): void {
    if (this.spatialMoments && !batch.spatial) throw new RangeError('a shard has no spatial features but the run asks sfid');
  }

  /** Everything but the moments: precision/recall rows, Inception Score splits, accuracy. */
  private addRest(batch: FeatureBatch): void {
    const { featureDim, logitDim } = this.dims;
    const n = batch.features.length / featureDim;
    const cap = this.options.prCap ?? PR_SAMPLE_CAP;
    if (this.prCount < cap) {
      const take = Math.min(n, cap - this.prCount);
      this.prRows.push(batch.features.slice(0, take * featureDim));
      this.prCount += take;
    }
    if (this.kinds.includes('is')) this.addLogitsToSplits(batch, n);
    if (this.kinds.includes('accuracy')) {
      if (!batch.logits || !logitDim) throw new RangeError('a shard has no logits but the run asks accuracy');
      if (!batch.labels) throw new RangeError('accuracy needs the requested class of each sample; the shard has no labels');
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let j = 1; j < logitDim; j++) if (batch.logits[i * logitDim + j] > batch.logits[i * logitDim + best]) best = j;
        const label = batch.labels[i];
        const entry = this.correct.get(label) ?? { right: 0, total: 0 };
        entry.total++;
        if (best === label) entry.right++;
        this.correct.set(label, entry);
      }
    }
  }

  /** Consecutive splits in feed order: each full split is scored and dropped. */
  private addLogitsToSplits(batch: FeatureBatch, n: number): void {
    const logitDim = this.dims.logitDim as number;
    if (!batch.logits) throw new RangeError('a shard has no logits but the run asks is');
    const splitSize = this.options.splitSize ?? IS_SPLIT_SIZE;
    let row = 0;
    while (row < n) {
      const take = Math.min(n - row, splitSize - this.splitRows);
      this.split.push(batch.logits.subarray(row * logitDim, (row + take) * logitDim));
      this.splitRows += take;
      row += take;
      if (this.splitRows === splitSize) this.scoreSplit();
    }
  }

  private scoreSplit(): void {
    if (this.splitRows === 0) return;
    const logitDim = this.dims.logitDim as number;
    const logits = new Float32Array(this.splitRows * logitDim);
    let offset = 0;
    for (const part of this.split) {
      logits.set(part, offset);
      offset += part.length;
    }
    const probs = softmaxRows(logits, logitDim);
    this.splitScores.push(inceptionScore(probs, logitDim, this.splitRows).mean);
    this.split = [];
    this.splitRows = 0;
  }

  /** Every statistic the run asked for; the reference is needed by fid, sfid and pr. */
  finish(reference?: EvaluationReference): EvaluationResult {
    const { result, distances } = this.collect(reference);
    for (const [key, a, b] of distances) result[key] = frechetDistance(a, b);
    return result;
  }

  /** finish, with the Fréchet distances on the accumulator's frechetKernel. */
  async finishAsync(reference?: EvaluationReference): Promise<EvaluationResult> {
    const { result, distances } = this.collect(reference);
    const kernel = this.options.frechetKernel;
    for (const [key, a, b] of distances) result[key] = kernel ? await frechetDistanceWith(kernel, a, b) : frechetDistance(a, b);
    return result;
  }

  /** Every statistic but the Fréchet distances, which are returned as the pairs to compare. */
  private collect(reference?: EvaluationReference): {
    result: EvaluationResult;
    distances: Array<['fid' | 'sfid', GaussianStats, GaussianStats]>;
  } {
    const distances: Array<['fid' | 'sfid', GaussianStats, GaussianStats]> = [];
    const { featureDim } = this.dims;
    const stats = momentsToStats(this.moments);
    const sampleFeatures = new Float32Array(this.prCount * featureDim);
    let offset = 0;
    for (const part of this.prRows) {
      sampleFeatures.set(part, offset);
      offset += part.length;
    }
    const result: EvaluationResult = { samples: this.count, stats, sampleFeatures };
    const needReference = (kind: string) => {
      if (!reference) throw new RangeError(`${kind} needs reference statistics`);
      return reference;
    };
    if (this.spatialMoments) result.spatialStats = momentsToStats(this.spatialMoments);
    if (this.kinds.includes('fid')) distances.push(['fid', stats, needReference('fid')]);
    if (this.kinds.includes('sfid')) {
      const ref = needReference('sfid');
      if (!ref.spatial) throw new RangeError('sfid needs a reference with spatial statistics (mu_s, sigma_s)');
      distances.push(['sfid', result.spatialStats as GaussianStats, ref.spatial]);
    }
    if (this.kinds.includes('is')) {
      this.scoreSplit();
      const scores = this.splitScores;
      const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
      const std = Math.sqrt(scores.reduce((a, s) => a + (s - mean) ** 2, 0) / scores.length);
      result.inceptionScore = { mean, std, splits: scores.length, splitSize: this.options.splitSize ?? IS_SPLIT_SIZE };
    }
    if (this.kinds.includes('pr')) {
      const ref = needReference('pr');
      if (!ref.features) throw new RangeError('pr needs a reference with feature rows ("features" in its stats npz)');
      const cap = this.options.prCap ?? PR_SAMPLE_CAP;
      const refRows = Math.min(cap, ref.features.length / featureDim);
      const real = ref.features.subarray(0, refRows * featureDim);
      const pr = precisionRecall(real, sampleFeatures, featureDim, PR_K);
      result.precisionRecall = { ...pr, k: PR_K, samples: this.prCount, referenceSamples: refRows };
    }
    if (this.kinds.includes('accuracy')) {
      let right = 0;
      let total = 0;
      const perClass: Record<string, number> = {};
      for (const [label, c] of [...this.correct].sort((a, b) => a[0] - b[0])) {
        right += c.right;
        total += c.total;
        perClass[label] = c.right / c.total;
      }
      result.accuracy = { accuracy: total > 0 ? right / total : 0, samples: total, perClass };
    }
    return { result, distances };
  }
}
