/**
 * Inception Score (Salimans et al. 2016) from classifier logits, as guided-diffusion's evaluator
 * computes it (improved-gan's convention): the rows are cut into consecutive splits of `splitSize`
 * (the last one may be shorter and counts like the others), and each split scores
 *   IS = exp( mean_rows Σ_k p_k·(log p_k − log p̄_k) ),  p̄ = mean of the split's rows of p,
 * i.e. exp of the mean KL(p(y|x) ‖ p(y)). The score is the mean over splits; the population standard
 * deviation (ddof = 0) is what improved-gan printed beside it.
 */

export interface InceptionScore {
  /** One score per split, [⌈N / splitSize⌉]. */
  splitScores: Float64Array;
  /** Mean of splitScores: what the evaluator reports. */
  mean: number;
  /** Population standard deviation of splitScores. */
  std: number;
}

/** Row-wise softmax of logits [n, k] in float64, max-subtracted so that no exp overflows. */
export function softmaxRows(logits: ArrayLike<number>, k: number): Float64Array {
  if (!Number.isInteger(k) || k < 1 || logits.length % k !== 0) {
    throw new RangeError(`logits hold ${logits.length} values, not a whole number of rows of ${k} classes`);
  }
  const probs = new Float64Array(logits.length);
  for (let row = 0; row < logits.length; row += k) {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[row + j]);
    let total = 0;
    for (let j = 0; j < k; j++) {
      probs[row + j] = Math.exp(logits[row + j] - max);
      total += probs[row + j];
    }
    for (let j = 0; j < k; j++) probs[row + j] /= total;
  }
  return probs;
}

/**
 * The Inception Score of class probabilities probs [n, k] (rows sum to 1). A probability of exactly 0
 * adds 0 (the limit of p·log p), where the reference's numpy would give NaN.
 */
export function inceptionScore(probs: ArrayLike<number>, k: number, splitSize = 5000): InceptionScore {
  if (!Number.isInteger(splitSize) || splitSize < 1) throw new RangeError(`split size is ${splitSize}; accepted: an integer ≥ 1`);
  if (!Number.isInteger(k) || k < 1 || probs.length % k !== 0 || probs.length === 0) {
    throw new RangeError(`probabilities hold ${probs.length} values; accepted: a non-empty whole number of rows of ${k} classes`);
  }
  const n = probs.length / k;
  const scores: number[] = [];
  const marginal = new Float64Array(k);
  for (let start = 0; start < n; start += splitSize) {
    const end = Math.min(n, start + splitSize);
    const rows = end - start;
    marginal.fill(0);
    for (let i = start; i < end; i++) for (let j = 0; j < k; j++) marginal[j] += probs[i * k + j];
    for (let j = 0; j < k; j++) marginal[j] /= rows;
    let klSum = 0;
    for (let i = start; i < end; i++) {
      let kl = 0;
      for (let j = 0; j < k; j++) {
        const p = probs[i * k + j];
        if (p > 0) kl += p * (Math.log(p) - Math.log(marginal[j]));
      }
      klSum += kl;
    }
    scores.push(Math.exp(klSum / rows));
  }
  const splitScores = Float64Array.from(scores);
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  const std = Math.sqrt(scores.reduce((a, s) => a + (s - mean) ** 2, 0) / scores.length);
  return { splitScores, mean, std };
}
