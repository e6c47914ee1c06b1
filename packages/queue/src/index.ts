export * from './duration.ts';
export * from './metrics-server.ts';
export * from './model-id.ts';
export * from './queue-options.ts';
export * from './redis-connection.ts';
export * from './run-keys.ts';
export * from './settings.ts';
