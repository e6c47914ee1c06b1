export * from './ddim.ts';
export * from './ddpm.ts';
export * from './generate.ts';
export * from './guidance.ts';
export * from './guided-output.ts';
export * from './loop.ts';
export * from './to-uint8.ts';
