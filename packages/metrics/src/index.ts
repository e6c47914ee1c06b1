/**
 * The evaluation statistics without tfjs (`@diffq/metrics`): what `diffq status` needs
 * for a live FID, and the finalizer for a run's statistics, without loading TensorFlow.js.
 */
export * from './feature-accumulator.ts';
export * from './feature-rows.ts';
export * from './frechet.ts';
export * from './inception-score.ts';
export * from './kernel-inception-distance.ts';
export * from './moment-kernel.ts';
export * from './moments.ts';
export * from './pairwise-kernel.ts';
export * from './precision-recall.ts';
