/**
 * The evaluation statistics without tfjs (`@diffq/diffusion/statistics`): what `diffq status` needs
 * for a live FID, and the finalizer for a run's statistics, without loading TensorFlow.js.
 */
export * from './evaluation/feature-accumulator.ts';
export * from './stats/frechet.ts';
export * from './stats/inception-score.ts';
export * from './stats/moment-kernel.ts';
export * from './stats/moments.ts';
export * from './stats/precision-recall.ts';
