/**
 * The statistics of a run from its shards' features, fed shard by shard in seed order
 * (docs/evaluation-runs.md). What grows with the run is kept as mergeable raw moments (FID, sFID:
 * exact, order-free float64 sums); the Inception Score is scored split by split as the rows go by;
 * precision/recall and KID keep every feature row (float32, in chunks: 400 MB for 50,000 × 2048) and
 * run their pairwise products in row batches on the pairwise kernel at the end.
 */
import { FeatureRows } from './feature-rows.ts';
import { type FrechetKernel, frechetDistance, frechetDistanceWith, type GaussianStats } from './frechet.ts';
import { inceptionScore, softmaxRows } from './inception-score.ts';
import { type KernelDistance, kernelInceptionDistance, kidSubsets } from './kernel-inception-distance.ts';
import { javascriptMomentKernel, type MomentKernel } from './moment-kernel.ts';
import { accumulateMoments, emptyMoments, type Moments, momentsToStats } from './moments.ts';
import { javascriptPairwiseKernel, type PairwiseKernel } from './pairwise-kernel.ts';
import { precisionRecall } from './precision-recall.ts';

/** Samples per Inception Score split, as guided-diffusion's evaluator (and improved-gan) use. */
export const IS_SPLIT_SIZE = 5000;
/**
 * Feature rows a stats file keeps to serve as a precision/recall or KID reference: as many as the
 * evaluator's reference batches hold (10,000 images). A run's own precision/recall uses all its rows.
 */
export const REFERENCE_FEATURE_ROWS = 10_000;
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
  /** The first ≤ REFERENCE_FEATURE_ROWS feature rows, for the run's stats.npz (so it can be a precision/recall reference). */
  sampleFeatures: Float32Array;
  fid?: number;
  sfid?: number;
  inceptionScore?: { mean: number; std: number; splits: number; splitSize: number };
  precisionRecall?: { precision: number; recall: number; k: number; samples: number; referenceSamples: number };
  accuracy?: { accuracy: number; samples: number; perClass: Record<string, number> };
  kid?: KernelDistance;
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
  private readonly rows: FeatureRows;
  private readonly correct = new Map<number, { right: number; total: number }>();

  constructor(
    /** The run's statistics (the contract's STATISTIC_KINDS): fid, sfid, is, pr, accuracy. */
    readonly kinds: readonly string[],
    readonly dims: AccumulatorDims,
    private readonly options: {
      splitSize?: number;
      /** Runs the distance and product blocks of precision/recall and KID (packages/onnx's openPairwiseKernel is the fast one); default JavaScript. */
      pairwiseKernel?: PairwiseKernel;
      /** KID's subsets (torch-fidelity's defaults when absent). */
      kid?: { subsets?: number; subsetSize?: number; seed?: number };
      /** Runs Σx·xᵀ for addBatch (packages/onnx's openMomentKernel is the fast one); default JavaScript. */
      momentKernel?: MomentKernel;
      /** Runs the Fréchet distances' big product for finishAsync; default JavaScript. */
      frechetKernel?: FrechetKernel;
    } = {},
  ) {
    this.moments = emptyMoments(dims.featureDim);
    this.rows = new FeatureRows(dims.featureDim);
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
    const keepAll = this.kinds.includes('pr') || this.kinds.includes('kid');
    const take = keepAll ? n : Math.min(n, REFERENCE_FEATURE_ROWS - this.rows.count);
    if (take > 0) this.rows.append(batch.features.subarray(0, take * featureDim));
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

  /**
   * Every statistic the run asked for; the reference is needed by fid, sfid, pr and kid. The Fréchet
   * distances run on the accumulator's frechetKernel, precision/recall and KID on its pairwiseKernel.
   */
  async finish(reference?: EvaluationReference): Promise<EvaluationResult> {
    const { featureDim } = this.dims;
    const stats = momentsToStats(this.moments);
    const sampleFeatures = this.rows.slice(0, Math.min(this.rows.count, REFERENCE_FEATURE_ROWS)).slice();
    const result: EvaluationResult = { samples: this.count, stats, sampleFeatures };
    const needReference = (kind: string) => {
      if (!reference) throw new RangeError(`${kind} needs reference statistics`);
      return reference;
    };
    const needReferenceRows = (kind: string) => {
      const ref = needReference(kind);
      if (!ref.features)
        throw new RangeError(
          `${kind} needs a reference with feature rows ("features" in its stats npz, or the images of a reference batch)`,
        );
      return FeatureRows.of(ref.features, featureDim);
    };
    const distance = (a: GaussianStats, b: GaussianStats) => {
      const kernel = this.options.frechetKernel;
      return kernel ? frechetDistanceWith(kernel, a, b) : frechetDistance(a, b);
    };
    const pairwise = this.options.pairwiseKernel ?? javascriptPairwiseKernel;
    if (this.spatialMoments) result.spatialStats = momentsToStats(this.spatialMoments);
    if (this.kinds.includes('fid')) result.fid = await distance(stats, needReference('fid'));
    if (this.kinds.includes('sfid')) {
      const ref = needReference('sfid');
      if (!ref.spatial) throw new RangeError('sfid needs a reference with spatial statistics (mu_s, sigma_s)');
      result.sfid = await distance(result.spatialStats as GaussianStats, ref.spatial);
    }
    if (this.kinds.includes('is')) {
      this.scoreSplit();
      const scores = this.splitScores;
      const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
      const std = Math.sqrt(scores.reduce((a, s) => a + (s - mean) ** 2, 0) / scores.length);
      result.inceptionScore = { mean, std, splits: scores.length, splitSize: this.options.splitSize ?? IS_SPLIT_SIZE };
    }
    if (this.kinds.includes('pr')) {
      const real = needReferenceRows('pr');
      const pr = await precisionRecall(pairwise, real, this.rows, PR_K);
      result.precisionRecall = { ...pr, k: PR_K, samples: this.rows.count, referenceSamples: real.count };
    }
    if (this.kinds.includes('kid')) {
      const real = needReferenceRows('kid');
      result.kid = await kernelInceptionDistance(pairwise, this.rows, real, kidSubsets(this.rows.count, real.count, this.options.kid));
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
    return result;
  }
}
