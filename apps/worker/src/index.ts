export * from './finalize-job.ts';
export * from './metrics.ts';
export * from './model-runtime.ts';
export * from './run-context.ts';
export * from './shard-job.ts';
export * from './shard-output.ts';
export * from './shard-sampler.ts';
export * from './worker.ts';
