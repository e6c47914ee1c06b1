#!/usr/bin/env node
// diffq runs from its bundle (npm run build:cli) while that is fresh, else from its TypeScript
// sources through tsx, as every diffq package does. DIFFQ_FROM_SOURCE=1 always takes the sources.
import { freshBuild } from './fresh-build.js';

const bundle = process.env.DIFFQ_FROM_SOURCE === '1' ? undefined : freshBuild(new URL('../dist/', import.meta.url));
let main;
if (bundle) {
  ({ main } = await import(bundle));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli.ts'));
}
process.exitCode = await main(process.argv.slice(2));
