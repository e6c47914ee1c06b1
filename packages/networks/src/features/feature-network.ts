/**
 * What the evaluation statistics need of a feature network (FID, sFID, IS, precision/recall, class
 * accuracy): images in, feature vectors out. Engines (onnx, tfjs) implement it; the statistics never
 * see a backend or a layout. Images arrive exactly as the shards store them: uint8, NHWC.
 */

/** A feature network's outputs for N images, each row depending only on its image. */
export interface FeatureOutputs {
  /** [N, featureDim]: the vector whose moments give FID and whose neighbourhoods give precision/recall (pool3 for Inception). */
  features: Float32Array;
  /** [N, logitDim]: class logits (Inception Score, class accuracy); absent when the network has none. */
  logits?: Float32Array;
  /** [N, spatialDim]: spatial features for sFID; absent when the network has none. */
  spatial?: Float32Array;
}

export interface FeatureNetworkInfo {
  /** model.json's architecture, e.g. `fid-inception-v3`, `mnist-classifier`. */
  architecture: string;
  featureDim: number;
  logitDim: number | null;
  spatialDim: number | null;
  /** Image channels the network accepts (a 3-channel network replicates grey images, as pytorch-fid's RGB conversion does). */
  channels: readonly number[];
  /** The image size it requires, or null when it resizes any size itself. */
  imageSize: number | null;
  /** The preprocessing in force, e.g. `pytorch-fid`, `tf1`, or `none`. */
  preprocess: string;
  /** Classes its logits stand for, when logit k means class k of the sampled model (class accuracy); else null. */
  numClasses: number | null;
}

export interface FeatureNetwork {
  readonly info: FeatureNetworkInfo;
  /** Human-readable: engine and backend or execution provider in use. */
  readonly description: string;
  /**
   * What runs it: the onnx execution provider that loaded (a fallback's, not the one asked for) or the
   * tfjs backend, as a denoiser engine names them (DenoiserEngine.provider); shards and report.json record it.
   */
  readonly provider: string;
  /** images: uint8 [N, H, W, C] (NHWC). Resolves to every output the network has. */
  extract(images: Uint8Array, shape: readonly [number, number, number, number]): Promise<FeatureOutputs>;
  dispose(): void;
}
