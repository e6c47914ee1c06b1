/**
 * Statistics npz files: the Gaussian fitted to a feature set, as pytorch-fid writes and reads them
 * (`np.savez(path, mu=mu, sigma=sigma)`, float64) and as guided-diffusion's evaluator keeps them beside
 * its reference batches (`mu`, `sigma`, and `mu_s`, `sigma_s` of the spatial features for sFID; the
 * batch's images as `arr_0`, which a stats reader ignores). diffq writes the same keys, so a run's
 * `stats.npz` is a reference for pytorch-fid, the evaluator and another diffq run alike.
 *
 * diffq also records the preprocessing the features were computed with (`preprocess`: the mode's
 * name as ASCII bytes, uint8 [n], read in numpy as `bytes(f["preprocess"]).decode()`), because two
 * statistics are comparable only when the images were resized and scaled the same way; files
 * written elsewhere (pytorch-fid, the ADM reference batches) have none, and their mode is unknown.
 */
import { decodeNpz, encodeNpz, type NpyArray, npyArray } from './npz.ts';

/** One Gaussian: μ [d] and Σ [d, d] row-major (np.cov, ddof = 1). */
export interface GaussianFile {
  mu: Float64Array;
  sigma: Float64Array;
}

export interface StatsNpz extends GaussianFile {
  /** The Gaussian of the spatial features (sFID), as `mu_s`/`sigma_s`. */
  spatial?: GaussianFile;
  /** float32 feature rows [m, d] (`features`), kept when precision/recall may be computed against the file. */
  features?: Float32Array;
  /** The preprocessing mode the features were computed with (`tf1`, `pytorch-fid`, `none`…); undefined when the file does not say. */
  preprocess?: string;
}

/** The npz members a statistics file may hold; anything else (`arr_0`, a reference batch's images) is not statistics. */
export const STATS_MEMBERS = ['mu', 'sigma', 'mu_s', 'sigma_s', 'features', 'preprocess'] as const;

/** A preprocessing mode's name: what `preprocess` may hold. */
const PREPROCESS_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export class StatsFileError extends Error {}

export function encodeStatsNpz(stats: StatsNpz): Uint8Array {
  const d = stats.mu.length;
  checkGaussian(stats, 'mu', 'sigma', 'statistics to write');
  const arrays: Record<string, NpyArray> = { mu: npyArray(stats.mu, [d]), sigma: npyArray(stats.sigma, [d, d]) };
  if (stats.spatial) {
    checkGaussian(stats.spatial, 'mu_s', 'sigma_s', 'statistics to write');
    const s = stats.spatial.mu.length;
    arrays.mu_s = npyArray(stats.spatial.mu, [s]);
    arrays.sigma_s = npyArray(stats.spatial.sigma, [s, s]);
  }
  if (stats.features) {
    if (stats.features.length % d !== 0) {
      throw new StatsFileError(`statistics to write: features hold ${stats.features.length} values, not whole rows of ${d}`);
    }
    arrays.features = npyArray(stats.features, [stats.features.length / d, d]);
  }
  if (stats.preprocess !== undefined) {
    if (!PREPROCESS_NAME.test(stats.preprocess)) {
      throw new StatsFileError(
        `statistics to write: preprocess is ${JSON.stringify(stats.preprocess)}; accepted: a mode name such as "tf1"`,
      );
    }
    arrays.preprocess = npyArray(Uint8Array.from(Buffer.from(stats.preprocess, 'ascii')), [stats.preprocess.length]);
  }
  return encodeNpz(arrays);
}

/** Whether an npz holds statistics (`mu` and `sigma`) rather than only images or features. */
export function isStatsNpz(npz: Record<string, NpyArray>): boolean {
  return 'mu' in npz && 'sigma' in npz;
}

export interface DecodeStatsOptions {
  /** The feature dimension the statistics must have (the feature network's), when known. */
  dim?: number;
  /** The spatial (sFID) dimension `mu_s` must have, when known. */
  spatialDim?: number;
}

/**
 * Reads the statistics of an npz (its bytes, or its already decoded arrays); `where` names the file
 * in every error. Refuses a missing key, wrong shapes, non-finite values and a dimension other than
 * options.dim, naming the file and the field.
 */
export function decodeStatsNpz(source: Uint8Array | Record<string, NpyArray>, where: string, options: DecodeStatsOptions = {}): StatsNpz {
  const npz = source instanceof Uint8Array ? decodeNpz(source, { source: where }) : source;
  if (!isStatsNpz(npz)) {
    throw new StatsFileError(
      `${where}: a statistics npz holds "mu" [d] and "sigma" [d, d] (as pytorch-fid writes them); this one holds ${Object.keys(npz).join(', ') || 'nothing'}`,
    );
  }
  const main = readGaussian(npz, 'mu', 'sigma', where, options.dim);
  const out: StatsNpz = main;
  if ('mu_s' in npz || 'sigma_s' in npz) out.spatial = readGaussian(npz, 'mu_s', 'sigma_s', where, options.spatialDim);
  const features = npz.features;
  if (features) {
    const d = main.mu.length;
    if (features.shape.length !== 2 || features.shape[1] !== d) {
      throw new StatsFileError(`${where}: "features" must be [m, ${d}] like "mu"; it is [${features.shape.join(', ')}]`);
    }
    out.features = features.data instanceof Float32Array ? features.data : Float32Array.from(numbers(features, 'features', where));
    checkFinite(out.features, 'features', where);
  }
  if (npz.preprocess) out.preprocess = readPreprocess(npz.preprocess, where);
  return out;
}

function readPreprocess(array: NpyArray, where: string): string {
  const name = array.dtype === 'uint8' && array.shape.length === 1 ? Buffer.from(array.data as Uint8Array).toString('latin1') : '';
  if (!PREPROCESS_NAME.test(name)) {
    throw new StatsFileError(
      `${where}: "preprocess" must be a mode name as ASCII bytes (uint8 [n]), e.g. "tf1"; it is ${array.dtype} [${array.shape.join(', ')}]${name ? ` "${name}"` : ''}`,
    );
  }
  return name;
}

function numbers(array: NpyArray, field: string, where: string): ArrayLike<number> {
  if (array.dtype === 'int64') throw new StatsFileError(`${where}: "${field}" is int64; accepted: float64 or float32`);
  return array.data as ArrayLike<number>;
}

function readGaussian(npz: Record<string, NpyArray>, muName: string, sigmaName: string, where: string, dim?: number): GaussianFile {
  const mu = npz[muName];
  const sigma = npz[sigmaName];
  if (!mu || !sigma)
    throw new StatsFileError(`${where}: "${muName}" and "${sigmaName}" come together; only "${mu ? muName : sigmaName}" is there`);
  if (mu.shape.length !== 1) throw new StatsFileError(`${where}: "${muName}" must be a vector [d]; it is [${mu.shape.join(', ')}]`);
  const d = mu.shape[0];
  if (sigma.shape.length !== 2 || sigma.shape[0] !== sigma.shape[1]) {
    throw new StatsFileError(`${where}: "${sigmaName}" must be a square matrix [d, d]; it is [${sigma.shape.join(', ')}]`);
  }
  if (sigma.shape[0] !== d) {
    throw new StatsFileError(`${where}: "${sigmaName}" is [${sigma.shape.join(', ')}] but "${muName}" has d = ${d}; they must match`);
  }
  if (dim !== undefined && d !== dim) {
    throw new StatsFileError(
      `${where}: "${muName}" has dimension ${d}, the feature network gives ${dim}; use statistics of the same feature network`,
    );
  }
  const gaussian = {
    mu: mu.data instanceof Float64Array ? mu.data : Float64Array.from(numbers(mu, muName, where)),
    sigma: sigma.data instanceof Float64Array ? sigma.data : Float64Array.from(numbers(sigma, sigmaName, where)),
  };
  checkFinite(gaussian.mu, muName, where);
  checkFinite(gaussian.sigma, sigmaName, where);
  return gaussian;
}

function checkGaussian(g: GaussianFile, muName: string, sigmaName: string, where: string): void {
  const d = g.mu.length;
  if (d < 1 || g.sigma.length !== d * d) {
    throw new StatsFileError(`${where}: "${sigmaName}" holds ${g.sigma.length} values; "${muName}" has d = ${d}, so it needs ${d * d}`);
  }
  checkFinite(g.mu, muName, where);
  checkFinite(g.sigma, sigmaName, where);
}

function checkFinite(values: ArrayLike<number>, field: string, where: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]))
      throw new StatsFileError(`${where}: "${field}" holds ${values[i]} at flat index ${i}; statistics must be finite`);
  }
}

/**
 * The warning due when statistics `what` (recorded mode `recorded`, undefined when the file does not
 * say) meet features computed with `mode`; undefined when the modes match. A mismatch moves FID by
 * whole points (TF1's resize against PyTorch's), so it is said every time, never silently passed.
 */
export function preprocessWarning(what: string, recorded: string | undefined, mode: string): string | undefined {
  if (recorded === mode) return undefined;
  if (recorded === undefined) {
    return `${what} does not record its preprocessing; this side uses "${mode}" — the numbers are comparable only if it was made the same way (guided-diffusion's reference batches: tf1; pytorch-fid's: pytorch-fid)`;
  }
  return `${what} was computed with preprocessing "${recorded}"; this side uses "${mode}" — the numbers are not comparable (recompute one side with --preprocess ${recorded})`;
}
