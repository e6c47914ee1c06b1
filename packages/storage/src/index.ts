export * from './file-store.ts';
export * from './object-store.ts';
export * from './open-store.ts';
export * from './run-objects.ts';
export * from './s3-store.ts';
export * from './store-error.ts';
export * from './store-key.ts';
