export * from './grid.ts';
export * from './npz.ts';
export * from './npz-stream.ts';
export * from './png.ts';
export * from './stats-file.ts';
export * from './stats-npz.ts';
