export * from './checkpoint-dir.ts';
export * from './cli.ts';
export * from './mnist-data.ts';
export * from './mnist-model.ts';
export * from './sample-sheet.ts';
export * from './train-flags.ts';
export * from './train-run.ts';
export * from './usage-error.ts';
