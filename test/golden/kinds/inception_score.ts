/** inception_score: softmax of the logits, then the split-wise Inception Score. */
import { inceptionScore, softmaxRows } from '@diffq/metrics';
import type { KindRunner } from '../case.ts';

export const run: KindRunner = async (c) => {
  const logits = c.tensor('logits');
  const k = logits.shape[1];
  const { split_size: splitSize } = c.json.inception_score as { split_size: number };
  const probs = softmaxRows(Array.from(logits.data, Number), k);
  const score = inceptionScore(probs, k, splitSize);
  return { probs, split_scores: score.splitScores, is_mean: [score.mean], is_std: [score.std] };
};
