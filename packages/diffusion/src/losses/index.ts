export * from './discretized-gaussian.ts';
export * from './normal-kl.ts';
export * from './stop-gradient.ts';
export * from './training-loss.ts';
export * from './vb-terms.ts';
