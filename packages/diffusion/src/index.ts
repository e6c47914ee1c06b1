export * from './backend.ts';
export * from './engine/engine.ts';
export * from './nn/config.ts';
export * from './rng/noise-source.ts';
export * from './validation.ts';
export * from './weights/safetensors.ts';
