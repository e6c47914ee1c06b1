export * from './bench-model.ts';
export * from './model-engine.ts';
export * from './onnx-engine.ts';
export * from './onnx-graph.ts';
export * from './open-engine.ts';
export * from './unet-graph.ts';
