export * from './checkpoint-dir.ts';
export * from './classifier-flags.ts';
export * from './classifier-run.ts';
export * from './cli.ts';
export * from './mnist-model.ts';
export * from './sample-sheet.ts';
export * from './train-flags.ts';
export * from './train-run.ts';
