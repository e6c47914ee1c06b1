export * from './mnist.ts';
