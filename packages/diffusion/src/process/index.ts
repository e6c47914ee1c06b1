export * from './extract.ts';
export * from './forward.ts';
export * from './p-mean-variance.ts';
export * from './posterior.ts';
export * from './predictions.ts';
