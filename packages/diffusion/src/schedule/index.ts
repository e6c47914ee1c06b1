export * from './beta-schedule.ts';
export * from './diffusion-config.ts';
export * from './diffusion-process.ts';
export * from './process-arrays.ts';
export * from './respacing.ts';
