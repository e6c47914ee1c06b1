/**
 * `<runId>/report.json`: what the finalizer writes once every shard is stored, and what
 * `diffq report` reads back.
 */
import type { RunSpec } from './run-spec.ts';
import type { SamplingPrecision } from './shard-meta.ts';

export const REPORT_FORMAT = 'diffq-report/1';

export interface RunReport {
  format: typeof REPORT_FORMAT;
  runId: string;
  model: RunSpec['model'];
  sampler: RunSpec['sampler'];
  guidance: RunSpec['guidance'];
  labels: RunSpec['labels'];
  seeds: string;
  /** npz, png or both. */
  output: RunSpec['format'];
  counts: { shards: number; samples: number; seeds: number };
  timings: {
    launchedAt: string;
    firstShardStartedAt: string;
    lastShardFinishedAt: string;
    /** From the first shard's start to the last shard's end. */
    wallSeconds: number;
    /** Samples per wall second over the whole run. */
    samplesPerSecond: number;
    /** Sums over shards of each phase (sample, encode, write…), in seconds. */
    phaseSeconds: Record<string, number>;
  };
  workers: Record<string, { shards: number; samples: number; sampleSeconds: number }>;
  /** The shards' engine descriptions; an onnx provider that fell back says why in parentheses. */
  engines: string[];
  /**
   * What ran the denoiser's forward passes (the shards' `providers.denoiser`): an onnx provider
   * actually used (cpu, cuda, webgpu; a fallback's, not the one asked for) or a tfjs backend.
   */
  providers: string[];
  /** What ran a latent model's decoder, the same way; empty for a pixel model. */
  decoderProviders: string[];
  /**
   * What ran the feature network of the shards' statistics, the same way; empty when the run has no
   * statistics (or its shards were written before diffq recorded it).
   */
  featureProviders: string[];
  /** What the shards were computed in; one value, since a run keeps one precision (docs/design.md#one-precision-per-run). */
  precisions: SamplingPrecision[];
  /** What a latent model's decoder computed in (the shards' `decoderPrecision`); empty for a pixel model. */
  decoderPrecisions: SamplingPrecision[];
  /** Samples per class, for class-conditional runs. */
  labelCounts: Record<string, number> | null;
  /** The evaluation statistics the run asked for (docs/evaluation-runs.md); null when it asked none. */
  statistics: RunStatistics | null;
  finalizedAt: string;
}

/** What the finalizer computed from the shards' features. Only the statistics asked for are present. */
export interface RunStatistics {
  featureNetwork: { uri: string; digest: string; architecture: string; featureDim: number; preprocess: string };
  /**
   * The stats npz compared against, or null (IS and accuracy need none), with the preprocessing it
   * records (null: the file does not say, as pytorch-fid's and guided-diffusion's files do not).
   */
  reference: { uri: string; digest: string; preprocess?: string | null } | null;
  /**
   * When the reference is a batch of images (arr_0, as guided-diffusion's reference batches):
   * its feature rows for precision/recall and KID, `computed` by this finalizer or read from the
   * store's `cache` (uri) where an earlier run left them.
   */
  referenceFeatures?: { rows: number; from: 'computed' | 'cache'; uri: string };
  /** What the numbers must be read with, e.g. a reference made with other preprocessing than the run's features. */
  warnings?: string[];
  /** Samples whose features were used (every sample of the run). */
  samples: number;
  /** The Fréchet distance of the features when the feature network is an Inception (or any network but DINOv2). */
  fid?: number;
  /**
   * The same distance when the feature network is DINOv2 ViT-L/14 (`dinov2-vit-l14`): FD_DINOv2, named
   * as edm2 names it, so a DINOv2 distance is never read as an FID (frechetMetricName).
   */
  fd_dinov2?: number;
  /** The same distance (FID or FD_DINOv2) of the training data against the reference: what a perfect model of the training set would score. */
  floor?: { fid: number; uri: string; digest: string };
  sfid?: number;
  /** Mean and population std over consecutive splits of splitSize samples in seed order, as guided-diffusion's evaluator. */
  inceptionScore?: { mean: number; std: number; splits: number; splitSize: number };
  /** k-NN manifolds (k = 3) of all `samples` generated features and all `referenceSamples` reference features, as guided-diffusion's evaluator. */
  precisionRecall?: { precision: number; recall: number; k: number; samples: number; referenceSamples: number };
  /** Kernel Inception Distance: mean and population std of the unbiased MMD² over `subsets` subsets of `subsetSize` rows of each set. */
  kid?: { mean: number; std: number; subsets: number; subsetSize: number };
  /** argmax of the feature network's logits equals the requested class; perClass is that rate per class. */
  accuracy?: { accuracy: number; samples: number; perClass: Record<string, number> };
  /** Seconds the finalizer spent reading features and computing the statistics. */
  seconds: number;
}

/** The name a Fréchet distance of this feature network's features goes by: edm2's `fd_dinov2` for DINOv2, else `fid`. */
export function frechetMetricName(architecture: string): 'fid' | 'fd_dinov2' {
  return architecture === 'dinov2-vit-l14' ? 'fd_dinov2' : 'fid';
}
